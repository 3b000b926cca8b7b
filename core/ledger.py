"""The double-entry ledger shared by points, meals and vouchers.

Accounts belong to a ``namespace`` (the plugin or instrument that owns them:
"points", "meals", "vouchers:12") and an owner, and hold an integer
``balance`` per currency; a meals fund and a voucher budget of the same
organization, both in fen, are two accounts. Every change is a transfer
from a debit account to a credit account, so the sum of all balances of a
currency is always zero.

The transfer table is insert-only, as in TigerBeetle: no row is ever
updated or deleted. A transfer's ``status`` says what the row does:

- ``posted``: moves ``amount`` now. A mistake is undone by a reversal, a
  ``posted`` row whose ``reverses_id`` points at it (set in the INSERT; a
  partial unique index allows one reversal per transfer).
- ``pending``: a hold (two-phase transfer). It reserves its amount on the
  debit account by raising that account's ``held``; ``balance`` is
  untouched. A hold ends with one more row pointing at it by
  ``pending_id`` (who, when): ``posted`` (same accounts and amount; the
  money moves) or ``voided`` (the reservation is released). A partial
  unique index on ``pending_id`` makes that at most one settlement per
  hold; a hold is *open* while no row points at it.

So ``balance`` is the sum of the account's ``posted`` rows, ``held`` the sum
of its open holds, and what may be spent now is ``balance - held``
(:func:`spendable`). We keep ``held`` on the account rather than moving the
beans to a hold account because the reservation then needs no extra account
per owner, and the sum-to-zero invariant holds over posted rows alone.
:func:`audit` (``jindou ledger check``) verifies all of this set-based.

Errors are domain errors (:class:`LedgerError` and subclasses, each with a
Chinese message and a code); core maps them to HTTP at the edge (409, or
404 for the not-found kinds).

Concurrency. Every write locks the accounts it touches in ascending id
order (``SELECT ... FOR UPDATE`` on PostgreSQL, where a single transfer does
lock, check, insert and update in one statement; on SQLite the whole
transaction is a ``BEGIN IMMEDIATE`` write transaction, see :func:`atomic`)
and checks limits inside the lock. A batch locks the accounts it debits (the
only ones with a limit to break); the accounts it credits are locked by its
single UPDATE. ``atomic`` retries a bounded number of times on serialization
failures, deadlocks, unique-key races and "database is locked".
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, aliased, mapped_column

from core.api import ApiError, Conflict
from core.extensions import db
from core.models import Timestamp, utcnow

PENDING, POSTED, VOIDED = "pending", "posted", "voided"
MAX_AMOUNT = 10**12  # far above any real amount; keeps sums inside BIGINT
BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only

log = logging.getLogger("jindou.ledger")
T = TypeVar("T")


class Account(db.Model):
    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("namespace", "owner_type", "owner_id", "currency", "kind"),
        # Belt and braces: the service checks inside the lock, the database refuses anyway.
        CheckConstraint("allow_negative OR balance - held >= 0", name="not_overdrawn"),
        CheckConstraint("held >= 0", name="held_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(40))  # "points", "meals", "vouchers:12", ...
    owner_type: Mapped[str] = mapped_column(String(40))  # "user", "org", ...
    owner_id: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(20))  # "bean", "fen", ...
    kind: Mapped[str] = mapped_column(String(40))  # "wallet", "fund", "donations", ...
    balance: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of posted transfers
    held: Mapped[int] = mapped_column(BigInteger, default=0)  # reserved by open holds
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    @property
    def spendable(self) -> int:
        return self.balance - self.held


class Transfer(db.Model):
    __tablename__ = "ledger_transfer"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        CheckConstraint("status IN ('pending','posted','voided')", name="status_known"),
        # A void always ends a hold; a hold never ends another one.
        CheckConstraint(
            "(pending_id IS NULL AND status <> 'voided') OR "
            "(pending_id IS NOT NULL AND status <> 'pending')",
            name="settlement_shape",
        ),
        Index("ix_ledger_transfer_debit", "debit_account_id", "id"),
        Index("ix_ledger_transfer_credit", "credit_account_id", "id"),
        # A report's "expired this month under this subtree" is a range of this index.
        Index("ix_ledger_transfer_cause", "cause_type", "cause_id", "created_at"),
        # At most one settlement per hold and one reversal per transfer. Partial, so the
        # rows of a batch (both NULL) cost these indexes nothing.
        Index(
            "ix_ledger_transfer_pending",
            "pending_id",
            unique=True,
            sqlite_where=text("pending_id IS NOT NULL"),
            postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index(
            "ix_ledger_transfer_reverses",
            "reverses_id",
            unique=True,
            sqlite_where=text("reverses_id IS NOT NULL"),
            postgresql_where=text("reverses_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200))
    cause_type: Mapped[str | None] = mapped_column(String(40))
    cause_id: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(10), default=POSTED)
    reverses_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transfer.id"))
    pending_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transfer.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


# -- errors --------------------------------------------------------------------------------
# Domain errors, not HTTP: core/__init__.py answers them as 409 (404 for LedgerNotFound).


class LedgerError(Exception):
    """A ledger rule said no. ``code`` is stable, ``message`` is for people (Chinese)."""

    code = "ledger_error"
    message = "账务操作失败"

    def __init__(self, message: str | None = None, code: str | None = None):
        self.message = message or type(self).message
        self.code = code or type(self).code
        super().__init__(self.message)


class LedgerNotFound(LedgerError):
    code, message = "not_found", "未找到"


class AccountNotFound(LedgerNotFound):
    code, message = "account_not_found", "账户不存在"


class TransferNotFound(LedgerNotFound):
    code, message = "transfer_not_found", "转账不存在"


class InsufficientFunds(LedgerError):
    """The debit account cannot cover the amount (callers may name their own message/code)."""

    code, message = "insufficient_balance", "余额不足"


class IdempotencyConflict(LedgerError):
    code, message = "idempotency_conflict", "幂等键已用于另一笔不同的操作"


class AlreadyReversed(LedgerError):
    code, message = "already_reversed", "这笔转账已经冲正过了"


class NotReversible(LedgerError):
    code, message = "not_posted", "只能冲正已入账的转账"


class AlreadySettled(LedgerError):
    code, message = "transfer_settled", "这笔冻结已处理过"


class NotPending(LedgerError):
    code, message = "not_pending", "这笔转账不是冻结"


@dataclasses.dataclass(frozen=True)
class Posted:
    """What a transfer call did: the row's id and whether it was a replay."""

    id: int
    status: str
    amount: int
    replayed: bool = False


