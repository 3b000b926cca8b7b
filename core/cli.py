"""The ``jindou`` command: Flask's CLI over ``create_app`` plus our own commands."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from core import create_app


def _db_group():
    """Flask-Migrate's ``db`` group, with ``upgrade`` defaulting to ``heads``:
    core and every loaded plugin have a branch of their own."""
    from flask_migrate.cli import db as migrate_db

    group = copy.copy(migrate_db)
    group.commands = dict(migrate_db.commands)
    upgrade = copy.copy(migrate_db.commands["upgrade"])
    upgrade.params = [copy.copy(p) for p in upgrade.params]
    for param in upgrade.params:
        if param.name == "revision":
            param.default = "heads"
    group.commands["upgrade"] = upgrade
    return group


@click.group(
    cls=FlaskGroup,
    create_app=lambda: create_app(),
    help="Jindou 金豆 — volunteer and incentive-points platform.",
)
def main():
    pass


def upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(revision="heads")


@click.command("create-admin")
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@with_appcontext
def create_admin(phone, name, password):
    """Create a platform administrator (may create districts); prints the user id."""
    from marshmallow import ValidationError

    from core.api import ApiError
    from core.auth.schemas import RegisterSchema
    from core.auth.services import register_user
    from core.extensions import db

    try:
        data = RegisterSchema().load({"phone": phone, "name": name, "password": password})
        user = register_user(**data, platform_admin=True)
    except ValidationError as err:
        raise click.ClickException(str(err.normalized_messages())) from err
    except ApiError as err:
        raise click.ClickException(err.message) from err
    db.session.commit()
    click.echo(user.id)


@click.command("plugins")
@with_appcontext
def list_plugins():
    """List installed plugins: name, titles, version, needs."""
    manager = current_app.extensions["jindou_plugins"]
    for meta in manager.meta.values():
        needs = ",".join(meta.requires) or "-"
        click.echo(f"{meta.name}\t{meta.title}\t{meta.title_en}\t{meta.version}\tneeds: {needs}")


@click.group("ledger")
def ledger_group():
    """The double-entry ledger."""


@ledger_group.command("check")
@with_appcontext
def ledger_check():
    """Verify every ledger invariant; exit non-zero naming the first that fails."""
    from core import ledger

    first_failed = None
    for name, offenders in ledger.audit():
        if offenders:
            click.echo(f"FAIL {name}: {', '.join(map(str, offenders))}")
            first_failed = first_failed or name
        else:
            click.echo(f"ok   {name}")
    if first_failed:
        raise click.ClickException(f"ledger invariant fails: {first_failed}")


@click.group("plugin")
def plugin_group():
    """Write your own plugin (see docs/plugins.md)."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write a stand-alone package DIR/NAME (and DIR/tests) instead of "
    "plugins/NAME in this repository.",
)
@click.option("--title", default=None, help="Chinese title (default: NAME).")
@click.option("--title-en", default=None, help="English title.")
@with_appcontext
def new_plugin(name, path, title, title_en):
    """Scaffold plugin NAME in the house shape, with a migration and passing tests."""
    from core.plugins import discover
    from core.scaffold import ScaffoldError, create

    taken = set(discover()) | set(current_app.blueprints)
    try:
        made = create(name, taken=taken, path=path, title=title, title_en=title_en)
    except ScaffoldError as err:
        raise click.ClickException(str(err)) from err
    for file in made.files:
        click.echo(f"  created {file}")
    click.echo(
        f"\nDeclare it in pyproject.toml (then `pip install -e .` again):\n\n"
        f"{made.entry_point(name)}\n\n"
        f"then: jindou db upgrade && pytest {made.tests_dir}"
    )


def register_commands(app) -> None:
    """Core commands live on ``app.cli`` (so ``flask``/``jindou`` and tests see them)."""
    app.cli.add_command(create_admin)
    app.cli.add_command(list_plugins)
    app.cli.add_command(ledger_group)
    app.cli.add_command(plugin_group)
    app.cli.add_command(_db_group(), "db")  # replaces Flask-Migrate's, see _db_group


@main.command("demo")
@click.option("--port", default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--reset", is_flag=True, help="Delete the demo database and start over.")
@click.option("--no-serve", is_flag=True, help="Seed and print the logins, do not serve.")
def demo(port, host, reset, no_serve):
    """Create the database if needed, seed a demo district, print logins, serve."""
    from core.demo import DEMO_PASSWORD, seed

    if reset and not os.environ.get("JINDOU_DATABASE_URL"):
        app = create_app()
        db_file = os.path.join(app.instance_path, "jindou.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db_file + suffix):
                os.remove(db_file + suffix)
    app = create_app()
    # The demo is served over plain http, where Secure cookies would never come back.
    app.config.update(
        JINDOU_SECURE_COOKIES=False, SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False
    )
    with app.app_context():
        upgrade_database()
        logins = seed()
    url = f"http://{host}:{port}/"
    click.echo(f"\n  金豆 Jindou demo: {url}\n  password for every login: {DEMO_PASSWORD}\n")
    for role, phone, name in logins:
        click.echo(f"  {role:<28} {phone}  {name}")
    click.echo("")
    if not no_serve:
        # Not app.run(): Flask ignores it inside a CLI command.
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True)
