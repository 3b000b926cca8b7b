"""Expiry: beans left of an award past its organization's validity go back
to the fund that paid them.

The rule (unchanged since issue 6): spending uses the oldest beans first,
so what remains of an award is its amount minus the part of all outflows
(spent, held, expired before) that older awards did not absorb. A reversed
award and its reversal cancel out: neither takes part. Awards made where
points is off still count in the oldest-first order but do not expire.

The job is set-based: wallets go in batches (keyset over user id), each
batch is one transaction of a few statements — lock the batch's wallets,
one grouped query for what each wallet has left to expire per (awarding
organization, paying fund), one ``ledger.post_batch``, one bulk audit
insert. The idempotency key names the wallet's outflow total when the
expiry was computed, so a rerun (after a crash or not) posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, insert, literal, select

from core import ledger, settings
from core.extensions import db
from core.models import AuditLog, Organization, User, utcnow
from core.plugins import orgs_where_enabled
from plugins.points.models import Award
from plugins.points.services.accounts import CURRENCY, org_account

BATCH = 1000  # wallets per transaction: a few statements each, short locks


def set_expiry(actor: User, org: Organization, months: int | None) -> None:
    """How long beans awarded in ``org``'s subtree stay valid (None: forever). Admins."""
    settings.put(actor, org, "points", {"expiry_months": months})


@dataclass(frozen=True)
class Progress:
    """One committed batch: its wallets, who lost beans, how many, the last user id."""

    wallets: int
    people: int
    beans: int
    last_user_id: int


def _wallets():
    acc = ledger.Account
    return (
        acc.namespace == "points",
        acc.owner_type == "user",
        acc.kind == "wallet",
        acc.currency == CURRENCY,
    )


_LIVE = (Award.status == "paid", Award.reversed_at.is_(None))


def _next_batch(after: int, now: datetime, size: int) -> list[int]:
    """The next ``size`` people (user id > ``after``) with an award past its date
    and beans left to spend (nothing else can expire). Whether points is on
    where the award was made is decided per row later: the switch is a
    correlated lookup per organization, too dear to repeat in every batch."""
    acc = ledger.Account
    return list(
        db.session.scalars(
            select(Award.user_id)
            .join(acc, and_(acc.owner_id == Award.user_id, *_wallets()))
            .where(
                *_LIVE,
                Award.expires_at <= now,
                Award.user_id > after,
                acc.owner_id > after,  # so a merge join starts the wallets at ``after`` too
                acc.balance - acc.held > 0,
            )
            .group_by(Award.user_id)
            .order_by(Award.user_id)
            .limit(size)
        )
    )


def _left_to_expire(account_ids: list[int], user_ids: list[int], now: datetime):
    """Rows (account id, user id, outflow, awarding org, fund org, fund account, beans)
    for what these wallets have left of awards past their date, in one statement.

    The outflow is what left the wallet other than by reversal: posted debits
    plus open holds, and the open holds are exactly the account's ``held``
    (a ledger invariant), so no per-transfer "is this hold still open" test.
    """
    acc, tr = ledger.Account, ledger.Transfer
    # Per wallet, by its (debit_account_id) index. As one grouped subquery over
    # the batch, PostgreSQL guessed from the funds (millions of debits each) that
    # a wallet has hundreds and scanned the whole ledger: 0.7 s a batch at full size.
    posted = (
        select(func.coalesce(func.sum(tr.amount), 0))
        .where(
            tr.debit_account_id == acc.id,
            tr.status == ledger.POSTED,
            tr.reverses_id.is_(None),
        )
        .correlate(acc)
        .scalar_subquery()
    )
    wallets = (
        select(
            acc.id.label("account_id"),
            acc.owner_id.label("user_id"),
            (acc.held + posted).label("out"),
        )
        .where(acc.id.in_(account_ids))
        .subquery("wallets")
    )
    # What older awards (oldest first) hold: the outflow eats them before this one.
    before = (
        func.sum(Award.amount).over(
            partition_by=Award.user_id, order_by=(Award.created_at, Award.id)
        )
        - Award.amount
    )
    live = (
        select(
            Award.user_id,
            Award.org_id,
            Award.fund_org_id,
            Award.amount,
            Award.expires_at,
            before.label("before"),
        )
        .where(*_LIVE, Award.user_id.in_(user_ids))
        .subquery("live")
    )
    free = wallets.c.out - live.c.before  # the outflow left over when this award's turn comes
    left = case(
        (free <= 0, live.c.amount), (free >= live.c.amount, literal(0)), else_=live.c.amount - free
    )
    per_award = (
        select(
            wallets.c.account_id,
            wallets.c.user_id,
            wallets.c.out,
            live.c.org_id,
            live.c.fund_org_id,
            left.label("beans"),
        )
        .join(wallets, wallets.c.user_id == live.c.user_id)
        .where(live.c.expires_at <= now)
        .subquery("per_award")
    )
    fund = ledger.Account.__table__.alias("fund")
    return db.session.execute(
        select(
            per_award.c.account_id,
            per_award.c.user_id,
            per_award.c.out,
            per_award.c.org_id,
            per_award.c.fund_org_id,
            fund.c.id.label("fund_account_id"),
            func.sum(per_award.c.beans).label("beans"),
        )
        .outerjoin(
            fund,
            and_(
                fund.c.namespace == "points",
                fund.c.owner_type == "org",
                fund.c.owner_id == per_award.c.fund_org_id,
                fund.c.currency == CURRENCY,
                fund.c.kind == "fund",
            ),
        )
        .where(per_award.c.beans > 0)
        .group_by(
            per_award.c.account_id,
            per_award.c.user_id,
            per_award.c.out,
            per_award.c.org_id,
            per_award.c.fund_org_id,
            fund.c.id,
        )
        .order_by(per_award.c.account_id, per_award.c.org_id, per_award.c.fund_org_id)
    ).all()