# -- accounts ------------------------------------------------------------------------


def _insert_ignoring_conflict(table, values: dict):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect_module
    else:
        from sqlalchemy.dialects import sqlite as dialect_module  # type: ignore[no-redef]
    return dialect_module.insert(table).values(**values).on_conflict_do_nothing()


def account(
    owner_type: str,
    owner_id: int,
    *,
    namespace: str,
    currency: str,
    kind: str,
    allow_negative: bool = False,
    create: bool = True,
) -> Account | None:
    """The account of an owner in ``namespace``, created on first use (safe under a race)."""
    if not namespace or len(namespace) > 40:
        raise ValueError(f"namespace must be 1-40 characters, not {namespace!r}")
    # populate_existing: balances change through Core statements, which do not
    # refresh objects the session already holds; a lookup must show the truth.
    stmt = (
        select(Account)
        .where(
            Account.namespace == namespace,
            Account.owner_type == owner_type,
            Account.owner_id == owner_id,
            Account.currency == currency,
            Account.kind == kind,
        )
        .execution_options(populate_existing=True)
    )
    found = db.session.scalar(stmt)
    if found is not None or not create:
        return found
    db.session.execute(
        _insert_ignoring_conflict(
            Account.__table__,
            dict(
                namespace=namespace,
                owner_type=owner_type,
                owner_id=owner_id,
                currency=currency,
                kind=kind,
                balance=0,
                held=0,
                allow_negative=allow_negative,
                created_at=utcnow(),
            ),
        )
    )
    return db.session.scalar(stmt)


def spendable(account_id: int) -> int:
    row = db.session.execute(
        select(Account.balance, Account.held).where(Account.id == account_id)
    ).one()
    return row.balance - row.held


# -- the unit of work -------------------------------------------------------------------


RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


def is_retryable(err: Exception) -> bool:
    if isinstance(err, IntegrityError):
        # A racing insert of the same key or account: the retry sees the winner.
        # Any other integrity error (a CHECK, a foreign key) is a bug: no retry.
        return getattr(err.orig, "sqlstate", None) == "23505" or "UNIQUE constraint" in str(
            err.orig
        )
    if isinstance(err, OperationalError) and "database is locked" in str(err.orig):
        return True
    sqlstate = getattr(getattr(err, "orig", None), "sqlstate", None)
    return isinstance(err, DBAPIError) and sqlstate in RETRYABLE_SQLSTATES


