"""光荣榜 and the monthly report, aggregated in SQL over the subtree."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, union

from core import ledger
from core.access import subtree_ids
from core.extensions import db
from core.models import Membership, Organization, User
from core.times import month_bounds
from plugins.points.models import N_, Award, Redemption


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
    """What ``user`` earned in ``month`` (the figure every 光荣榜 shows for them)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Award.amount), 0)).where(
                Award.user_id == user.id, *_earned(month)
            )
        )
    )


def leaderboard(org: Organization, month: date, limit: int = 20) -> list[tuple[User, int]]:
    """光荣榜: the people of ``org``'s subtree (its members, and whoever earned
    金豆 there) ranked by what they earned in ``month`` — all of it, so a
    building's board and its community's board show the same number for a
    person (issue 9: an award made at the community was missing from the
    building's board)."""
    in_tree = subtree_ids(org)
    # One candidate set (a UNION, not two ORed INs) so the planner can drive from
    # it: a community's few thousand people, each summed over their own awards.
    people = union(
        select(Membership.user_id).where(Membership.org_id.in_(in_tree)),
        select(Award.user_id).where(Award.org_id.in_(in_tree), *_earned(month)),
    )
    total = func.sum(Award.amount).label("total")
    rows = db.session.execute(
        select(Award.user_id, total)
        .where(*_earned(month), Award.user_id.in_(people))
        .group_by(Award.user_id)
        .order_by(total.desc(), Award.user_id)
        .limit(limit)
    ).all()
    users = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_([r.user_id for r in rows])))
    }
    return [(users[r.user_id], int(r.total)) for r in rows]


def report(org: Organization, month: date) -> dict[str, int]:
    """Issued, redeemed, expired in ``month``; outstanding and fund balance now."""
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
    members = select(Membership.user_id).where(Membership.org_id.in_(in_tree))
    outstanding = db.session.scalar(
        select(func.coalesce(func.sum(ledger.Account.balance), 0)).where(
            # 金豆 wallets only: elder_vouchers keeps user "wallet" accounts (in fen) too.
            ledger.Account.namespace == "points",
            ledger.Account.owner_type == "user",
            ledger.Account.kind == "wallet",
            ledger.Account.owner_id.in_(members),
        )
    )
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
    }


REPORT_TITLES = {
    "issued": N_("本月发放"),
    "redeemed": N_("本月兑换"),
    "expired": N_("本月过期"),
    "outstanding": N_("成员持有（未使用）"),
    "fund_balance": N_("金豆基金余额"),
    "unfunded": N_("本月待补发"),
}
