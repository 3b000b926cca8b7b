"""Migrations and models agree, and ``jindou db upgrade`` creates exactly the
tables of the plugins that are loaded."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from core import create_app
from core.extensions import db
from core.plugins import discover
from core.testing import base_config


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, db.metadata)
                if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
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
        expected = {t.name for t in db.metadata.sorted_tables
                    if not any(t.name.startswith(f"{p}_") for p in installed)
                    or any(t.name.startswith(f"{p}_") for p in subset)}
    assert _tables(url) == expected
    # upgrading again is a no-op
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
