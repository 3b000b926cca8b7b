"""光荣榜 and the monthly report, aggregated in SQL over the subtree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import delete, func, insert, literal, or_, select, union

from core import ledger
from core.access import subtree_ids
from core.extensions import db
from core.models import Membership, Organization, Timestamp, User, utcnow
from core.times import month_bounds
from plugins.points.models import N_, Award, MonthEarned, Outstanding, Redemption
from plugins.points.services.accounts import WIDE_LEVELS


def _earned(month: date):
    """金豆 a person earned in ``month``: paid, not reversed awards, wherever made.

    The one definition of "本月获得金豆" shown on every 光荣榜 (building,
    community, district) and in the wallet, so one person has one number.
    """
    start, end = month_bounds(month)
    return (
        Award.status == "paid",
        Award.reversed_at.is_(None),
        Award.created_at >= start,
        Award.created_at < end,
    )


def earned_in_month(user: User, month: date) -> int:
    """What ``user`` earned in ``month`` (the figure every 光荣榜 shows for them),
    read from the month rows the writes keep (``services.earned``)."""
    month_bounds(month)  # the same 400 for a month out of range
    return int(
        db.session.scalar(
            select(MonthEarned.amount).where(
                MonthEarned.month == month, MonthEarned.user_id == user.id
            )
        )
        or 0
    )


# Subtrees this big hold many of a month's earners: walking the month's ranking
# from the top finds 20 of theirs within a few hundred rows (PostgreSQL stops the
# index scan there). Below, the subtree's own people (a few thousand at most)
# looked up by key are cheaper than a walk passing over everyone else's rows.
WALK_LEVELS = WIDE_LEVELS
# How far a walk may go before the lookup takes over (a sub-district whose
# people all sit below a long run of other people's rows): a bounded cost.
WALK_ROWS = 2000


def _any(rows):
    """Whether ``rows`` (correlated to the walked row) has one: a scalar subquery
    with LIMIT 1, not EXISTS, which PostgreSQL would hash over the whole
    subtree (every membership of a district) before returning the first row."""
    return rows.limit(1).scalar_subquery().is_not(None)


def _walk(org: Organization, month: date, limit: int) -> list | None:
    """The board from the top of the month's ranking; None when the first
    ``WALK_ROWS`` rows hold fewer than ``limit`` of the subtree's people and
    there are more rows (the answer is then not known yet)."""
    in_tree = subtree_ids(org)
    top = (
        select(MonthEarned.user_id, MonthEarned.amount)
        .where(MonthEarned.month == month, MonthEarned.amount > 0)
        .order_by(MonthEarned.amount.desc(), MonthEarned.user_id)
        .limit(WALK_ROWS)
        .subquery("top")
    )
    member = _any(
        select(Membership.id).where(
            Membership.user_id == top.c.user_id, Membership.org_id.in_(in_tree)
        )
    )
    earned_here = _any(
        select(Award.id).where(
            Award.user_id == top.c.user_id, Award.org_id.in_(in_tree), *_earned(month)
        )
    )
    rows = db.session.execute(
        select(top.c.user_id, top.c.amount)
        .where(or_(member, earned_here))
        .order_by(top.c.amount.desc(), top.c.user_id)
        .limit(limit)
    ).all()
    if len(rows) < limit:
        walked = db.session.scalar(select(func.count()).select_from(top))
        if walked >= WALK_ROWS:
            return None
    return rows


def _lookup(org: Organization, month: date, limit: int) -> list:
    """The board from the subtree's people, each looked up in the month rows."""
    # The ids themselves (a few dozen below a sub-district), not a subquery: then
    # the planner knows how few there are and goes by index (membership by org,
    # awards by org and month, month rows by key) instead of hashing whole tables.
    in_tree = list(db.session.scalars(subtree_ids(org)))
    # One candidate set (a UNION, not two ORed INs) so the planner drives from it,
    people = union(
        select(Membership.user_id).where(Membership.org_id.in_(in_tree)),
        select(Award.user_id).where(Award.org_id.in_(in_tree), *_earned(month)),
    ).subquery("people")
    # each looked up by key (a scalar subquery: never a join over the whole month).
    amount = (
        select(MonthEarned.amount)
        .where(MonthEarned.month == month, MonthEarned.user_id == people.c.user_id)
        .scalar_subquery()
    )
    found = select(people.c.user_id, amount.label("amount")).subquery("found")
    return db.session.execute(
        select(found.c.user_id, found.c.amount)
        .where(found.c.amount > 0)
        .order_by(found.c.amount.desc(), found.c.user_id)
        .limit(limit)
    ).all()


def _joined(org: Organization, month: date, limit: int) -> list:
    """The board of a big subtree whose walk was cut short: its people (tens of
    thousands) joined to the month's rows, as the planner sees fit."""
    in_tree = subtree_ids(org)
    people = union(
        select(Membership.user_id).where(Membership.org_id.in_(in_tree)),
        select(Award.user_id).where(Award.org_id.in_(in_tree), *_earned(month)),
    )
    return db.session.execute(
        select(MonthEarned.user_id, MonthEarned.amount)
        .where(MonthEarned.month == month, MonthEarned.amount > 0, MonthEarned.user_id.in_(people))
        .order_by(MonthEarned.amount.desc(), MonthEarned.user_id)
        .limit(limit)
    ).all()