def begin_write() -> None:
    """Start a fresh write transaction on the session's connection.

    On SQLite this emits ``BEGIN IMMEDIATE`` (core.extensions), taking the
    database write lock up front so that the read-check-write of a transfer
    cannot interleave with another writer. PostgreSQL locks rows instead.
    """
    session = db.session()
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def atomic(fn: Callable[[], T], *, attempts: int = 6) -> T:
    """Run ``fn`` in one write transaction and commit; retry on lock trouble.

    Whatever the session held before is committed first (a unit of work
    starts clean). Nested calls run inside the outer unit of work. After the
    last failed attempt a 503 asks the user to try again.
    """
    if db.session.info.get("ledger_atomic"):
        return fn()
    for attempt in range(1, attempts + 1):
        begin_write()
        db.session.info["ledger_atomic"] = True
        try:
            result = fn()
            db.session.commit()
            return result
        except (DBAPIError, IntegrityError) as err:
            db.session.rollback()
            if not is_retryable(err):
                raise
            log.info("ledger write retry %s/%s: %s", attempt, attempts, err.orig)
            if attempt == attempts:
                if isinstance(err, IntegrityError):
                    raise Conflict("数据冲突，请重试", code="write_conflict") from err
                raise ApiError(503, "busy", "系统繁忙，请稍后重试") from err
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.info.pop("ledger_atomic", None)
    raise AssertionError("unreachable")


# -- single transfers ---------------------------------------------------------------------
# The hot path uses prebuilt Core statements on the session's connection: the
# ORM adds nothing here and its per-statement overhead would halve throughput.

_acc, _tr = Account.__table__, Transfer.__table__
_LOCK = (
    select(_acc.c.id, _acc.c.balance, _acc.c.held, _acc.c.allow_negative, _acc.c.currency)
    .where(_acc.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_acc.c.id)
    .with_for_update()
)
_APPLY = (
    update(_acc)
    .where(_acc.c.id.in_([bindparam("debit"), bindparam("credit")]))
    .values(
        balance=_acc.c.balance
        + case((_acc.c.id == bindparam("credit"), bindparam("amount")), else_=-bindparam("amount"))
    )
)
_APPLY_RELEASING = _APPLY.values(
    held=_acc.c.held - case((_acc.c.id == bindparam("debit"), bindparam("amount")), else_=0)
)
_HOLD = (
    update(_acc)
    .where(_acc.c.id == bindparam("debit"))
    .values(held=_acc.c.held + bindparam("amount"))
)
_RELEASE = (
    update(_acc)
    .where(_acc.c.id == bindparam("debit"))
    .values(held=_acc.c.held - bindparam("amount"))
)
_INSERT = insert(_tr).returning(_tr.c.id)
_INSERT_KEYED: dict[str, object] = {}  # per dialect: INSERT ... ON CONFLICT DO NOTHING RETURNING id


def _conn():
    return db.session.connection()


def _insert_keyed():
    dialect = db.session.get_bind().dialect.name
    if dialect not in _INSERT_KEYED:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        _INSERT_KEYED[dialect] = (
            dialect_insert(_tr)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(_tr.c.id)
        )
    return _INSERT_KEYED[dialect]


def lock(account_ids: Iterable[int], conn=None) -> dict[int, tuple[int, int, bool, str]]:
    """Lock accounts in ascending id order; their (balance, held, allow_negative, currency)."""
    ids = sorted(set(account_ids))
    rows = (conn or _conn()).execute(_LOCK, {"ids": ids}).all()
    if len(rows) != len(ids):
        raise AccountNotFound()
    return {r.id: (r.balance, r.held, r.allow_negative, r.currency) for r in rows}


# -- idempotency: one rule for single transfers and batches ------------------------------

_REPLAY_COLUMNS = (
    _tr.c.id,
    _tr.c.idempotency_key,
    _tr.c.debit_account_id,
    _tr.c.credit_account_id,
    _tr.c.amount,
    _tr.c.reason,
    _tr.c.cause_type,
    _tr.c.cause_id,
    _tr.c.status,
)


def _content(
    debit_id: int,
    credit_id: int,
    amount: int,
    reason: str,
    cause: tuple[str, int] | None,
    status: str,
) -> dict:
    """What a replay of a key must repeat to be the same operation."""
    return dict(
        debit_account_id=debit_id,
        credit_account_id=credit_id,
        amount=amount,
        reason=reason,
        cause_type=cause[0] if cause else None,
        cause_id=cause[1] if cause else None,
        status=status,
    )


def _replay(row, wanted: dict) -> Posted:
    """``row`` already holds the key: the same content answers it, other content is a 409.

    Holds are compared as holds: the transfer table is insert-only, so a hold
    settled since still reads ``pending`` and its replay still matches.
    """
    if any(getattr(row, name) != value for name, value in wanted.items()):
        raise IdempotencyConflict()
    return Posted(row.id, row.status, row.amount, replayed=True)


