"""The double-entry ledger shared by points, meals and vouchers.

Accounts hold an integer ``balance`` per currency; every change is a
transfer from a debit account to a credit account, so the sum of all
balances of a currency is always zero. Transfers are append-only: a posted
transfer is never updated or deleted, a mistake is undone by a reversing
transfer. Only a *pending* transfer changes once, to posted or voided.

Holds (two-phase transfers). A pending transfer reserves its amount on the
debit account by raising that account's ``held``; ``balance`` is untouched
until the transfer is posted. So ``balance`` always equals the sum of the
account's posted transfers, and what may be spent now is ``balance - held``
(:func:`spendable`). We keep ``held`` on the account rather than moving the
beans to a hold account because the reservation then needs no extra account
per owner, and the sum-to-zero invariant holds over posted transfers alone.

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
from sqlalchemy.orm import Mapped, mapped_column

from core.api import ApiError, Conflict, NotFound
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
        UniqueConstraint("owner_type", "owner_id", "currency", "kind"),
        # Belt and braces: the service checks inside the lock, the database refuses anyway.
        CheckConstraint("allow_negative OR balance - held >= 0", name="not_overdrawn"),
        CheckConstraint("held >= 0", name="held_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(40))  # "user", "org", ...
    owner_id: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(20))  # "bean", "fen", ...
    kind: Mapped[str] = mapped_column(String(40))  # "wallet", "fund", "donations", ...
    balance: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of posted transfers
    held: Mapped[int] = mapped_column(BigInteger, default=0)  # reserved by pending debits
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
        Index("ix_ledger_transfer_debit", "debit_account_id", "id"),
        Index("ix_ledger_transfer_credit", "credit_account_id", "id"),
        Index("ix_ledger_transfer_cause", "cause_type", "cause_id"),
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
    # Set on a reversal; "once only" is enforced by its idempotency key, so no index here
    # (every index costs a batch of 100,000 transfers a second or more).
    reverses_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transfer.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(Timestamp)  # when a hold ended


class InsufficientFunds(Conflict):
    """409: the debit account cannot cover the amount."""

    def __init__(self, message: str = "余额不足", code: str = "insufficient_balance"):
        super().__init__(message, code=code)


@dataclasses.dataclass(frozen=True)
class Posted:
    """What a transfer call did: the transfer's id and whether it was a replay."""

    id: int
    status: str
    amount: int
    replayed: bool = False


# -- accounts ------------------------------------------------------------------------


def _insert_ignoring_conflict(table, values: dict):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).values(**values).on_conflict_do_nothing()


def account(owner_type: str, owner_id: int, *, currency: str, kind: str,
            allow_negative: bool = False, create: bool = True) -> Account | None:
    """The account of an owner, created on first use (safe under a race)."""
    # populate_existing: balances change through Core statements, which do not
    # refresh objects the session already holds; a lookup must show the truth.
    stmt = select(Account).where(
        Account.owner_type == owner_type, Account.owner_id == owner_id,
        Account.currency == currency, Account.kind == kind,
    ).execution_options(populate_existing=True)
    found = db.session.scalar(stmt)
    if found is not None or not create:
        return found
    db.session.execute(_insert_ignoring_conflict(Account.__table__, dict(
        owner_type=owner_type, owner_id=owner_id, currency=currency, kind=kind, balance=0,
        held=0, allow_negative=allow_negative, created_at=utcnow())))
    return db.session.scalar(stmt)


def spendable(account_id: int) -> int:
    row = db.session.execute(select(Account.balance, Account.held)
                             .where(Account.id == account_id)).one()
    return row.balance - row.held


# -- the unit of work -------------------------------------------------------------------


RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


def is_retryable(err: Exception) -> bool:
    if isinstance(err, IntegrityError):
        # A racing insert of the same key or account: the retry sees the winner.
        # Any other integrity error (a CHECK, a foreign key) is a bug: no retry.
        return getattr(err.orig, "sqlstate", None) == "23505" or "UNIQUE constraint" in str(
            err.orig)
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
_LOCK = (select(_acc.c.id, _acc.c.balance, _acc.c.held, _acc.c.allow_negative, _acc.c.currency)
         .where(_acc.c.id.in_(bindparam("ids", expanding=True))).order_by(_acc.c.id)
         .with_for_update())
_APPLY = (update(_acc).where(_acc.c.id.in_([bindparam("debit"), bindparam("credit")]))
          .values(balance=_acc.c.balance + case((_acc.c.id == bindparam("credit"),
                                                 bindparam("amount")),
                                                else_=-bindparam("amount"))))
_APPLY_RELEASING = _APPLY.values(held=_acc.c.held - case(
    (_acc.c.id == bindparam("debit"), bindparam("amount")), else_=0))
