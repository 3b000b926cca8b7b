"""Expiry: beans left of an award past its organization's validity go back
to the fund that paid them. The job is idempotent (a rerun finds nothing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from core import ledger, settings
from core.audit import audit
from core.extensions import db
from core.models import Organization, User, utcnow
from core.plugins import orgs_where_enabled
from plugins.points.models import Award
from plugins.points.services.accounts import org_account, wallet_account


def set_expiry(actor: User, org: Organization, months: int | None) -> None:
    """How long beans awarded in ``org``'s subtree stay valid (None: forever). Admins."""
    settings.put(actor, org, "points", {"expiry_months": months})


def expire_wallet(user_id: int, now: datetime, enabled=None) -> int:
    """Expire what is left of this person's awards past their date; return the amount.

    Spending uses the oldest beans first, so what remains of an award is its
    amount minus the part of all outflows (spent, held, expired before) that
    older awards did not absorb. A reversed award and its reversal cancel
    out: neither takes part. Expired beans go back to the fund that paid
    them. Rerunning finds nothing left, so the command is idempotent.
    ``enabled(org_id)`` says whether awards made in that organization may
    expire (points on there); their beans still count in the oldest-first order.
    """
    acc = wallet_account(user_id, create=False)
    if acc is None:
        return 0
    ledger.lock([acc.id])
    out = db.session.scalar(
        select(func.coalesce(func.sum(ledger.Transfer.amount), 0)).where(
            ledger.Transfer.debit_account_id == acc.id,
            ledger.Transfer.reverses_id.is_(None),
            ledger.in_effect(),
        )
    )
    remaining_out = int(out)
    # (organization that awarded, organization whose fund paid) -> beans to expire
    to_expire: dict[tuple[int, int], int] = {}
    awards = db.session.execute(
        select(Award.amount, Award.expires_at, Award.org_id, Award.fund_org_id)
        .where(Award.user_id == user_id, Award.status == "paid", Award.reversed_at.is_(None))
        .order_by(Award.created_at, Award.id)
    ).all()
    for amount, expires_at, org_id, fund_org_id in awards:
        absorbed = min(remaining_out, amount)
        remaining_out -= absorbed
        left = amount - absorbed
        if (
            left
            and expires_at is not None
            and expires_at <= now
            and (enabled is None or enabled(org_id))
        ):
            to_expire[(org_id, fund_org_id)] = to_expire.get((org_id, fund_org_id), 0) + left
    for (org_id, fund_org_id), amount in sorted(to_expire.items()):
        ledger.transfer(
            acc.id,
            org_account(fund_org_id, "fund"),
            amount,
            reason="金豆过期",
            cause=("points_expiry", org_id),
            key=f"points:expire:{acc.id}:{out}:{org_id}:{fund_org_id}",
        )
    return sum(to_expire.values())


def expire_all(now: datetime | None = None) -> tuple[int, int]:
    """Expire beans everywhere points is on; return (people affected, beans expired).

    Who has anything to expire, and where points is on, is found in SQL;
    each wallet then expires in its own short transaction (restartable).
    """
    now = now or utcnow()
    on = orgs_where_enabled("points")
    expiring = (Award.status == "paid", Award.reversed_at.is_(None), Award.expires_at <= now)
    user_ids = db.session.scalars(
        select(Award.user_id)
        .distinct()
        .where(*expiring, Award.org_id.in_(on))
        .order_by(Award.user_id)
    ).all()
    enabled_orgs = set(
        db.session.scalars(select(Award.org_id).distinct().where(*expiring, Award.org_id.in_(on)))
    )
    people = beans = 0
    for user_id in user_ids:
        amount = ledger.atomic(
            lambda user_id=user_id: _expire_and_audit(user_id, now, enabled_orgs.__contains__)
        )
        if amount:
            people += 1
            beans += amount
    return people, beans


def _expire_and_audit(user_id: int, now: datetime, enabled=None) -> int:
    amount = expire_wallet(user_id, now, enabled)
    if amount:
        audit("points.expired", actor=None, user_id=user_id, amount=amount)
    return amount
