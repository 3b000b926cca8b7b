"""Meals money in the ledger (namespace ``meals``, currency ``fen``):

- ``org``/``grants``: where deposits come from (may go negative: what was ever put in);
- ``org``/``fund``: an organization's meals fund (餐补基金); subsidies are paid from it;
- ``canteen``/``subsidy``: what a canteen received in subsidies.
"""

from __future__ import annotations

from sqlalchemy import select

from core import ledger
from core.access import require_role
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User
from core.plugins import require_enabled
from plugins.meals.models import Deposit

NAMESPACE, CURRENCY = "meals", "fen"


def org_account(org_id: int, kind: str, *, create: bool = True) -> ledger.Account | None:
    return ledger.account(
        "org",
        org_id,
        namespace=NAMESPACE,
        currency=CURRENCY,
        kind=kind,
        allow_negative=(kind == "grants"),
        create=create,
    )


def canteen_account(canteen_id: int) -> ledger.Account:
    return ledger.account(
        "canteen", canteen_id, namespace=NAMESPACE, currency=CURRENCY, kind="subsidy"
    )


def fund_balance(org: Organization) -> int:
    acc = org_account(org.id, "fund", create=False)
    return acc.balance if acc else 0


def deposit(actor: User, org: Organization, *, amount: int, key: str, note: str = "") -> Deposit:
    """An admin puts money into the organization's meals fund. Idempotent by ``key``."""
    require_role(actor, org, Role.admin)
    require_enabled(org, "meals")

    def work():
        posted = ledger.transfer(
            org_account(org.id, "grants"),
            org_account(org.id, "fund"),
            amount,
            reason=f"餐补基金入账：{note}"[:200],
            cause=("org", org.id),
            key=f"meals:deposit:{org.id}:{key}",
            actor_id=actor.id,
        )
        if posted.replayed:
            return db.session.scalar(select(Deposit).where(Deposit.transfer_id == posted.id))
        row = Deposit(
            org_id=org.id, amount=amount, note=note, transfer_id=posted.id, actor_id=actor.id
        )
        db.session.add(row)
        db.session.flush()
        audit("meals.deposit", actor=actor, org=org, obj=row, amount=amount)
        return row

    return ledger.atomic(work)
