"""Ledger throughput, next to the bare cost of a one-row INSERT+COMMIT.

    .venv/bin/python bench/ledger.py                       # SQLite (temporary file)
    .venv/bin/python bench/ledger.py postgresql://postgres@127.0.0.1:5432/jindou_points
    JINDOU_BENCH_DATABASE_URL=... .venv/bin/python bench/ledger.py

It DROPS every table of the database it is given, then builds the schema with
the migrations. Scenarios (each transfer is its own committed write
transaction through ``ledger.atomic``, with an idempotency key):

- single writer;
- a bare loop of one-row INSERT+COMMIT through the same session (the floor
  the database sets), and the ledger/bare ratio;
- 8 concurrent writers crediting one hot wallet (each from its own source);
- 8 concurrent writers on distinct accounts;
- one batch of 100,000 transfers (``ledger.post_batch``, one transaction).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from core import create_app, ledger  # noqa: E402
from core.extensions import db  # noqa: E402
from core.models import utcnow  # noqa: E402

SINGLE = int(os.environ.get("BENCH_SINGLE", 3000))
PER_THREAD = int(os.environ.get("BENCH_PER_THREAD", 400))
THREADS = 8
BATCH = int(os.environ.get("BENCH_BATCH", 100_000))


def make_app(url: str):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 16, "max_overflow": 8}
            if url.startswith("postgres")
            else {},
        }
    )
    return app


def reset_schema() -> None:
    from sqlalchemy import MetaData

    meta = MetaData()
    meta.reflect(bind=db.engine)
    meta.drop_all(bind=db.engine)
    upgrade(revision="heads")
    serial = "SERIAL" if db.engine.dialect.name == "postgresql" else "INTEGER"
    with db.engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE bench_row (id {serial} PRIMARY KEY, v INTEGER)"))


def new_accounts(prefix: str, n: int, *, allow_negative=False) -> list[int]:
    db.session.execute(
        insert(ledger.Account),
        [
            dict(
                namespace="bench",
                owner_type=prefix,
                owner_id=i,
                currency="bean",
                kind="wallet",
                balance=0,
                held=0,
                allow_negative=allow_negative,
                created_at=utcnow(),
            )
            for i in range(n)
        ],
    )
    db.session.commit()
    rows = (
        db.session.execute(
            text("SELECT id FROM ledger_account WHERE owner_type = :p ORDER BY owner_id"),
            {"p": prefix},
        )
        .scalars()
        .all()
    )
    return list(rows)


ROUNDS = 3  # ledger and bare loops alternate, so both see the same machine load


def single_writer(source: int, wallets: list[int], tag: str, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        ledger.atomic(
            lambda i=i: ledger.transfer(
                source, wallets[i % len(wallets)], 1, reason="bench", key=f"single:{tag}:{i}"
            )
        )
    return time.perf_counter() - started


def bare_inserts(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        db.session.execute(text("INSERT INTO bench_row (v) VALUES (:v)"), {"v": i})
        db.session.commit()
    return time.perf_counter() - started


def single_vs_bare(source: int, wallets: list[int], label: str) -> None:
    n = SINGLE // ROUNDS
    ledger_s = bare_s = 0.0
    for r in range(ROUNDS):
        ledger_s += single_writer(source, wallets, f"{label}{r}", n)
        bare_s += bare_inserts(n)
    rate, bare = n * ROUNDS / ledger_s, n * ROUNDS / bare_s
    print(f"single writer{label}:      {rate:8.0f} transfers/s")
    print(f"bare INSERT+COMMIT{label}: {bare:8.0f} rows/s   ratio {rate / bare:.2f}")


def concurrent(app, name: str, sources: list[int], targets: list[int]) -> tuple[float, int]:
    barrier = threading.Barrier(THREADS + 1)
    errors = []

    def worker(t: int):
        with app.app_context():
            barrier.wait()
            try:
                for i in range(PER_THREAD):
                    ledger.atomic(
                        lambda i=i: ledger.transfer(
                            sources[t], targets[t], 1, reason="bench", key=f"{name}:{t}:{i}"
                        )
                    )
            except Exception as err:  # report, do not hide
                errors.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  ! {len(errors)} writer(s) failed: {errors[0]!r}")
    return THREADS * PER_THREAD / elapsed, len(errors)


def batch(source: int, wallets: list[int]) -> float:
    legs = [
        ledger.Leg(source, wallets[i % len(wallets)], 5, "月度发放", key=f"batch:{i}")
        for i in range(BATCH)
    ]
    started = time.perf_counter()
    posted = ledger.atomic(lambda: ledger.post_batch(legs))
    elapsed = time.perf_counter() - started
    assert posted == BATCH
    return elapsed


def main() -> None:
    url = (
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("JINDOU_BENCH_DATABASE_URL")
    ) or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = make_app(url)
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"database: {dialect} ({db.engine.url.render_as_string(hide_password=True)})")
        reset_schema()
        source = new_accounts("source", 1, allow_negative=True)[0]
        wallets = new_accounts("wallet", 100)
        single_vs_bare(source, wallets, "")
        if dialect == "postgresql":
            # For context only: the same loops without waiting for the WAL flush
            # (synchronous_commit=off), i.e. what the CPU allows when fsync is not the limit.
            from sqlalchemy import event

            def async_commit(dbapi, _record):
                dbapi.execute("SET synchronous_commit TO off")

            event.listen(db.engine, "connect", async_commit)
            db.session.remove()
            db.engine.dispose()
            single_vs_bare(source, wallets, " (synchronous_commit=off)")
            event.remove(db.engine, "connect", async_commit)  # durable again below
            db.session.remove()
            db.engine.dispose()
        sources = new_accounts("src8", THREADS, allow_negative=True)
        hot = new_accounts("hot", 1) * THREADS
        mine = new_accounts("mine", THREADS)
        db.session.remove()
    hot_rate, _ = concurrent(app, "hot", sources, hot)
    print(f"8 writers, one hot wallet: {hot_rate:6.0f} transfers/s")
    distinct_rate, _ = concurrent(app, "distinct", sources, mine)
    print(f"8 writers, distinct:       {distinct_rate:6.0f} transfers/s")
    with app.app_context():
        fund = new_accounts("fund", 1, allow_negative=True)[0]
        started = time.perf_counter()
        people = new_accounts("person", BATCH)
        print(f"(created {BATCH} wallets in {time.perf_counter() - started:.1f} s, not timed)")
        seconds = batch(fund, people)
        print(f"batch of {BATCH} transfers: {seconds:6.2f} s ({BATCH / seconds:.0f} transfers/s)")
        ledger.check_invariants() if BATCH <= 10_000 else _quick_check()


def _quick_check() -> None:
    totals = db.session.execute(
        text("SELECT currency, SUM(balance) FROM ledger_account GROUP BY currency")
    ).all()
    assert all(int(total) == 0 for _c, total in totals), totals
    print("books balance: every currency sums to zero")


if __name__ == "__main__":
    main()