def _rows_by_key(keys: list[str]) -> dict[str, object]:
    if keys and db.session.get_bind().dialect.name == "postgresql":
        rows = (
            _conn()
            .execute(
                text(
                    f"SELECT {', '.join(c.name for c in _REPLAY_COLUMNS)} FROM ledger_transfer "
                    "WHERE idempotency_key = ANY(:keys)"
                ),
                {"keys": keys},
            )
            .all()
        )
        return {r.idempotency_key: r for r in rows}
    found = {}
    for start in range(0, len(keys), CHUNK):
        rows = (
            _conn()
            .execute(
                select(*_REPLAY_COLUMNS).where(
                    _tr.c.idempotency_key.in_(keys[start : start + CHUNK])
                )
            )
            .all()
        )
        found.update({r.idempotency_key: r for r in rows})
    return found


# -- posting -------------------------------------------------------------------------------


def transfer(
    debit: Account | int,
    credit: Account | int,
    amount: int,
    *,
    reason: str,
    cause: tuple[str, int] | None = None,
    key: str | None = None,
    actor_id: int | None = None,
    pending: bool = False,
    short_message: str = "余额不足",
    short_code: str = "insufficient_balance",
) -> Posted:
    """Move ``amount`` from ``debit`` to ``credit`` (or hold it, if ``pending``).

    Runs inside the caller's transaction (use :func:`atomic`). A replay of
    ``key`` with the same content returns the first transfer; with different
    content it raises :class:`IdempotencyConflict`. :class:`InsufficientFunds`
    (``short_message``, ``short_code``) when the debit side cannot pay.
    Steps: lock both accounts (ascending id), insert (a replayed key stops
    here), check the limit, update both balances in one statement. On
    PostgreSQL the same steps run as one statement (:func:`_transfer_pg`).
    """
    debit_id = debit if isinstance(debit, int) else debit.id
    credit_id = credit if isinstance(credit, int) else credit.id
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be a positive int, not {amount!r}")
    if debit_id == credit_id:
        raise ValueError("a transfer needs two different accounts")
    if len(reason) > 200:
        raise ValueError("reason is longer than 200 characters")
    return _transfer(
        debit_id,
        credit_id,
        amount,
        reason=reason,
        cause=cause,
        key=key,
        actor_id=actor_id,
        pending=pending,
        short_message=short_message,
        short_code=short_code,
    )


def _transfer(
    debit_id: int,
    credit_id: int,
    amount: int,
    *,
    reason,
    cause,
    key,
    actor_id,
    pending,
    short_message,
    short_code,
    reverses_id: int | None = None,
) -> Posted:
    conn = _conn()
    status = PENDING if pending else POSTED
    content = _content(debit_id, credit_id, amount, reason, cause, status)
    if conn.dialect.name == "postgresql":
        return _transfer_pg(
            conn,
            content,
            key=key,
            actor_id=actor_id,
            reverses_id=reverses_id,
            short_message=short_message,
            short_code=short_code,
        )
    locked = lock((debit_id, credit_id), conn)
    currency = locked[debit_id][3]
    if locked[credit_id][3] != currency:
        raise ValueError("accounts of different currencies")
    values = dict(
        content,
        currency=currency,
        idempotency_key=key,
        actor_id=actor_id,
        reverses_id=reverses_id,
        pending_id=None,
        created_at=utcnow(),
    )
    if key is not None:
        new_id = conn.execute(_insert_keyed(), values).scalar()
        if new_id is None:
            return _replay(_rows_by_key([key])[key], content)
    else:
        new_id = conn.execute(_INSERT, values).scalar_one()
    balance, held, allow_negative, _ = locked[debit_id]
    if not allow_negative and balance - held < amount:
        raise InsufficientFunds(short_message, short_code)
    if pending:
        conn.execute(_HOLD, {"debit": debit_id, "amount": amount})
    else:
        _apply(debit_id, credit_id, amount, conn=conn)
    return Posted(new_id, status, amount)


