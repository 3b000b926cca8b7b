"""Alembic environment (Flask-Migrate).

``jindou db migrate -x plugin=points --head points@head --rev-id 0004_points -m "..."``
compares only that plugin's tables (named ``points_*``), so a plugin's
revision never proposes dropping another's. Without ``-x plugin`` only core
tables are compared.
"""

import logging

from alembic import context
from flask import current_app

config = context.config
logger = logging.getLogger("alembic.env")
target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def include_object(obj, name, type_, reflected, compare_to):
    if type_ != "table":
        return True
    plugin = context.get_x_argument(as_dictionary=True).get("plugin")
    plugins = current_app.extensions["jindou_plugins"].names
    if name == "alembic_version":
        return False
    if plugin:
        return name.startswith(f"{plugin}_")
    return not any(name.startswith(f"{p}_") for p in plugins)


def render_item(type_, obj, autogen_context):
    """Write core's UTCDateTime as a plain timezone-aware DateTime."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def process_revision_directives(ctx, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_db.metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode recreates a table by copy, drop and rename; with foreign keys on,
            # dropping a table other rows refer to fails. The pragma is ignored inside a
            # transaction, so it goes to the driver before ours begins; checked at the end.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_db.metadata,
                include_object=include_object,
                render_item=render_item,
                **conf_args,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("a migration left rows pointing at nothing")
        finally:
            if sqlite:
                connection.rollback()
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