def expire_batch(user_ids: list[int], now: datetime, enabled: set[int] | None = None) -> dict:
    """Expire what these people have left past its date; {user id: beans}.

    Runs inside the caller's transaction (``ledger.atomic``). The wallets are
    locked first (ascending id, as ``ledger.lock`` does) so nobody spends
    between the sums and the posting. ``enabled``: organizations whose
    awards may expire (None: all); the others' beans still count oldest-first.
    """
    if not user_ids:
        return {}
    acc = ledger.Account
    account_ids = db.session.scalars(
        select(acc.id)
        .where(*_wallets(), acc.owner_id.in_(user_ids))
        .order_by(acc.id)
        .with_for_update()
    ).all()
    if not account_ids:
        return {}
    legs, expired = [], {}
    for row in _left_to_expire(list(account_ids), user_ids, now):
        if enabled is not None and row.org_id not in enabled:
            continue
        fund_id = row.fund_account_id or org_account(row.fund_org_id, "fund").id
        legs.append(
            ledger.Leg(
                debit_id=row.account_id,
                credit_id=fund_id,
                amount=int(row.beans),
                reason="金豆过期",
                cause=("points_expiry", row.org_id),
                # The same key as when each wallet expired alone: runs of either kind mix.
                key=f"points:expire:{row.account_id}:{int(row.out)}:{row.org_id}:{row.fund_org_id}",
            )
        )
        expired[row.user_id] = expired.get(row.user_id, 0) + int(row.beans)
    # Every key names the outflow seen under the lock, which each expiry raises:
    # a replay cannot happen here, so all legs post or none (the batch rolls back).
    if legs and ledger.post_batch(legs):
        db.session.execute(
            insert(AuditLog),
            [
                {"action": "points.expired", "details": {"user_id": uid, "amount": amount}}
                for uid, amount in expired.items()
            ],
        )
    return expired


def expire_wallet(user_id: int, now: datetime, enabled: set[int] | None = None) -> int:
    """Expire one person's beans past their date (in the caller's transaction)."""
    return expire_batch([user_id], now, enabled).get(user_id, 0)


def expire_all(
    now: datetime | None = None,
    *,
    batch: int = BATCH,
    progress: Callable[[Progress], None] | None = None,
) -> tuple[int, int]:
    """Expire beans everywhere points is on; return (people affected, beans expired).

    Each batch of wallets commits on its own: a crash loses at most the
    batch in hand, and a rerun finishes the job without expiring twice.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = now or utcnow()
    enabled = set(db.session.scalars(orgs_where_enabled("points")))
    people = beans = 0
    after = 0
    while user_ids := _next_batch(after, now, batch):
        expired = ledger.atomic(lambda ids=user_ids: expire_batch(ids, now, enabled))
        after = user_ids[-1]
        people += len(expired)
        beans += sum(expired.values())
        if progress:
            progress(Progress(len(user_ids), len(expired), sum(expired.values()), after))
    return people, beans
