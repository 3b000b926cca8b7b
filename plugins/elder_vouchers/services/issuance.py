"""Monthly issuance (发放) and expiry (过期).

Issuance is set-based: the people still owed this month are one SELECT,
their wallets one INSERT ... SELECT, their issuance rows one INSERT ...
SELECT, and the money one ``ledger.post_batch``. The budget account is
locked first, so two issuances of a programme run one after the other and
the second finds everyone already issued (the unique key per person-month
and the ledger keys say so again). All or nothing: a budget short by one
fen issues nobody (409 ``budget_short``).

Expiry walks issuances oldest first, as 金豆 expiry walks awards: what
remains of an issuance is its amount minus the part of the wallet's
outflows (spent, held, lapsed before; less refunds) that older issuances
did not absorb. What remains of an expired issuance goes back to the budget.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, insert, literal, select

from core import ledger
from core.access import require_role
from core.api import BadRequest
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, Timestamp, User, utcnow
from core.plugins import orgs_where_enabled, require_enabled
from core.times import local_zone, month_bounds
from plugins.elder_vouchers.models import Enrolment, Issuance, Programme
from plugins.elder_vouchers.services.accounts import (
    PLUGIN,
    programme_account,
    wallet,
    wallets_for,
)


def expires_at(programme: Programme, month: date) -> datetime:
    """When a month's vouchers lapse: the end of that month, or of its year (local time)."""
    if programme.expiry == "year_end":
        return datetime(month.year + 1, 1, 1, tzinfo=local_zone())
    return month_bounds(month)[1]


def issue(actor: User | None, programme: Programme, month: date) -> dict:
    """Issue ``month``'s vouchers to everyone enrolled (admin, or a job with no actor).
    Idempotent per person-month; answers {month, issued, skipped, amount}."""
    org = db.session.get(Organization, programme.org_id)
    require_enabled(org, PLUGIN)
    if actor is not None:
        require_role(actor, org, Role.admin)
    if not date(2000, 1, 1) <= month <= date(2100, 12, 1):
        raise BadRequest("月份无效", fields={"month": ["应在 2000 年到 2100 年之间"]})
    return ledger.atomic(lambda: _issue(actor, programme, month))


def _issue(actor: User | None, programme: Programme, month: date) -> dict:
    budget = programme_account(programme.id, "budget")
    ledger.lock([budget.id])  # one issuance of a programme at a time
    enrolled = (Enrolment.programme_id == programme.id, Enrolment.active.is_(True))
    issued_before = (
        select(Issuance.id)
        .where(  # an anti-join: cheap at 100,000 people
            Issuance.programme_id == programme.id,
            Issuance.month == month,
            Issuance.user_id == Enrolment.user_id,
        )
        .exists()
    )
    owed = select(Enrolment.user_id).where(*enrolled, ~issued_before)
    total = db.session.scalar(select(func.count()).select_from(Enrolment).where(*enrolled))
    n = db.session.scalar(select(func.count()).select_from(owed.subquery()))
    amount = programme.monthly_amount
    result = {
        "month": month.strftime("%Y-%m"),
        "issued": n,
        "skipped": total - n,
        "amount": n * amount,
    }
    if n == 0:
        return result
    if ledger.spendable(budget.id) < n * amount:
        raise ledger.InsufficientFunds(
            f"预算不足：需要 {n * amount} 分，余额 {ledger.spendable(budget.id)} 分", "budget_short"
        )
    owed_q = owed.subquery()
    accounts = wallets_for(programme.id, owed_q)
    user_ids = sorted(accounts)
    db.session.execute(
        insert(Issuance).from_select(
            ["programme_id", "user_id", "month", "amount", "expires_at", "created_at"],
            select(
                literal(programme.id),
                owed_q.c.user_id,
                literal(month),
                literal(amount),
                literal(expires_at(programme, month), Timestamp),
                literal(utcnow(), Timestamp),
            ),
        )
    )
    reason = f"{programme.name} {month:%Y年%m月} 服务券"
    posted = ledger.post_batch(
        [
            ledger.Leg(
                budget.id,
                accounts[u],
                amount,
                reason,
                key=f"ev:issue:{programme.id}:{month:%Y-%m}:{u}",
                cause=("elder_vouchers_programme", programme.id),
            )
            for u in user_ids
        ],
        actor_id=actor.id if actor else None,
        short_message="预算不足",
        short_code="budget_short",
    )
    assert posted == n, (posted, n)
    audit(
        "elder_vouchers.issue",
        actor=actor,
        org=db.session.get(Organization, programme.org_id),
        obj=programme,
        month=result["month"],
        issued=n,
        amount=n * amount,
    )
    return result


