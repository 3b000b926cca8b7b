"""Monthly issuance (发放) and expiry (过期), set-based in keyset batches.

Issuance: the budget is checked once against everyone still owed (all or
nothing: short by one fen issues nobody, 409 ``budget_short``). Then, batch
by batch of people (by user id), in one short transaction each with the
budget locked: one INSERT ... SELECT of the issuance rows (the anti-join on
the unique person-month key skips who already has them), one INSERT ...
SELECT of missing wallets and one ``ledger.post_batch`` keyed per
person-month. A crash loses at most the batch in flight; a rerun skips who
was issued (the unique key and the ledger keys say so twice).

Expiry walks issuances oldest first, as 金豆 expiry walks awards: what
remains of an issuance is its amount minus the part of the wallet's
outflows (spent, held, lapsed before; less refunds) that older issuances
did not absorb. It is computed for a batch of wallets in one statement (a
running sum over the issuances), with those wallets locked, and what
remains of the expired ones goes back to the budget in one ``post_batch``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import case, func, literal, select

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
    CURRENCY,
    PLUGIN,
    among,
    insert_ignoring,
    namespace,
    programme_account,
    wallets_for,
)

BATCH = 10_000  # people per transaction: big enough to amortise, small enough to hold locks briefly

Progress = Callable[[int, int], None]


def expires_at(programme: Programme, month: date) -> datetime:
    """When a month's vouchers lapse: the end of that month, or of its year (local time)."""
    if programme.expiry == "year_end":
        return datetime(month.year + 1, 1, 1, tzinfo=local_zone())
    return month_bounds(month)[1]


def issue(
    actor: User | None,
    programme: Programme,
    month: date,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> dict:
    """Issue ``month``'s vouchers to everyone enrolled (admin, or a job with no actor).
    Idempotent per person-month; answers {month, issued, skipped, amount}.
    ``progress(done, owed)`` is called after each batch."""
    org = db.session.get(Organization, programme.org_id)
    require_enabled(org, PLUGIN)
    if actor is not None:
        require_role(actor, org, Role.admin)
    if not date(2000, 1, 1) <= month <= date(2100, 12, 1):
        raise BadRequest("月份无效", fields={"month": ["应在 2000 年到 2100 年之间"]})
    if batch < 1:
        raise ValueError("batch must be positive")
    total, owed = ledger.atomic(lambda: _check_budget(programme, month))
    issued, after = 0, 0
    while after is not None:
        n, after = ledger.atomic(lambda a=after: _issue_batch(actor, programme, month, a, batch))
        issued += n
        if n and progress:
            progress(issued, owed)
    if issued:
        ledger.atomic(
            lambda: audit(
                "elder_vouchers.issue",
                actor=actor,
                org=org,
                obj=programme,
                month=f"{month:%Y-%m}",
                issued=issued,
                amount=issued * programme.monthly_amount,
            )
        )
    return {
        "month": f"{month:%Y-%m}",
        "issued": issued,
        "skipped": total - issued,
        "amount": issued * programme.monthly_amount,
    }


def _enrolled(programme: Programme):
    return (Enrolment.programme_id == programme.id, Enrolment.active.is_(True))


def _not_issued(programme: Programme, month: date):
    return ~(
        select(Issuance.id)
        .where(  # an anti-join on the unique key (programme, month, person)
            Issuance.programme_id == programme.id,
            Issuance.month == month,
            Issuance.user_id == Enrolment.user_id,
        )
        .exists()
    )


def _check_budget(programme: Programme, month: date) -> tuple[int, int]:
    """(enrolled, still owed); 409 ``budget_short`` before anything is issued when
    the budget cannot cover everyone still owed (all or nothing, as API.md says)."""
    budget = programme_account(programme.id, "budget")
    ledger.lock([budget.id])
    total, owed = db.session.execute(
        select(
            func.count(), func.count(case((_not_issued(programme, month), Enrolment.user_id)))
        ).where(*_enrolled(programme))
    ).one()
    need = owed * programme.monthly_amount
    if ledger.spendable(budget.id) < need:
        raise ledger.InsufficientFunds(
            f"预算不足：需要 {need} 分，余额 {ledger.spendable(budget.id)} 分", "budget_short"
        )
    return total, owed


def _issue_batch(
    actor: User | None, programme: Programme, month: date, after: int, size: int
) -> tuple[int, int | None]:
    """The next ``size`` people owed (by user id after ``after``): their issuance
    rows (one INSERT ... SELECT), wallets (one INSERT ... SELECT) and money (one
    ``post_batch``). Answers (issued, the last user id, None when done)."""
    budget = programme_account(programme.id, "budget")
    ledger.lock([budget.id])  # one issuance of a programme at a time
    amount = programme.monthly_amount
    # The unique key (programme, month, person) makes a racing or repeated
    # batch insert nothing; RETURNING names exactly who this batch issued to.
    ids = list(
        db.session.scalars(
            insert_ignoring(Issuance.__table__)
            .from_select(
                ["programme_id", "user_id", "month", "amount", "expires_at", "created_at"],
                select(
                    literal(programme.id),
                    Enrolment.user_id,
                    literal(month),
                    literal(amount),
                    literal(expires_at(programme, month), Timestamp),
                    literal(utcnow(), Timestamp),
                )
                .where(
                    *_enrolled(programme),
                    Enrolment.user_id > after,
                    _not_issued(programme, month),
                )
                .order_by(Enrolment.user_id)
                .limit(size),
            )
            .on_conflict_do_nothing()
            .returning(Issuance.__table__.c.user_id)
        )
    )
    if not ids:
        return 0, None
    ids.sort()
    accounts = wallets_for(programme.id, ids)
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
            for u in ids
        ],
        actor_id=actor.id if actor else None,
        short_message="预算不足",
        short_code="budget_short",
    )
    assert posted == len(ids), (posted, len(ids))
    return len(ids), (ids[-1] if len(ids) == size else None)


