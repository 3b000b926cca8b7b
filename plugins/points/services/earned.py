"""What each person earned per month (``points_month_earned``), kept current.

Every write that changes what ``reports._earned`` counts adds its amount to
the person's row for the award's local month in the same transaction: an
award paid (by hand, in batch, for service), an unfunded award paid late
(it counts in the month it was earned), a reversal (minus). The rebuild
recomputes a month from the awards; the daily job runs it, so does the bench
builder after bulk inserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

from sqlalchemy import Date, delete, func, insert, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite

from core.extensions import db
from core.times import local_zone, month_bounds, this_month
from plugins.points.models import Award, MonthEarned


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s local month (as ``month_bounds`` cuts them)."""
    local = moment.astimezone(local_zone())
    return date(local.year, local.month, 1)


def add_earned(changes: Iterable[tuple[int, datetime, int]]) -> None:
    """Add (user id, award time, amount ± ) to the month rows: one upsert statement."""
    totals: dict[tuple[date, int], int] = {}
    for user_id, moment, amount in changes:
        key = (month_of(moment), user_id)
        totals[key] = totals.get(key, 0) + amount
    if not totals:
        return
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(MonthEarned).values(
        [{"month": m, "user_id": u, "amount": a} for (m, u), a in sorted(totals.items())]
    )
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["month", "user_id"],
            set_={"amount": MonthEarned.amount + stmt.excluded.amount},
        )
    )


def rebuild_month_earned(month: date) -> int:
    """Recompute ``month``'s rows from the awards (idempotent); return how many.

    Runs in the caller's transaction (commit after). On PostgreSQL the table is
    locked against concurrent upserts first, so an award committed meanwhile is
    either in the recount or waits and adds to it — never lost nor counted twice.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE points_month_earned IN EXCLUSIVE MODE"))
    start, end = month_bounds(month)
    db.session.execute(delete(MonthEarned).where(MonthEarned.month == month))
    db.session.execute(
        insert(MonthEarned).from_select(
            ["month", "user_id", "amount"],
            select(literal(month, Date), Award.user_id, func.sum(Award.amount))
            .where(
                Award.status == "paid",
                Award.reversed_at.is_(None),
                Award.created_at >= start,
                Award.created_at < end,
            )
            .group_by(Award.user_id),
        )
    )
    # (rowcount of INSERT … SELECT is -1 with psycopg: count what is there)
    return int(
        db.session.scalar(
            select(func.count()).select_from(MonthEarned).where(MonthEarned.month == month)
        )
    )


def rebuild_all_month_earned(progress: Callable[[date, int], None] | None = None) -> int:
    """Rebuild every month that has awards (bench data, repairs), one commit per month."""
    first, last = db.session.execute(
        select(func.min(Award.created_at), func.max(Award.created_at))
    ).one()
    if first is None:
        return 0
    month, final, done = month_of(first), month_of(last), 0
    while month <= final:
        rows = rebuild_month_earned(month)
        db.session.commit()
        done += 1
        if progress:
            progress(month, rows)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return done


def recent_months() -> list[date]:
    """This month and the last: what the daily job rebuilds."""
    now = this_month()
    return [date(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1), now]
