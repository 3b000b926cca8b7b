"""``jindou plugin new``: a scaffolded plugin installs by entry point, migrates
and passes its own tests; a bad or taken name is refused."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.scaffold import core_head

REPO = Path(__file__).resolve().parent.parent.parent
_names = itertools.count()


def unique_name() -> str:
    return f"scaf{uuid.uuid4().hex[:6]}{next(_names)}"


def declare_entry_point(site: Path, name: str, package: str) -> None:
    """What ``pip install`` leaves behind: a dist-info naming the plugin."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[jindou.plugins]\n{name} = {package}\n")


MIGRATIONS_AGREE = """
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.extensions import db


def test_models_and_migration_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, db.metadata)
                if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert diff == []
"""


def scratch_database(url: str | None):
    """The subprocess rebuilds its schema: on PostgreSQL it gets a database of its
    own (it would drop this run's tables), on SQLite a file of its own."""
    if not url or not url.startswith("postgresql"):
        return None, None
    server = make_url(url)
    name = f"{server.database}_scaffold"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin, server.set(database=name).render_as_string(hide_password=False)


@pytest.mark.slow
def test_a_scaffolded_plugin_migrates_and_passes_its_tests(app, tmp_path):
    name = unique_name()
    result = app.test_cli_runner().invoke(
        args=["plugin", "new", name, "--path", str(tmp_path), "--title", "示例插件"]
    )
    assert result.exit_code == 0, result.output
    assert f'{name} = "{name}"' in result.output  # the entry point to declare
    package = tmp_path / name
    for part in (
        "__init__.py",
        "models.py",
        "services/__init__.py",
        "schemas.py",
        "views.py",
        "pages.py",
        "cli.py",
        "README.md",
        f"templates/{name}/index.html",
        f"migrations/0001_{name}_tables.py",
    ):
        assert (package / part).is_file(), part
    migration = (package / "migrations" / f"0001_{name}_tables.py").read_text()
    assert f'depends_on = "{core_head()}"' in migration
    assert f'branch_labels = ("{name}",)' in migration
    (tmp_path / "tests" / "test_migration_agrees.py").write_text(MIGRATIONS_AGREE)
    declare_entry_point(tmp_path, name, name)

    env = {k: v for k, v in os.environ.items() if k != "JINDOU_TEST_DATABASE_URL"}
    env.update(JINDOU_PLUGINS=name, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    admin, url = scratch_database(os.environ.get("JINDOU_TEST_DATABASE_URL"))
    if url:
        env["JINDOU_TEST_DATABASE_URL"] = url
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(tmp_path / "tests"),
                "-q",
                "-p",
                "no:cacheprovider",
                "-W",
                "ignore::pytest.PytestAssertRewriteWarning",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(
                    text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
                )
            admin.dispose()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 passed" in run.stdout, run.stdout


def test_the_generated_code_is_ruff_clean(app, tmp_path):
    name = unique_name()
    assert (
        app.test_cli_runner()
        .invoke(args=["plugin", "new", name, "--path", str(tmp_path)])
        .exit_code
        == 0
    )
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this Python")
    run = subprocess.run(
        [str(ruff), "check", "--config", str(REPO / "pyproject.toml"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize(
    "bad", ["Hello", "my-plugin", "1st", "class", "x" * 31, "trailing_", "naïve"]
)
def test_an_invalid_name_is_refused(app, tmp_path, bad):
    result = app.test_cli_runner().invoke(args=["plugin", "new", bad, "--path", str(tmp_path)])
    assert result.exit_code != 0
    assert "not a valid plugin name" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("taken", ["sample", "auth", "orgs", "qr", "core", "static"])
def test_a_taken_name_is_refused(app, tmp_path, taken):
    """``sample`` is the loaded test plugin; auth, orgs, qr are core's blueprints."""
    result = app.test_cli_runner().invoke(args=["plugin", "new", taken, "--path", str(tmp_path)])
    assert result.exit_code != 0
    assert "already taken" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_installed_plugin_name_is_refused_even_when_not_loaded(app, tmp_path, monkeypatch):
    name = unique_name()
    declare_entry_point(tmp_path, name, "somewhere_else")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = app.test_cli_runner().invoke(args=["plugin", "new", name, "--path", str(tmp_path)])
    assert result.exit_code != 0
    assert "already taken" in result.output


def test_an_existing_folder_is_never_overwritten(app, tmp_path):
    name = unique_name()
    (tmp_path / name).mkdir()
    result = app.test_cli_runner().invoke(args=["plugin", "new", name, "--path", str(tmp_path)])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert list((tmp_path / name).iterdir()) == []