# The same steps as ``transfer`` in one round trip: ``locked`` takes the row locks
# (FOR UPDATE waits, then sees the latest committed balances), ``ok`` checks the
# limit on those locked rows, ``ins`` inserts only when ok (a used key inserts
# nothing), ``upd`` changes the balances only when a row was inserted.
_PG_TRANSFER = text("""
WITH locked AS (
    SELECT id, balance, held, allow_negative, currency FROM ledger_account
    WHERE id IN (:debit, :credit) ORDER BY id FOR UPDATE),
ok AS (
    SELECT d.currency FROM locked d JOIN locked c ON c.id = :credit AND c.currency = d.currency
    WHERE d.id = :debit AND (d.allow_negative OR d.balance - d.held >= :amount)),
ins AS (
    INSERT INTO ledger_transfer (debit_account_id, credit_account_id, amount, currency, reason,
                                 cause_type, cause_id, idempotency_key, actor_id, status,
                                 reverses_id, created_at)
    SELECT :debit, :credit, :amount, currency, :reason, :cause_type, :cause_id, :key, :actor_id,
           :status, :reverses_id, :created_at FROM ok
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id),
upd AS (
    UPDATE ledger_account AS a SET
        balance = a.balance + CASE WHEN :pending THEN 0 WHEN a.id = :credit THEN :amount
                                   ELSE -:amount END,
        held = a.held + CASE WHEN :pending AND a.id = :debit THEN :amount ELSE 0 END
    WHERE a.id IN (:debit, :credit) AND EXISTS (SELECT 1 FROM ins)
    RETURNING a.id)
SELECT (SELECT id FROM ins) AS new_id, (SELECT count(*) FROM locked) AS found,
       (SELECT count(*) FROM upd) AS updated
""")


def _transfer_pg(
    conn, content: dict, *, key, actor_id, reverses_id, short_message, short_code
) -> Posted:
    debit_id, credit_id = content["debit_account_id"], content["credit_account_id"]
    row = conn.execute(
        _PG_TRANSFER,
        {
            "debit": debit_id,
            "credit": credit_id,
            "amount": content["amount"],
            "reason": content["reason"],
            "cause_type": content["cause_type"],
            "cause_id": content["cause_id"],
            "key": key,
            "actor_id": actor_id,
            "status": content["status"],
            "pending": content["status"] == PENDING,
            "reverses_id": reverses_id,
            "created_at": utcnow(),
        },
    ).one()
    if row.found != 2:
        raise AccountNotFound()
    if row.new_id is not None:
        assert row.updated == 2
        return Posted(row.new_id, content["status"], content["amount"])
    # Nothing inserted: a used key (replay or clash), or the limit or currency said no.
    if key is not None:
        used = _rows_by_key([key]).get(key)
        if used is not None:
            return _replay(used, content)
    currencies = set(
        db.session.scalars(select(Account.currency).where(Account.id.in_((debit_id, credit_id))))
    )
    if len(currencies) != 1:
        raise ValueError("accounts of different currencies")
    raise InsufficientFunds(short_message, short_code)


def _apply(
    debit_id: int, credit_id: int, amount: int, *, release_hold: bool = False, conn=None
) -> None:
    """Both balance changes in one statement (one round trip)."""
    (conn or _conn()).execute(
        _APPLY_RELEASING if release_hold else _APPLY,
        {"debit": debit_id, "credit": credit_id, "amount": amount},
    )


# -- holds and reversals: new rows pointing at old ones -----------------------------------


def _settle(pending_id: int, outcome: str, actor_id: int | None) -> Posted:
    """End a hold with a new row (``outcome`` posted or voided) pointing at it."""
    hold = db.session.execute(select(_tr).where(_tr.c.id == pending_id)).one_or_none()
    if hold is None:
        raise TransferNotFound()
    if hold.status != PENDING:
        raise NotPending()
    conn = _conn()
    lock((hold.debit_account_id, hold.credit_account_id), conn)
    done = conn.execute(
        select(_tr.c.id, _tr.c.status).where(_tr.c.pending_id == pending_id)
    ).one_or_none()
    if done is not None:
        if done.status == outcome:
            return Posted(done.id, outcome, hold.amount, replayed=True)
        raise AlreadySettled(
            "这笔冻结已入账，不能再取消" if done.status == POSTED else "这笔冻结已取消，不能再入账"
        )
    new_id = conn.execute(
        _INSERT,
        dict(
            debit_account_id=hold.debit_account_id,
            credit_account_id=hold.credit_account_id,
            amount=hold.amount,
            currency=hold.currency,
            reason=hold.reason,
            cause_type=hold.cause_type,
            cause_id=hold.cause_id,
            idempotency_key=None,
            actor_id=actor_id,
            status=outcome,
            reverses_id=None,
            pending_id=pending_id,
            created_at=utcnow(),
        ),
    ).scalar_one()
    if outcome == POSTED:
        _apply(
            hold.debit_account_id, hold.credit_account_id, hold.amount, release_hold=True, conn=conn
        )
    else:
        conn.execute(_RELEASE, {"debit": hold.debit_account_id, "amount": hold.amount})
    return Posted(new_id, outcome, hold.amount)