def issue_all(
    month: date, *, progress: Callable[[Programme, int, int], None] | None = None
) -> list[tuple[Programme, dict | str]]:
    """The scheduler's job: every programme where the plugin is on. A short
    budget refuses that programme alone (reported), the others go on."""
    done: list[tuple[Programme, dict | str]] = []
    for programme in db.session.scalars(
        select(Programme)
        .where(Programme.org_id.in_(orgs_where_enabled(PLUGIN)))
        .order_by(Programme.id)
    ).all():
        report = (lambda d, o, p=programme: progress(p, d, o)) if progress else None
        try:
            done.append((programme, issue(None, programme, month, progress=report)))
        except ledger.InsufficientFunds as err:
            done.append((programme, err.message))
    return done


def expire_all(
    now: datetime, *, batch: int = BATCH, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Lapse expired vouchers everywhere the plugin is on: (people, fen).
    Batches of wallets with something left and an expired issuance, each in
    its own short transaction, so the job is restartable and idempotent;
    ``progress(people, fen)`` after each batch."""
    people = fen = 0
    for programme in db.session.scalars(
        select(Programme)
        .where(Programme.org_id.in_(orgs_where_enabled(PLUGIN)))
        .order_by(Programme.id)
    ).all():
        after: int | None = 0
        while after is not None:
            n, amount, after = ledger.atomic(
                lambda p=programme, a=after: _expire_batch(p, now, a, batch)
            )
            people, fen = people + n, fen + amount
            if n and progress:
                progress(people, fen)
    return people, fen


def _expire_batch(
    programme: Programme, now: datetime, after: int, size: int
) -> tuple[int, int, int | None]:
    """The next ``size`` candidate wallets (by owner after ``after``): lock them,
    compute what is left of their expired issuances in one statement, return it
    to the budget in one ``post_batch``. Answers (people, fen, last owner or None)."""
    acc = ledger.Account
    candidates = db.session.execute(
        select(acc.id, acc.owner_id)
        .where(
            acc.namespace == namespace(programme.id),
            acc.owner_type == "user",
            acc.owner_id > after,
            acc.currency == CURRENCY,
            acc.kind == "wallet",
            acc.balance - acc.held > 0,
            select(Issuance.id)
            .where(
                Issuance.programme_id == programme.id,
                Issuance.user_id == acc.owner_id,
                Issuance.expires_at <= now,
            )
            .exists(),
        )
        .order_by(acc.owner_id)
        .limit(size)
    ).all()
    if not candidates:
        return 0, 0, None
    last = candidates[-1].owner_id if len(candidates) == size else None
    # Locked before computing: a visit starting now cannot hold what we lapse,
    # and a rerun after a crash recomputes from the ledger (nothing is left twice).
    ids = [c.id for c in candidates]
    db.session.execute(  # ledger.lock's order (ascending id), the ids as one array
        select(acc.id).where(among(acc.id, ids)).order_by(acc.id).with_for_update()
    )
    lapsed = db.session.execute(
        _lapsed(programme, ids, [c.owner_id for c in candidates], now)
    ).all()
    if not lapsed:
        return 0, 0, last
    budget = programme_account(programme.id, "budget")
    reason = f"{programme.name} 服务券过期"
    ledger.post_batch(
        [
            ledger.Leg(
                account_id,
                budget.id,
                int(amount),
                reason,
                None,
                ("elder_vouchers_programme", programme.id),
            )
            for account_id, amount in sorted(lapsed)
        ]
    )
    fen = sum(int(amount) for _, amount in lapsed)
    audit("elder_vouchers.expired", actor=None, obj=programme, people=len(lapsed), amount=fen)
    return len(lapsed), fen, last


def _lapsed(programme: Programme, account_ids: list[int], user_ids: list[int], now: datetime):
    """A select of (wallet account id, fen to lapse > 0) for these wallets.

    A wallet's net outflow (debits in effect, not reversals, less reversals
    credited back) is absorbed by its issuances oldest first: issuance i keeps
    ``amount - clamp(net - (sum of older amounts), 0, amount)``."""
    T, acc = ledger.Transfer, ledger.Account
    out = (
        select(T.debit_account_id.label("id"), func.sum(T.amount).label("fen"))
        .where(among(T.debit_account_id, account_ids), T.reverses_id.is_(None), ledger.in_effect())
        .group_by(T.debit_account_id)
        .subquery()
    )
    back = (
        select(T.credit_account_id.label("id"), func.sum(T.amount).label("fen"))
        .where(among(T.credit_account_id, account_ids), T.reverses_id.is_not(None))
        .group_by(T.credit_account_id)
        .subquery()
    )
    net = (
        select(
            acc.id,
            acc.owner_id,
            (func.coalesce(out.c.fen, 0) - func.coalesce(back.c.fen, 0)).label("fen"),
        )
        .outerjoin(out, out.c.id == acc.id)
        .outerjoin(back, back.c.id == acc.id)
        .where(among(acc.id, account_ids))
        .subquery()
    )
    older = func.sum(Issuance.amount).over(
        partition_by=Issuance.user_id, order_by=(Issuance.month, Issuance.id)
    )
    iss = (
        select(
            Issuance.user_id,
            Issuance.amount,
            Issuance.expires_at,
            (older - Issuance.amount).label("older"),
        )
        .where(Issuance.programme_id == programme.id, among(Issuance.user_id, user_ids))
        .subquery()
    )
    left_over = net.c.fen - iss.c.older
    absorbed = case((left_over <= 0, 0), (left_over >= iss.c.amount, iss.c.amount), else_=left_over)
    lapsed = func.sum(
        case((iss.c.expires_at <= literal(now, Timestamp), iss.c.amount - absorbed), else_=0)
    )
    return (
        select(net.c.id, lapsed)
        .join(iss, iss.c.user_id == net.c.owner_id)
        .group_by(net.c.id)
        .having(lapsed > 0)
    )
