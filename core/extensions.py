"""Extensions: created once here, bound to each app in ``create_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)  # the client's address (see JINDOU_TRUSTED_PROXIES)


def account_key() -> str:
    """Rate-limit key of the account a log-in-like request names: its phone
    (JSON body or form), so guessing one account's password from many
    addresses is limited too. Malformed bodies fall back to the address."""
    from flask import request

    phone = None
    if request.is_json:
        body = request.get_json(silent=True)
        phone = body.get("phone") if isinstance(body, dict) else None
    else:
        phone = request.form.get("phone")
    if isinstance(phone, str) and phone.strip():
        return "phone:" + phone.strip()[:20]
    return "addr:" + (get_remote_address() or "")


def user_key() -> str:
    """Rate-limit key of the logged-in person (password changes)."""
    from flask_login import current_user

    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "addr:" + (get_remote_address() or "")


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and foreign keys; and we emit BEGIN ourselves.

    pysqlite's own transaction handling defers BEGIN and cannot take a write
    lock up front. Following SQLAlchemy's pysqlite notes we switch it off and
    emit BEGIN in the ``begin`` event; a connection opened with the execution
    option ``sqlite_begin="IMMEDIATE"`` takes the write lock at BEGIN, which is
    how the ledger serialises writers on SQLite.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


@migrate.configure
def _version_locations(config):
    """Core's revisions plus those of the loaded plugins only (see create_app)."""
    import os

    from flask import current_app

    config.set_main_option("path_separator", "os")
    config.set_main_option("version_path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join(current_app.extensions["jindou_migration_locations"])
    )
    return config