def post_pending(transfer_id: int, *, actor_id: int | None = None) -> Posted:
    """Complete a hold: the held amount leaves the debit account. Idempotent;
    :class:`AlreadySettled` if it was voided. Returns the new ``posted`` row."""
    return _settle(transfer_id, POSTED, actor_id)


def void_pending(transfer_id: int, *, actor_id: int | None = None) -> Posted:
    """Cancel a hold: the held amount is spendable again. Idempotent;
    :class:`AlreadySettled` if it was posted. Returns the new ``voided`` row."""
    return _settle(transfer_id, VOIDED, actor_id)


def reverse(
    transfer_id: int,
    *,
    reason: str,
    actor_id: int | None = None,
    short_message: str = "余额不足，无法冲正",
) -> Posted:
    """Undo a posted transfer with an opposite one, once.

    Repeating the same request (same reason and actor) returns the first
    reversal; any other second reversal is :class:`AlreadyReversed`.
    """
    original = db.session.execute(select(_tr).where(_tr.c.id == transfer_id)).one_or_none()
    if original is None:
        raise TransferNotFound()
    if original.status != POSTED:
        raise NotReversible()
    if original.reverses_id is not None:
        raise NotReversible("冲正记录不能再冲正", "is_reversal")
    if len(reason) > 200:
        raise ValueError("reason is longer than 200 characters")
    lock((original.debit_account_id, original.credit_account_id))
    done = db.session.execute(
        select(_tr.c.id, _tr.c.reason, _tr.c.actor_id, _tr.c.amount).where(
            _tr.c.reverses_id == transfer_id
        )
    ).one_or_none()
    if done is not None:
        if (done.reason, done.actor_id) == (reason, actor_id):
            return Posted(done.id, POSTED, done.amount, replayed=True)
        raise AlreadyReversed()
    return _transfer(
        original.credit_account_id,
        original.debit_account_id,
        original.amount,
        reason=reason,
        cause=("reversal", original.id),
        key=None,
        actor_id=actor_id,
        pending=False,
        short_message=short_message,
        short_code=InsufficientFunds.code,
        reverses_id=original.id,
    )


# -- batches -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Leg:
    """One transfer of a batch."""

    debit_id: int
    credit_id: int
    amount: int
    reason: str
    key: str | None = None
    cause: tuple[str, int] | None = None


CHUNK = 5000


def post_batch(
    legs: list[Leg],
    *,
    actor_id: int | None = None,
    short_message: str = "余额不足",
    short_code: str = "insufficient_balance",
) -> int:
    """Post many transfers in the caller's transaction, set-based.

    Locks every account once (ascending id), checks each account's net
    change, then one bulk INSERT of the transfers and one aggregated UPDATE
    of the balances. Legs whose key was already used are skipped (a replayed
    batch posts nothing); a reused key with other content is
    :class:`IdempotencyConflict` (the same rule as :func:`transfer`).
    Returns how many transfers were posted.
    """
    for leg in legs:
        if (
            isinstance(leg.amount, bool)
            or not isinstance(leg.amount, int)
            or not 0 < leg.amount <= MAX_AMOUNT
            or leg.debit_id == leg.credit_id
        ):
            raise ValueError(f"bad leg {leg!r}")
    keys = [leg.key for leg in legs if leg.key is not None]
    if len(keys) != len(set(keys)):
        raise ValueError("a key appears twice in the batch")
    seen = _rows_by_key(keys)
    fresh = []
    for leg in legs:
        if leg.key in seen:
            _replay(
                seen[leg.key],
                _content(leg.debit_id, leg.credit_id, leg.amount, leg.reason, leg.cause, POSTED),
            )
        else:
            fresh.append(leg)
    if not fresh:
        return 0
    delta: dict[int, int] = defaultdict(int)
    for leg in fresh:
        delta[leg.debit_id] -= leg.amount
        delta[leg.credit_id] += leg.amount
    # Only accounts that lose beans can break a limit: lock those (ascending id) and
    # check them. Accounts that only receive are locked by the UPDATE itself; locking
    # 100,000 wallets up front would cost more than the whole insert.
    locked = _lock_many(sorted(k for k, change in delta.items() if change < 0))
    for account_id, (balance, held, allow_negative, _) in locked.items():
        if not allow_negative and balance - held + delta[account_id] < 0:
            raise InsufficientFunds(short_message, short_code)
    currency = _one_currency(sorted(delta))
    now = utcnow()
    _insert_many(
        [
            (
                leg.debit_id,
                leg.credit_id,
                leg.amount,
                currency,
                leg.reason,
                leg.cause[0] if leg.cause else None,
                leg.cause[1] if leg.cause else None,
                leg.key,
                actor_id,
                POSTED,
                now,
            )
            for leg in fresh
        ]
    )
    _add_to_balances(delta)
    return len(fresh)


