"""Voucher accounts in the ledger: one namespace per programme
(``vouchers:<programme_id>``, currency ``fen``), so two programmes' money
never mixes:

- ``programme``/``funding``: where deposited public funds come from (may go negative).
- ``programme``/``budget``: the programme's budget; issuance pays from it,
  lapsed vouchers return to it.
- ``user``/``wallet``: a person's vouchers of that programme.
- ``provider``/``earned``: what a provider was paid in vouchers.
"""

from __future__ import annotations

from sqlalchemy import ARRAY, Integer, any_, false, literal, select

from core import ledger
from core.extensions import db
from core.models import Timestamp, utcnow
from plugins.elder_vouchers.models import Enrolment

CURRENCY = "fen"
PLUGIN = "elder_vouchers"


def namespace(programme_id: int) -> str:
    return f"vouchers:{programme_id}"


def programme_account(programme_id: int, kind: str, *, create: bool = True):
    return ledger.account(
        "programme",
        programme_id,
        namespace=namespace(programme_id),
        currency=CURRENCY,
        kind=kind,
        allow_negative=(kind == "funding"),
        create=create,
    )


def wallet(programme_id: int, user_id: int, *, create: bool = True):
    return ledger.account(
        "user",
        user_id,
        namespace=namespace(programme_id),
        currency=CURRENCY,
        kind="wallet",
        create=create,
    )


def provider_account(programme_id: int, provider_id: int):
    return ledger.account(
        "provider", provider_id, namespace=namespace(programme_id), currency=CURRENCY, kind="earned"
    )


def budget_balance(programme_id: int) -> int:
    acc = programme_account(programme_id, "budget", create=False)
    return acc.balance - acc.held if acc else 0


def among(column, ids: list[int]):
    """``column IN ids`` for a batch: one array parameter on PostgreSQL (10,000
    placeholders cost more to send than the query), a plain IN on SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(list(ids))


def insert_ignoring(table):
    """INSERT ... ON CONFLICT DO NOTHING in the session's dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(table)


def wallets_for(programme_id: int, user_ids: list[int]) -> dict[int, int]:
    """Create the wallets of many people at once (set-based: a monthly issuance
    opens them a batch at a time); answers {user_id: account_id}. Creating an
    empty account moves nothing, so this is no ledger transfer."""
    acc = ledger.Account.__table__
    ns = namespace(programme_id)
    source = select(
        literal(ns),
        literal("user"),
        Enrolment.user_id,
        literal(CURRENCY),
        literal("wallet"),
        literal(0),
        literal(0),
        false(),
        literal(utcnow(), Timestamp),
    ).where(Enrolment.programme_id == programme_id, among(Enrolment.user_id, user_ids))
    columns = [
        "namespace",
        "owner_type",
        "owner_id",
        "currency",
        "kind",
        "balance",
        "held",
        "allow_negative",
        "created_at",
    ]
    db.session.execute(insert_ignoring(acc).from_select(columns, source).on_conflict_do_nothing())
    rows = db.session.execute(
        select(acc.c.owner_id, acc.c.id).where(
            acc.c.namespace == ns,
            acc.c.owner_type == "user",
            among(acc.c.owner_id, user_ids),
            acc.c.currency == CURRENCY,
            acc.c.kind == "wallet",
        )
    )
    return dict(rows.all())