_HOLD = update(_acc).where(_acc.c.id == bindparam("debit")).values(
    held=_acc.c.held + bindparam("amount"))
_RELEASE = update(_acc).where(_acc.c.id == bindparam("debit")).values(
    held=_acc.c.held - bindparam("amount"))
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
        _INSERT_KEYED[dialect] = dialect_insert(_tr).on_conflict_do_nothing().returning(_tr.c.id)
    return _INSERT_KEYED[dialect]


def lock(account_ids: Iterable[int], conn=None) -> dict[int, tuple[int, int, bool, str]]:
    """Lock accounts in ascending id order; their (balance, held, allow_negative, currency)."""
    ids = sorted(set(account_ids))
    rows = (conn or _conn()).execute(_LOCK, {"ids": ids}).all()
    if len(rows) != len(ids):
        raise NotFound("账户不存在", code="account_not_found")
    return {r.id: (r.balance, r.held, r.allow_negative, r.currency) for r in rows}


def _same_content(row, wanted: dict) -> bool:
    return all(getattr(row, k) == v for k, v in wanted.items())


def _replay(key: str, wanted: dict) -> Posted:
    row = db.session.execute(select(Transfer).where(Transfer.idempotency_key == key)).scalar_one()
    if not _same_content(row, wanted):
        raise Conflict("幂等键已用于另一笔不同的操作", code="idempotency_conflict")
    return Posted(row.id, row.status, row.amount, replayed=True)