_BATCH_COLUMNS = (
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency",
    "reason",
    "cause_type",
    "cause_id",
    "idempotency_key",
    "actor_id",
    "status",
    "created_at",
)


def _lock_many(ids: list[int]) -> dict[int, tuple]:
    """``lock`` for any number of accounts (ascending id, so no deadlock with single transfers)."""
    if db.session.get_bind().dialect.name != "postgresql":
        locked: dict[int, tuple] = {}
        for start in range(0, len(ids), CHUNK):  # SQLite: the write lock is already ours
            locked.update(lock(ids[start : start + CHUNK]))
        return locked
    rows = (
        _conn()
        .execute(
            text(
                "SELECT id, balance, held, allow_negative, currency FROM ledger_account "
                "WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
            ),
            {"ids": ids},
        )
        .all()
    )
    if len(rows) != len(ids):
        raise AccountNotFound()
    return {r.id: (r.balance, r.held, r.allow_negative, r.currency) for r in rows}


def _one_currency(ids: list[int]) -> str:
    """The currency all these accounts share (404 unless they all exist)."""
    counts: dict[str, int] = defaultdict(int)
    chunks: list
    if db.session.get_bind().dialect.name == "postgresql":
        chunks = [
            text(
                "SELECT currency, count(*) FROM ledger_account WHERE id = ANY(:ids) "
                "GROUP BY currency"
            ).bindparams(ids=ids)
        ]
    else:
        chunks = [
            select(_acc.c.currency, func.count())
            .where(_acc.c.id.in_(ids[i : i + CHUNK]))
            .group_by(_acc.c.currency)
            for i in range(0, len(ids), CHUNK)
        ]
    for stmt in chunks:
        for currency, n in _conn().execute(stmt).all():
            counts[currency] += n
    if sum(counts.values()) != len(ids):
        raise AccountNotFound()
    if len(counts) != 1:
        raise ValueError("a batch moves one currency")
    return next(iter(counts))


def _insert_many(rows: list[tuple]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany (in C) on SQLite."""
    conn = _conn()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY ledger_transfer ({', '.join(_BATCH_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(_tr.insert(), [dict(zip(_BATCH_COLUMNS, row, strict=True)) for row in rows])


def _add_to_balances(delta: dict[int, int]) -> None:
    """One UPDATE for all accounts, the deltas passed as one JSON/array parameter."""
    if db.session.get_bind().dialect.name == "postgresql":
        _conn().execute(
            text(
                "UPDATE ledger_account AS a SET balance = a.balance + d.delta "
                "FROM unnest(CAST(:ids AS integer[]), CAST(:deltas AS bigint[])) AS d(id, delta) "
                "WHERE a.id = d.id"
            ),
            {"ids": list(delta), "deltas": list(delta.values())},
        )
    else:
        _conn().execute(
            text(
                "UPDATE ledger_account SET balance = balance + d.delta "
                "FROM (SELECT value ->> 0 AS id, value ->> 1 AS delta FROM json_each(:deltas)) AS d "
                "WHERE ledger_account.id = d.id"
            ),
            {"deltas": json.dumps([[k, v] for k, v in delta.items()])},
        )


# -- reading -------------------------------------------------------------------------------

_Settlement = aliased(Transfer, name="settlement")


def open_hold():
    """A condition: the transfer is a hold that no post or void has ended yet."""
    return and_(
        Transfer.status == PENDING,
        ~select(_Settlement.id).where(_Settlement.pending_id == Transfer.id).exists(),
    )


def in_effect():
    """A condition: the transfer counts now (posted, or a hold still open).

    A settled hold is represented by its settlement alone: a posted one by
    the ``posted`` row pointing at it, a voided one by nothing.
    """
    return or_(Transfer.status == POSTED, open_hold())


def transfers_of(account_id: int, *, statuses=(POSTED, PENDING)):
    """A select of the transfers touching an account (add order and limit).

    ``posted`` rows (a settled hold shows once, as its ``posted`` row),
    ``pending`` holds while still open, ``voided`` the rows that voided a hold.
    """
    wanted = []
    if POSTED in statuses:
        wanted.append(Transfer.status == POSTED)
    if PENDING in statuses:
        wanted.append(open_hold())
    if VOIDED in statuses:
        wanted.append(Transfer.status == VOIDED)
    return select(Transfer).where(
        or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id),
        or_(*wanted),
    )


def posted_sum(account_id: int) -> int:
    """What the account's posted transfers add up to (equals its balance)."""
    credit = db.session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.credit_account_id == account_id, Transfer.status == POSTED
        )
    )
    debit = db.session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.debit_account_id == account_id, Transfer.status == POSTED
        )
    )
    return int(credit or 0) - int(debit or 0)


