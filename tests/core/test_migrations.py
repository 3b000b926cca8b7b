"""Migrations and models agree, and ``jindou db upgrade`` creates exactly the
tables of the plugins that are loaded."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from core import create_app
from core.config import parse_plugin_list
from core.extensions import db
from core.plugins import discover
from core.testing import base_config


def test_models_and_migrations_agree(app):
    # Another test may have imported the models of a plugin this run leaves out
    # (JINDOU_PLUGINS): its tables are not built, so they are not compared.
    wanted = parse_plugin_list(os.environ.get("JINDOU_PLUGINS"))
    left_out = [] if wanted is None else [p for p in discover() if p not in wanted]

    def compared(item) -> bool:
        thing = item[0] if isinstance(item, list) else item  # modify_* come in lists
        table = getattr(thing[1], "table", thing[1])  # an index names its table
        name = getattr(table, "name", None) or (thing[2] if isinstance(thing[2], str) else "")
        return name != "alembic_version" and not any(name.startswith(f"{p}_") for p in left_out)

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, db.metadata) if compared(d)]
    assert diff == [], f"models and migrations disagree; write a migration: {diff}"


def _tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


SUBSETS = [[], *([name] for name in sorted(discover())), sorted(discover())]


@pytest.mark.parametrize("subset", SUBSETS, ids=lambda s: "+".join(s) or "core-only")
def test_db_upgrade_creates_exactly_the_loaded_plugins_tables(tmp_path, subset):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({**base_config(url), "JINDOU_PLUGINS": subset})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    installed = sorted(discover())
    with app.app_context():
        expected = {
            t.name
            for t in db.metadata.sorted_tables
            if not any(t.name.startswith(f"{p}_") for p in installed)
            or any(t.name.startswith(f"{p}_") for p in subset)
        }
    assert _tables(url) == expected
    # upgrading again is a no-op
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0


def test_ledger_migration_turns_settled_holds_into_settlement_rows(tmp_path):
    """0003: accounts join the "points" namespace; a hold settled in place becomes
    the pending row plus a settlement row; the books still balance."""
    import os

    from flask_migrate import upgrade
    from sqlalchemy import text

    from core import ledger

    url = os.environ.get("JINDOU_MIGRATION_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({**base_config(url), "JINDOU_PLUGINS": []})
    with app.app_context():
        from core.testing import drop_everything

        drop_everything()
        upgrade(revision="0002_ledger")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ledger_account (id, owner_type, owner_id, currency, kind, balance, "
                    "held, allow_negative, created_at) VALUES "
                    "(1, 'org', 1, 'bean', 'donations', -100, 0, true, '2026-01-01'), "
                    "(2, 'user', 1, 'bean', 'wallet', 70, 10, false, '2026-01-01'), "
                    "(3, 'org', 1, 'bean', 'redeemed', 30, 0, false, '2026-01-01')"
                )
            )
            rows = [  # id, debit, credit, amount, status, settled_at, reverses_id
                (1, 1, 2, 100, "posted", None, None),
                (2, 2, 3, 30, "posted", "2026-01-03", None),  # a hold, posted
                (3, 2, 3, 20, "voided", "2026-01-04", None),  # a hold, voided
                (4, 2, 3, 10, "pending", None, None),  # a hold, open
                (5, 2, 3, 5, "posted", None, None),
                (6, 3, 2, 5, "posted", None, 5),  # reverses 5
            ]
            for row in rows:
                conn.execute(
                    text(
                        "INSERT INTO ledger_transfer (id, debit_account_id, credit_account_id, "
                        "amount, currency, reason, status, settled_at, reverses_id, created_at) "
                        "VALUES (:id, :d, :c, :amount, 'bean', 'x', :status, :settled, :reverses, "
                        "'2026-01-02')"
                    ),
                    dict(
                        zip(
                            ("id", "d", "c", "amount", "status", "settled", "reverses"),
                            row,
                            strict=True,
                        )
                    ),
                )
            if conn.dialect.name == "postgresql":  # ids were given: move the sequences on
                for table in ("ledger_account", "ledger_transfer"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        upgrade(revision="heads")
        assert set(db.session.scalars(select(ledger.Account.namespace))) == {"points"}
        got = db.session.execute(
            select(
                ledger.Transfer.id,
                ledger.Transfer.status,
                ledger.Transfer.pending_id,
                ledger.Transfer.reverses_id,
            ).order_by(ledger.Transfer.id)
        ).all()
        assert [tuple(r) for r in got] == [
            (1, "posted", None, None),
            (2, "pending", None, None),
            (3, "pending", None, None),
            (4, "pending", None, None),
            (5, "posted", None, None),
            (6, "posted", None, 5),
            (7, "posted", 2, None),
            (8, "voided", 3, None),
        ]
        assert ledger.failures() == []
        db.session.remove()  # its read locks would block the DROP on PostgreSQL
        drop_everything()