def transfer(debit: Account | int, credit: Account | int, amount: int, *, reason: str,
             cause: tuple[str, int] | None = None, key: str | None = None,
             actor_id: int | None = None, pending: bool = False,
             short_message: str = "余额不足", short_code: str = "insufficient_balance") -> Posted:
    """Move ``amount`` from ``debit`` to ``credit`` (or hold it, if ``pending``).

    Runs inside the caller's transaction (use :func:`atomic`). A replay of
    ``key`` with the same content returns the first transfer; with different
    content it is a 409. 409 ``short_message`` when the debit side cannot pay.
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
    conn = _conn()
    if conn.dialect.name == "postgresql":
        return _transfer_pg(conn, debit_id, credit_id, amount, reason=reason, cause=cause,
                            key=key, actor_id=actor_id, pending=pending,
                            short_message=short_message, short_code=short_code)
    locked = lock((debit_id, credit_id), conn)
    currency = locked[debit_id][3]
    if locked[credit_id][3] != currency:
        raise ValueError("accounts of different currencies")
    content = dict(debit_account_id=debit_id, credit_account_id=credit_id, amount=amount,
                   currency=currency, reason=reason, cause_type=cause[0] if cause else None,
                   cause_id=cause[1] if cause else None)
    status = PENDING if pending else POSTED
    values = dict(content, idempotency_key=key, actor_id=actor_id, status=status,
                  reverses_id=None, created_at=utcnow(), settled_at=None)
    if key is not None:
        new_id = conn.execute(_insert_keyed(), values).scalar()
        if new_id is None:
            return _replay(key, content)
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
                                 created_at)
    SELECT :debit, :credit, :amount, currency, :reason, :cause_type, :cause_id, :key, :actor_id,
           :status, :created_at FROM ok
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


def _transfer_pg(conn, debit_id, credit_id, amount, *, reason, cause, key, actor_id, pending,
                 short_message, short_code) -> Posted:
    status = PENDING if pending else POSTED
    row = conn.execute(_PG_TRANSFER, {
        "debit": debit_id, "credit": credit_id, "amount": amount, "reason": reason,
        "cause_type": cause[0] if cause else None, "cause_id": cause[1] if cause else None,
        "key": key, "actor_id": actor_id, "status": status, "pending": pending,
        "created_at": utcnow()}).one()
    if row.found != 2:
        raise NotFound("账户不存在", code="account_not_found")
    if row.new_id is not None:
        assert row.updated == 2
        return Posted(row.new_id, status, amount)
    # Nothing inserted: a used key (replay or clash), or the limit or currency said no.
    if key is not None and db.session.scalar(
            select(Transfer.id).where(Transfer.idempotency_key == key)) is not None:
        currency = db.session.scalar(select(Account.currency).where(Account.id == debit_id))
        return _replay(key, dict(
            debit_account_id=debit_id, credit_account_id=credit_id, amount=amount,
            currency=currency, reason=reason, cause_type=cause[0] if cause else None,
            cause_id=cause[1] if cause else None))
    currencies = set(db.session.scalars(select(Account.currency).where(
        Account.id.in_((debit_id, credit_id)))))
    if len(currencies) != 1:
        raise ValueError("accounts of different currencies")
    raise InsufficientFunds(short_message, short_code)


def _apply(debit_id: int, credit_id: int, amount: int, *, release_hold: bool = False,
           conn=None) -> None:
    """Both balance changes in one statement (one round trip)."""
    (conn or _conn()).execute(_APPLY_RELEASING if release_hold else _APPLY,
                    {"debit": debit_id, "credit": credit_id, "amount": amount})


def _settle(transfer_id: int, to_status: str) -> Posted:
    row = db.session.execute(
        select(Transfer.debit_account_id, Transfer.credit_account_id, Transfer.amount)
        .where(Transfer.id == transfer_id)).one_or_none()
    if row is None:
        raise NotFound("转账不存在", code="transfer_not_found")
    lock((row.debit_account_id, row.credit_account_id))
    status = db.session.scalar(select(Transfer.status).where(Transfer.id == transfer_id))
    if status == to_status:
        return Posted(transfer_id, status, row.amount, replayed=True)
    if status != PENDING:
        raise Conflict("这笔冻结已处理过", code="transfer_settled")
    db.session.execute(update(Transfer).where(Transfer.id == transfer_id,
                                              Transfer.status == PENDING)
                       .values(status=to_status, settled_at=utcnow()))
    if to_status == POSTED:
        _apply(row.debit_account_id, row.credit_account_id, row.amount, release_hold=True)
    else:
        _conn().execute(_RELEASE, {"debit": row.debit_account_id, "amount": row.amount})
    return Posted(transfer_id, to_status, row.amount)


def post_pending(transfer_id: int) -> Posted:
    """Complete a hold: the held amount leaves the debit account. Idempotent."""
    return _settle(transfer_id, POSTED)


def void_pending(transfer_id: int) -> Posted:
    """Cancel a hold: the held amount is spendable again. Idempotent."""
    return _settle(transfer_id, VOIDED)


def reverse(transfer_id: int, *, reason: str, actor_id: int | None = None,
            short_message: str = "余额不足，无法冲正") -> Posted:
    """Undo a posted transfer with an opposite one (once; a replay returns it)."""
    original = db.session.get(Transfer, transfer_id)
    if original is None:
        raise NotFound("转账不存在", code="transfer_not_found")
    if original.status != POSTED:
        raise Conflict("只能冲正已入账的转账", code="not_posted")
    if original.reverses_id is not None:
        raise Conflict("冲正记录不能再冲正", code="is_reversal")
    posted = transfer(original.credit_account_id, original.debit_account_id, original.amount,
                      reason=reason, cause=("reversal", original.id),
                      key=f"ledger:reverse:{original.id}", actor_id=actor_id,
                      short_message=short_message)
    if not posted.replayed:
        db.session.execute(update(Transfer).where(Transfer.id == posted.id)
                           .values(reverses_id=original.id))
    return posted


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


def post_batch(legs: list[Leg], *, actor_id: int | None = None,
               short_message: str = "余额不足", short_code: str = "insufficient_balance") -> int:
    """Post many transfers in the caller's transaction, set-based.

    Locks every account once (ascending id), checks each account's net
    change, then one bulk INSERT of the transfers and one aggregated UPDATE
    of the balances. Legs whose key was already used are skipped (a replayed
    batch posts nothing); a reused key with other content is a 409.
    Returns how many transfers were posted.
    """
    for leg in legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int) or \
                not 0 < leg.amount <= MAX_AMOUNT or leg.debit_id == leg.credit_id:
            raise ValueError(f"bad leg {leg!r}")
    keys = [leg.key for leg in legs if leg.key is not None]
    if len(keys) != len(set(keys)):
        raise ValueError("a key appears twice in the batch")
    seen = _existing_keys(keys)
    fresh = []
    for leg in legs:
        if leg.key in seen:
            row = seen[leg.key]
            if (row.debit_account_id, row.credit_account_id, row.amount) != \
                    (leg.debit_id, leg.credit_id, leg.amount):
                raise Conflict("幂等键已用于另一笔不同的操作", code="idempotency_conflict")
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
    _insert_many([(leg.debit_id, leg.credit_id, leg.amount, currency, leg.reason,
                   leg.cause[0] if leg.cause else None, leg.cause[1] if leg.cause else None,
                   leg.key, actor_id, POSTED, now) for leg in fresh])
    _add_to_balances(delta)
    return len(fresh)


_BATCH_COLUMNS = ("debit_account_id", "credit_account_id", "amount", "currency", "reason",
                  "cause_type", "cause_id", "idempotency_key", "actor_id", "status", "created_at")


def _lock_many(ids: list[int]) -> dict[int, tuple]:
    """``lock`` for any number of accounts (ascending id, so no deadlock with single transfers)."""
    if db.session.get_bind().dialect.name != "postgresql":
        locked: dict[int, tuple] = {}
        for start in range(0, len(ids), CHUNK):  # SQLite: the write lock is already ours
            locked.update(lock(ids[start:start + CHUNK]))
        return locked
    rows = _conn().execute(text(
        "SELECT id, balance, held, allow_negative, currency FROM ledger_account "
        "WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": ids}).all()
    if len(rows) != len(ids):
        raise NotFound("账户不存在", code="account_not_found")
    return {r.id: (r.balance, r.held, r.allow_negative, r.currency) for r in rows}


def _one_currency(ids: list[int]) -> str:
    """The currency all these accounts share (404 unless they all exist)."""
    counts: dict[str, int] = defaultdict(int)
    if db.session.get_bind().dialect.name == "postgresql":
        chunks = [text("SELECT currency, count(*) FROM ledger_account WHERE id = ANY(:ids) "
                       "GROUP BY currency").bindparams(ids=ids)]
    else:
        chunks = [select(_acc.c.currency, func.count()).where(_acc.c.id.in_(ids[i:i + CHUNK]))
                  .group_by(_acc.c.currency) for i in range(0, len(ids), CHUNK)]
    for stmt in chunks:
        for currency, n in _conn().execute(stmt).all():
            counts[currency] += n
    if sum(counts.values()) != len(ids):
        raise NotFound("账户不存在", code="account_not_found")
    if len(counts) != 1:
        raise ValueError("a batch moves one currency")
    return next(iter(counts))


def _insert_many(rows: list[tuple]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany (in C) on SQLite."""
    conn = _conn()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY ledger_transfer ({', '.join(_BATCH_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(_tr.insert(), [dict(zip(_BATCH_COLUMNS, row, strict=True)) for row in rows])


def _existing_keys(keys: list[str]) -> dict[str, object]:
    if keys and db.session.get_bind().dialect.name == "postgresql":
        rows = _conn().execute(text(
            "SELECT idempotency_key, debit_account_id, credit_account_id, amount "
            "FROM ledger_transfer WHERE idempotency_key = ANY(:keys)"), {"keys": keys}).all()
        return {r.idempotency_key: r for r in rows}
    found = {}
    for start in range(0, len(keys), CHUNK):
        rows = db.session.execute(
            select(Transfer.idempotency_key, Transfer.debit_account_id,
                   Transfer.credit_account_id, Transfer.amount)
            .where(Transfer.idempotency_key.in_(keys[start:start + CHUNK]))).all()
        found.update({r.idempotency_key: r for r in rows})
    return found


def _add_to_balances(delta: dict[int, int]) -> None:
    """One UPDATE for all accounts, the deltas passed as one JSON/array parameter."""
    if db.session.get_bind().dialect.name == "postgresql":
        _conn().execute(text(
            "UPDATE ledger_account AS a SET balance = a.balance + d.delta "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:deltas AS bigint[])) AS d(id, delta) "
            "WHERE a.id = d.id"), {"ids": list(delta), "deltas": list(delta.values())})
    else:
        _conn().execute(text(
            "UPDATE ledger_account SET balance = balance + d.delta "
            "FROM (SELECT value ->> 0 AS id, value ->> 1 AS delta FROM json_each(:deltas)) AS d "
            "WHERE ledger_account.id = d.id"),
            {"deltas": json.dumps([[k, v] for k, v in delta.items()])})


# -- reading -------------------------------------------------------------------------------


def transfers_of(account_id: int, *, statuses=(POSTED, PENDING)):
    """A select of the transfers touching an account (add order and limit)."""
    return select(Transfer).where(
        or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id),
        Transfer.status.in_(statuses))


def posted_sum(account_id: int) -> int:
    """What the account's posted transfers add up to (equals its balance)."""
    credit = db.session.scalar(select(func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.credit_account_id == account_id, Transfer.status == POSTED))
    debit = db.session.scalar(select(func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.debit_account_id == account_id, Transfer.status == POSTED))
    return int(credit) - int(debit)


def check_invariants() -> None:
    """Assert the books balance: per currency the balances sum to zero, each
    balance is its posted transfers, held is its pending debits, no account
    that may not go negative is below zero. For tests and audits."""
    sums = db.session.execute(select(Account.currency, func.sum(Account.balance))
                              .group_by(Account.currency)).all()
    for currency, total in sums:
        assert int(total) == 0, f"{currency} balances sum to {total}"
    for acc in db.session.scalars(select(Account)):
        assert acc.balance == posted_sum(acc.id), f"account {acc.id} balance drifted"
        pending = db.session.scalar(select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.debit_account_id == acc.id, Transfer.status == PENDING))
        assert acc.held == int(pending), f"account {acc.id} held drifted"
        assert acc.allow_negative or acc.balance - acc.held >= 0, f"account {acc.id} overdrawn"