# -- audit ---------------------------------------------------------------------------------
# Each invariant is one set-based query returning the first offenders (account ids,
# transfer ids, or currencies): no query per account, there may be a million of them.

INVARIANTS: tuple[tuple[str, str], ...] = (
    ("amounts_positive", "SELECT id FROM ledger_transfer WHERE amount <= 0 ORDER BY id"),
    (
        "currencies_match",
        "SELECT t.id FROM ledger_transfer t "
        "JOIN ledger_account d ON d.id = t.debit_account_id "
        "JOIN ledger_account c ON c.id = t.credit_account_id "
        "WHERE d.currency <> t.currency OR c.currency <> t.currency ORDER BY t.id",
    ),
    (
        "settlements_end_holds",
        "SELECT s.id FROM ledger_transfer s LEFT JOIN ledger_transfer p ON p.id = s.pending_id "
        "WHERE s.pending_id IS NOT NULL AND (p.id IS NULL OR p.status <> 'pending' "
        "OR s.status NOT IN ('posted', 'voided') OR s.debit_account_id <> p.debit_account_id "
        "OR s.credit_account_id <> p.credit_account_id OR s.amount <> p.amount) ORDER BY s.id",
    ),
    (
        "reversals_mirror_posted",
        "SELECT r.id FROM ledger_transfer r LEFT JOIN ledger_transfer o ON o.id = r.reverses_id "
        "WHERE r.reverses_id IS NOT NULL AND (o.id IS NULL OR o.status <> 'posted' "
        "OR r.status <> 'posted' OR o.reverses_id IS NOT NULL "
        "OR r.debit_account_id <> o.credit_account_id "
        "OR r.credit_account_id <> o.debit_account_id OR r.amount <> o.amount) ORDER BY r.id",
    ),
    (
        "currencies_sum_to_zero",
        "SELECT currency FROM ledger_account GROUP BY currency HAVING sum(balance) <> 0 "
        "ORDER BY currency",
    ),
    (
        "balance_is_posted_transfers",
        "SELECT a.id FROM ledger_account a LEFT JOIN ("
        " SELECT account_id, sum(change) AS total FROM ("
        "  SELECT credit_account_id AS account_id, amount AS change FROM ledger_transfer"
        "  WHERE status = 'posted'"
        "  UNION ALL SELECT debit_account_id, -amount FROM ledger_transfer WHERE status = 'posted'"
        " ) moves GROUP BY account_id) p ON p.account_id = a.id "
        "WHERE a.balance <> coalesce(p.total, 0) ORDER BY a.id",
    ),
    (
        "held_is_open_holds",
        "SELECT a.id FROM ledger_account a LEFT JOIN ("
        " SELECT h.debit_account_id AS account_id, sum(h.amount) AS total FROM ledger_transfer h"
        " WHERE h.status = 'pending' AND NOT EXISTS ("
        "  SELECT 1 FROM ledger_transfer s WHERE s.pending_id = h.id)"
        " GROUP BY h.debit_account_id) o ON o.account_id = a.id "
        "WHERE a.held <> coalesce(o.total, 0) ORDER BY a.id",
    ),
    (
        "not_overdrawn",
        "SELECT id FROM ledger_account WHERE held < 0 "
        "OR (NOT allow_negative AND balance - held < 0) ORDER BY id",
    ),
)


def audit(limit: int = 5) -> list[tuple[str, list]]:
    """Every invariant in order, with its first ``limit`` offenders (empty: it holds)."""
    conn = _conn()
    return [
        (name, list(conn.execute(text(f"{sql} LIMIT {int(limit)}")).scalars()))
        for name, sql in INVARIANTS
    ]


def failures(limit: int = 5) -> list[str]:
    """The invariants that fail, as "name: offenders" lines (empty when the books are sound)."""
    return [f"{name}: {', '.join(map(str, bad))}" for name, bad in audit(limit) if bad]


def check_invariants() -> None:
    """Raise AssertionError naming every invariant that fails. For tests and audits."""
    failed = failures()
    assert not failed, "ledger invariants fail: " + "; ".join(failed)