def issue_all(month: date) -> list[tuple[Programme, dict | str]]:
    """The scheduler's job: every programme where the plugin is on. A short
    budget refuses that programme alone (reported), the others go on."""
    done = []
    for programme in db.session.scalars(
        select(Programme)
        .where(Programme.org_id.in_(orgs_where_enabled(PLUGIN)))
        .order_by(Programme.id)
    ):
        try:
            done.append((programme, issue(None, programme, month)))
        except ledger.InsufficientFunds as err:
            done.append((programme, err.message))
    return done


def expire_wallet(programme: Programme, user_id: int, now: datetime) -> int:
    """Return what is left of this person's expired issuances to the budget; the amount."""
    acc = wallet(programme.id, user_id, create=False)
    if acc is None:
        return 0
    ledger.lock([acc.id])
    T = ledger.Transfer
    out = db.session.scalar(
        select(func.coalesce(func.sum(T.amount), 0)).where(
            T.debit_account_id == acc.id, T.reverses_id.is_(None), ledger.in_effect()
        )
    )
    refunded = db.session.scalar(
        select(func.coalesce(func.sum(T.amount), 0)).where(
            T.credit_account_id == acc.id, T.reverses_id.is_not(None)
        )
    )
    remaining_out = int(out) - int(refunded)
    lapsed = 0
    for amount, expiry in db.session.execute(
        select(Issuance.amount, Issuance.expires_at)
        .where(Issuance.programme_id == programme.id, Issuance.user_id == user_id)
        .order_by(Issuance.month, Issuance.id)
    ).all():
        absorbed = min(max(remaining_out, 0), amount)
        remaining_out -= absorbed
        if expiry <= now:
            lapsed += amount - absorbed
    if lapsed:
        # No key: the wallet lock serialises runs and a rerun computes nothing left.
        ledger.transfer(
            acc.id,
            programme_account(programme.id, "budget"),
            lapsed,
            reason=f"{programme.name} 服务券过期",
            cause=("elder_vouchers_programme", programme.id),
        )
        audit("elder_vouchers.expired", actor=None, obj=programme, user_id=user_id, amount=lapsed)
    return lapsed


def expire_all(now: datetime) -> tuple[int, int]:
    """Lapse expired vouchers everywhere the plugin is on: (people, fen).
    Only wallets with something left are visited (found in SQL); each in its
    own short transaction, so the job is restartable and idempotent."""
    acc = ledger.Account
    candidates = db.session.execute(
        select(Issuance.programme_id, Issuance.user_id)
        .distinct()
        .join(Programme, Programme.id == Issuance.programme_id)
        .join(
            acc,
            (acc.owner_type == "user")
            & (acc.owner_id == Issuance.user_id)
            & (acc.kind == "wallet")
            & (acc.namespace == literal("vouchers:") + func.cast(Issuance.programme_id, db.String)),
        )
        .where(
            Issuance.expires_at <= now,
            acc.balance - acc.held > 0,
            Programme.org_id.in_(orgs_where_enabled(PLUGIN)),
        )
        .order_by(Issuance.programme_id, Issuance.user_id)
    ).all()
    people = fen = 0
    for programme_id, user_id in candidates:
        programme = db.session.get(Programme, programme_id)
        amount = ledger.atomic(lambda p=programme, u=user_id: expire_wallet(p, u, now))
        if amount:
            people += 1
            fen += amount
    return people, fen