def leaderboard(org: Organization, month: date, limit: int = 20) -> list[tuple[User, int]]:
    """光荣榜: the people of ``org``'s subtree (its members, and whoever earned
    金豆 there) ranked by what they earned in ``month`` — all of it, so a
    building's board and its community's board show the same number for a
    person (issue 9: an award made at the community was missing from the
    building's board). Ties by user id. The figures come from the month rows
    (``points_month_earned``), the same as ``earned_in_month``."""
    if org.level not in WALK_LEVELS:
        rows = _lookup(org, month, limit)
    elif (rows := _walk(org, month, limit)) is None:
        rows = _joined(org, month, limit)
    users = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_([r.user_id for r in rows])))
    }
    return [(users[r.user_id], int(r.amount)) for r in rows]


def report(org: Organization, month: date) -> dict:
    """Issued, redeemed, expired in ``month``; outstanding (as of
    ``outstanding_as_of``, None: now) and fund balance now."""
    start, end = month_bounds(month)
    in_tree = subtree_ids(org)
    issued = db.session.scalar(
        select(func.coalesce(func.sum(Award.amount), 0)).where(
            Award.status == "paid",
            Award.reversed_at.is_(None),
            Award.org_id.in_(in_tree),
            Award.created_at >= start,
            Award.created_at < end,
        )
    )
    unfunded = db.session.scalar(
        select(func.coalesce(func.sum(Award.amount), 0)).where(
            Award.status == "unfunded",
            Award.org_id.in_(in_tree),
            Award.created_at >= start,
            Award.created_at < end,
        )
    )
    redeemed = db.session.scalar(
        select(func.coalesce(func.sum(Redemption.total), 0)).where(
            Redemption.status.in_(("approved", "fulfilled")),
            Redemption.org_id.in_(in_tree),
            Redemption.decided_at >= start,
            Redemption.decided_at < end,
        )
    )
    expired = db.session.scalar(
        select(func.coalesce(func.sum(ledger.Transfer.amount), 0)).where(
            ledger.Transfer.cause_type == "points_expiry",
            ledger.Transfer.cause_id.in_(in_tree),
            ledger.Transfer.created_at >= start,
            ledger.Transfer.created_at < end,
        )
    )
    outstanding, as_of = outstanding_of(org)
    funds = db.session.scalar(
        select(func.coalesce(func.sum(ledger.Account.balance), 0)).where(
            ledger.Account.namespace == "points",
            ledger.Account.owner_type == "org",
            ledger.Account.kind == "fund",
            ledger.Account.owner_id.in_(in_tree),
        )
    )
    return {
        "issued": int(issued),
        "redeemed": int(redeemed),
        "expired": int(expired),
        "outstanding": int(outstanding),
        "fund_balance": int(funds),
        "unfunded": int(unfunded),
        "outstanding_as_of": as_of,  # None: summed just now
    }


# Above a community the members' wallets are too many to sum per page view
# (100,000 at a district at scale 0.1, a million at full size): those figures
# come from a snapshot the daily job rebuilds, shown with its time.
SNAPSHOT_LEVELS = WIDE_LEVELS


def _outstanding_now(org: Organization):
    """What the members of ``org``'s subtree hold in their 金豆 wallets, as a select."""
    members = select(Membership.user_id).where(Membership.org_id.in_(subtree_ids(org)))
    return select(func.coalesce(func.sum(ledger.Account.balance), 0)).where(
        # 金豆 wallets only: elder_vouchers keeps user "wallet" accounts (in fen) too.
        ledger.Account.namespace == "points",
        ledger.Account.owner_type == "user",
        ledger.Account.kind == "wallet",
        ledger.Account.owner_id.in_(members),
    )


def outstanding_of(org: Organization) -> tuple[int, datetime | None]:
    """成员持有 of ``org``'s subtree and the moment it was taken (None: now)."""
    if org.level in SNAPSHOT_LEVELS:
        row = db.session.get(Outstanding, org.id)
        if row is not None:
            return int(row.amount), row.as_of
    return int(db.session.scalar(_outstanding_now(org))), None


def refresh_outstanding(progress: Callable[[Organization, int], None] | None = None) -> int:
    """Rebuild the snapshot of every district and sub-district; return how many.

    One transaction per organization (delete its row, insert the sum), so a
    rerun simply takes a newer snapshot and a crash leaves the old one.
    """
    orgs = db.session.scalars(
        select(Organization)
        .where(Organization.level.in_(SNAPSHOT_LEVELS))
        .order_by(Organization.id)
    ).all()
    for org in orgs:
        db.session.execute(delete(Outstanding).where(Outstanding.org_id == org.id))
        db.session.execute(
            insert(Outstanding).from_select(
                ["org_id", "amount", "as_of"],
                select(
                    literal(org.id),
                    _outstanding_now(org).scalar_subquery(),
                    literal(utcnow(), Timestamp),
                ),
            )
        )
        db.session.commit()
        if progress:
            progress(org, db.session.get(Outstanding, org.id).amount)
    return len(orgs)


REPORT_TITLES = {
    "issued": N_("本月发放"),
    "redeemed": N_("本月兑换"),
    "expired": N_("本月过期"),
    "outstanding": N_("成员持有（未使用）"),
    "fund_balance": N_("金豆基金余额"),
    "unfunded": N_("本月待补发"),
}
