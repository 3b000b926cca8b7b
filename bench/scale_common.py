"""Shared helpers of bench/scale.py: the app, bulk inserts, batched ledger posting.

The builder writes plain tables with SQLAlchemy Core executemany in big
chunks (one transaction per chunk) and every 金豆/voucher/meal-subsidy
movement through ``core.ledger.post_batch`` (or single ledger calls for
holds), so balances and ``jindou ledger check`` stay consistent.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key"
PASSWORD = "bench-pass-2026"  # every staff and resident of the dataset logs in with it
CHUNK = 20_000


def make_app(database_url: str, *, build_session: bool = False, fk_checks: bool = True):
    """The Jindou app on ``database_url``. ``build_session``: no synchronous commit;
    without ``fk_checks`` the session also skips foreign-key triggers (replica
    role): the builder makes every id itself, and a build with checks on (the
    default at scale 0.01 and below) proves it consistent."""
    if "127.0.0.1" not in database_url and "localhost" not in database_url:
        raise SystemExit("scale.py only runs against a local database")
    os.environ.update(JINDOU_DATABASE_URL=database_url, JINDOU_SECRET_KEY=SECRET)
    from sqlalchemy import event

    from core import create_app
    from core.extensions import db

    app = create_app()
    if build_session:
        with app.app_context():

            def no_sync(dbapi_conn, _record):
                with dbapi_conn.cursor() as cur:
                    cur.execute("SET synchronous_commit = off")
                    if not fk_checks:
                        cur.execute("SET session_replication_role = replica")

            db.engine.dispose()
            event.listen(db.engine, "connect", no_sync)
    return app


class Phases:
    """Prints each phase's time as it ends; keeps them for the summary."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self.start = time.perf_counter()

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        print(f"[{time.perf_counter() - self.start:7.1f}s] {name} ...", flush=True)
        yield
        self.times[name] = time.perf_counter() - t0
        print(f"          {name}: {self.times[name]:.1f} s", flush=True)


def bulk(table, rows: list[dict], chunk: int = CHUNK) -> int:
    """Insert ``rows`` (all with the same keys) with COPY, one commit per chunk.

    COPY, as ``ledger.post_batch`` does: psycopg's executemany sends one
    statement per row (a pipeline), ten times slower at these sizes."""
    from psycopg.types.json import Json
    from sqlalchemy import JSON

    from core.extensions import db

    table = getattr(table, "__table__", table)
    if not rows:
        return 0
    columns = list(rows[0])
    json_cols = {c for c in columns if isinstance(table.c[c].type, JSON)}
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    for start in range(0, len(rows), chunk):
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows[start : start + chunk]:
                copy.write_row([Json(row[c]) if c in json_cols else row[c] for c in columns])
        db.session.commit()
    return len(rows)


def reset_sequences() -> None:
    """Rows were inserted with explicit ids: move every serial sequence past them."""
    from sqlalchemy import text

    from core.extensions import db

    rows = db.session.execute(
        text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "WHERE c.table_schema = 'public' AND c.column_default LIKE 'nextval%'"
        )
    ).all()
    for table, column in rows:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
            )
        )
    db.session.commit()


@contextmanager
def ledger_clock(at: datetime):
    """Ledger rows written inside get ``created_at = at`` (the history is backdated;
    the ledger's own code writes the rows, only its clock is set)."""
    from core import ledger

    saved = ledger.utcnow
    ledger.utcnow = lambda: at
    try:
        yield
    finally:
        ledger.utcnow = saved


def post(legs: list, at: datetime, chunk: int = 5000) -> int:
    """``ledger.post_batch`` in chunks, each its own transaction, dated ``at``."""
    from core import ledger

    done = 0
    with ledger_clock(at):
        for start in range(0, len(legs), chunk):
            part = legs[start : start + chunk]
            done += ledger.atomic(lambda part=part: ledger.post_batch(part))
    return done


class Accounts:
    """Ledger accounts made in bulk with explicit ids (a fresh schema)."""

    def __init__(self):
        self.next_id = 1
        self.ids: dict[tuple, int] = {}

    def make(
        self,
        namespace: str,
        owner_type: str,
        owner_ids,
        *,
        currency: str,
        kind: str,
        allow_negative: bool = False,
    ) -> dict[int, int]:
        from sqlalchemy import func, select

        from core import ledger
        from core.extensions import db
        from core.models import utcnow

        top = db.session.scalar(select(func.coalesce(func.max(ledger.Account.id), 0)))
        self.next_id = max(self.next_id, top + 1)  # services may have made accounts too
        now, rows, made = utcnow(), [], {}
        for owner_id in owner_ids:
            key = (namespace, owner_type, owner_id, currency, kind)
            if key not in self.ids:
                self.ids[key] = self.next_id
                rows.append(
                    dict(
                        id=self.next_id,
                        namespace=namespace,
                        owner_type=owner_type,
                        owner_id=owner_id,
                        currency=currency,
                        kind=kind,
                        balance=0,
                        held=0,
                        allow_negative=allow_negative,
                        created_at=now,
                    )
                )
                self.next_id += 1
            made[owner_id] = self.ids[key]
        bulk(ledger.Account, rows)
        return made


def link_transfers(table: str, key_sql: str, *, since_id: int = 0) -> None:
    """Set ``transfer_id`` of the rows from ``since_id`` on to the id of the ledger
    row whose key is ``key_sql`` (an SQL expression over the row ``r``), set-based."""
    from sqlalchemy import text

    from core.extensions import db

    db.session.execute(
        text(
            f"UPDATE {table} AS r SET transfer_id = t.id FROM ledger_transfer t "
            f"WHERE t.idempotency_key = {key_sql} AND r.transfer_id IS NULL AND r.id >= :since"
        ),
        {"since": since_id},
    )
    db.session.commit()
