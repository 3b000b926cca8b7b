"""金豆 accounts in the ledger (currency ``bean``, namespace ``points``):

- ``org``/``fund``: an organization's 金豆基金; awards are paid from it.
- ``org``/``donations``: where donated beans come from (may go negative:
  it records how much was ever donated).
- ``org``/``redeemed``: beans spent on the organization's rewards.
- ``user``/``wallet``: a person's 金豆账户, one per person wherever earned.
"""

from __future__ import annotations

from sqlalchemy import func, select

from core import ledger
from core.access import effective_role, require_role
from core.api import NotFound
from core.audit import audit
from core.extensions import db
from core.models import Membership, Organization, Role, User
from plugins.points.models import Deposit

CURRENCY = "bean"

# Levels above a community: their subtrees hold a large share of the district's
# people and awards, so reports, snapshots and "newest" lists take another path there.
WIDE_LEVELS = ("district", "subdistrict")


def org_account(org_id: int, kind: str, *, create: bool = True) -> ledger.Account | None:
    return ledger.account(
        "org",
        org_id,
        namespace="points",
        currency=CURRENCY,
        kind=kind,
        allow_negative=(kind == "donations"),
        create=create,
    )


def wallet_account(user_id: int, *, create: bool = True) -> ledger.Account | None:
    return ledger.account(
        "user", user_id, namespace="points", currency=CURRENCY, kind="wallet", create=create
    )


def wallet_summary(user: User) -> dict:
    """``balance`` is what may be spent now; ``held`` waits for approval."""
    acc = wallet_account(user.id, create=False)
    if acc is None:
        return {"balance": 0, "held": 0}
    return {"balance": acc.balance - acc.held, "held": acc.held}


def funding_org(org: Organization) -> Organization | None:
    """The organization whose fund pays for awards made in ``org``: itself or
    its nearest ancestor with a fund."""
    owner_ids = db.session.scalars(
        select(ledger.Account.owner_id).where(
            ledger.Account.namespace == "points",  # the unique index leads with it
            ledger.Account.owner_type == "org",
            ledger.Account.kind == "fund",
            ledger.Account.currency == CURRENCY,
            ledger.Account.owner_id.in_(org.ancestor_ids),
        )
    ).all()
    if not owner_ids:
        return None
    nearest = max(owner_ids, key=org.ancestor_ids.index)
    return db.session.get(Organization, nearest)


def fund_balance(org: Organization) -> int:
    acc = org_account(org.id, "fund", create=False)
    return acc.balance if acc else 0


def deposit(
    actor: User, org: Organization, *, amount: int, key: str, donor: str = "", note: str = ""
) -> Deposit:
    """An admin records a donation into the organization's fund. Idempotent by ``key``."""
    require_role(actor, org, Role.admin)

    def work():
        source, fund = org_account(org.id, "donations"), org_account(org.id, "fund")
        posted = ledger.transfer(
            source,
            fund,
            amount,
            reason=f"捐赠：{donor or '匿名'}",
            cause=("org", org.id),
            key=f"points:deposit:{actor.id}:{key}",
            actor_id=actor.id,
        )
        if posted.replayed:
            return db.session.scalar(select(Deposit).where(Deposit.transfer_id == posted.id))
        row = Deposit(
            org_id=org.id,
            amount=amount,
            donor=donor,
            note=note,
            transfer_id=posted.id,
            actor_id=actor.id,
        )
        db.session.add(row)
        db.session.flush()
        audit("points.deposit", actor=actor, org=org, obj=row, amount=amount, donor=donor)
        return row

    return ledger.atomic(work)


def member_by_phone(org: Organization, phone: str) -> User:
    """A person who belongs to ``org``'s subtree (or above it); 404 otherwise."""
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or not belongs_to(user, org):
        raise NotFound("该手机号不是本组织的成员", code="member_not_found")
    return user


def belongs_to(user: User, org: Organization) -> bool:
    if effective_role(user, org) is not None:
        return True
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Organization, Organization.id == Membership.org_id)
            .where(
                Membership.user_id == user.id,
                Organization.path.startswith(org.path, autoescape=True),
            )
        )
        > 0
    )


def history(user: User, *, before_id: int | None = None, limit: int = 50) -> list[dict]:
    """The wallet's lines, newest first: signed amount, reason, where from/to."""
    acc = wallet_account(user.id, create=False)
    if acc is None:
        return []
    stmt = ledger.transfers_of(acc.id)
    if before_id:
        stmt = stmt.where(ledger.Transfer.id < before_id)
    rows = db.session.scalars(stmt.order_by(ledger.Transfer.id.desc()).limit(limit)).all()
    others = {
        r.credit_account_id if r.debit_account_id == acc.id else r.debit_account_id for r in rows
    }
    names = counterpart_names(others)
    return [
        {
            "id": r.id,
            "amount": -r.amount if r.debit_account_id == acc.id else r.amount,
            "reason": r.reason,
            "at": r.created_at,
            "status": r.status,
            "counterpart": names.get(
                r.credit_account_id if r.debit_account_id == acc.id else r.debit_account_id, ""
            ),
        }
        for r in rows
    ]


KIND_TITLES = {"fund": "金豆基金", "redeemed": "兑换", "donations": "捐赠", "wallet": "金豆账户"}


def counterpart_names(account_ids) -> dict[int, str]:
    if not account_ids:
        return {}
    accounts = db.session.execute(
        select(
            ledger.Account.id,
            ledger.Account.owner_type,
            ledger.Account.owner_id,
            ledger.Account.kind,
        ).where(ledger.Account.id.in_(account_ids))
    ).all()
    org_names = dict(
        db.session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_([a.owner_id for a in accounts if a.owner_type == "org"])
            )
        ).all()
    )
    user_names = dict(
        db.session.execute(
            select(User.id, User.name).where(
                User.id.in_([a.owner_id for a in accounts if a.owner_type == "user"])
            )
        ).all()
    )
    return {
        a.id: (
            f"{org_names.get(a.owner_id, '')} {KIND_TITLES.get(a.kind, a.kind)}"
            if a.owner_type == "org"
            else user_names.get(a.owner_id, "")
        )
        for a in accounts
    }
