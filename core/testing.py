"""Jindou's pytest plugin: the fixtures and data builders every plugin's tests use.

Use it from a ``conftest.py`` with ``pytest_plugins = ["core.testing"]`` (this
repository's tests/conftest.py does; so does a scaffolded plugin's).

Tests run against ``JINDOU_TEST_DATABASE_URL`` (PostgreSQL in CI) or a fresh
SQLite file. The schema is built once per session by the real migrations
(``db upgrade heads``) for the plugins ``JINDOU_PLUGINS`` loads; each test
starts from empty tables. ``@pytest.mark.plugin("points")`` (or the
:func:`needs_plugin` guard at the top of a plugin's conftest) skips tests of a
plugin that this run does not load.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import MetaData, event, inspect, text

from core import create_app
from core.api import issue_token
from core.config import parse_plugin_list
from core.extensions import db
from core.models import Membership, Organization, OrgPlugin, User
from core.orgs.services import forget_plugin_cache

PASSWORD = "correct-horse"


def pytest_report_header(config):
    plugins = os.environ.get("JINDOU_PLUGINS") or "all installed"
    return (
        f"database: {os.environ.get('JINDOU_TEST_DATABASE_URL') or 'sqlite (temporary file)'}"
        f"; plugins: {plugins}"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "plugin(name): needs that plugin loaded (JINDOU_PLUGINS)")


def plugin_wanted(name: str) -> bool:
    """Does this run load ``name``? (``JINDOU_PLUGINS`` unset: every installed plugin.)"""
    wanted = parse_plugin_list(os.environ.get("JINDOU_PLUGINS"))
    return wanted is None or name in wanted


def needs_plugin(name: str) -> list[str]:
    """For a plugin's tests/conftest.py: ``collect_ignore_glob = needs_plugin("points")``.

    When the run leaves the plugin out, its test modules are not even
    imported: its models would join the metadata the fixtures truncate."""
    return [] if plugin_wanted(name) else ["test_*.py"]


def pytest_runtest_setup(item):
    for marker in item.iter_markers("plugin"):
        if not plugin_wanted(marker.args[0]):
            pytest.skip(f"{marker.args[0]} is not among JINDOU_PLUGINS")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The database of this test process. Under pytest-xdist each worker gets
    its own (``<name>_gw0``...), created afresh, so workers never share rows."""
    url = os.environ.get("JINDOU_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if worker:
        url = _fresh_database(url, worker)
    return url


def _fresh_database(url: str, suffix: str) -> str:
    """``url``'s PostgreSQL database with ``_<suffix>`` appended, dropped and created."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from core.config import normalize_database_url

    base = make_url(normalize_database_url(url))
    name = f"{base.database}_{suffix}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "jindou.test",
        "JINDOU_SECURE_COOKIES": False,  # the test client speaks plain http
    }


def drop_everything() -> None:
    meta = MetaData()
    meta.reflect(bind=db.engine)
    meta.drop_all(bind=db.engine)


@pytest.fixture(scope="session")
def schema(database_url):
    """Build the schema with the migrations, once (all plugins loaded)."""
    from flask_migrate import upgrade

    app = create_app(base_config(database_url))
    with app.app_context():
        drop_everything()
        upgrade(revision="heads")
    return database_url


def truncate_all() -> None:
    # Only tables that exist: with a plugin subset loaded, other plugins'
    # models may be imported (by their tests) without their tables.
    existing = set(inspect(db.engine).get_table_names())
    tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name in existing]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE {} RESTART IDENTITY CASCADE".format(
                        ", ".join(f'"{t}"' for t in tables)
                    )
                )
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


class FreshRequestClient(FlaskClient):
    """Each request sees a fresh ``g``, as in production.

    Tests keep one app context open (to use ``db.session``); Flask reuses it for
    the client's requests, so without this the user and the per-request caches
    of one request would leak into the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app(schema):
    """``make_app(plugins=[...], **config)``: an app on the test database."""
    made = []

    def factory(plugins=None, **config):
        app = create_app({**base_config(schema), **config}, plugins=plugins)
        app.test_client_class = FreshRequestClient
        made.append(app)
        return app

    yield factory
    if made:
        with made[0].app_context():
            db.session.remove()
            broken = ledger_failures()
            truncate_all()
        for app in made:  # each app has its own engine: close its pooled connections
            with app.app_context():
                db.engine.dispose()
        assert not broken, f"the test left the ledger unsound: {broken}"


def ledger_failures() -> list[str]:
    """Every test ends with sound books (core.ledger.audit), whatever it did."""
    from core import ledger

    if "ledger_account" not in inspect(db.engine).get_table_names():
        return []
    try:
        return ledger.failures()
    finally:
        db.session.remove()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


# -- data builders ---------------------------------------------------------------------


_PASSWORD_HASH: list[str] = []


def make_user(phone: str, name: str = "测试用户", *, admin: bool = False) -> User:
    user = User(phone=phone, name=name, is_platform_admin=admin)
    if not _PASSWORD_HASH:  # hashing is slow on purpose; do it once per run
        user.set_password(PASSWORD)
        _PASSWORD_HASH.append(user.password_hash or "")
    user.password_hash = _PASSWORD_HASH[0]
    db.session.add(user)
    db.session.flush()
    return user


def make_org(name: str, level: str, parent: Organization | None = None) -> Organization:
    org = Organization(name=name, level=level, parent_id=parent.id if parent else None)
    db.session.add(org)
    db.session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    return org


def add_member(user: User, org: Organization, role: str) -> None:
    db.session.add(Membership(user_id=user.id, org_id=org.id, role=role))
    db.session.flush()


def enable(org: Organization, plugin: str, enabled: bool = True) -> None:
    db.session.merge(OrgPlugin(org_id=org.id, plugin=plugin, enabled=enabled))
    db.session.flush()
    forget_plugin_cache()  # states are cached for the app context


def bearer(user: User) -> dict:
    token = issue_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def count_statements(*, transaction_control: bool = True) -> Iterator[list[str]]:
    """The SQL statements the block sends to the database, for tests that bound
    what a page, a scan or a job batch costs (so cost does not grow with rows).
    ``transaction_control=False`` leaves out BEGIN/COMMIT/SAVEPOINT and the like."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if transaction_control or not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def race(app, n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads released at once, each with its own app
    context and session; answers ``("ok", result)`` or ``(status, code)`` each."""
    import threading

    from core.api import ApiError, ledger_error_as_api
    from core.ledger import LedgerError

    results, barrier = [], threading.Barrier(n)

    def worker(i):
        with app.app_context():
            barrier.wait()
            try:
                results.append(("ok", work(i)))
            except (ApiError, LedgerError) as err:
                err = ledger_error_as_api(err) if isinstance(err, LedgerError) else err
                results.append((err.status, err.code))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@dataclass
class Tree:
    """盘龙区 → 联盟街道 (金星社区 → 一组 → 1栋) and 拓东街道 (东华社区)."""

    district: Organization
    subdistrict: Organization
    community: Organization
    group: Organization
    building: Organization
    other_subdistrict: Organization
    other_community: Organization


@pytest.fixture
def tree(app) -> Tree:
    district = make_org("盘龙区", "district")
    subdistrict = make_org("联盟街道", "subdistrict", district)
    community = make_org("金星社区", "community", subdistrict)
    group = make_org("金星一组", "group", community)
    building = make_org("1栋", "building", group)
    other_subdistrict = make_org("拓东街道", "subdistrict", district)
    other_community = make_org("东华社区", "community", other_subdistrict)
    db.session.commit()
    return Tree(
        district, subdistrict, community, group, building, other_subdistrict, other_community
    )


@dataclass
class People:
    root: User  # platform admin
    district_admin: User
    community_admin: User
    staff: User  # staff of tree.community
    resident: User  # resident of tree.building
    outsider: User  # registered, member of nothing
    other_staff: User  # staff of tree.other_community


@pytest.fixture
def people(tree) -> People:
    p = People(
        root=make_user("13000000000", "平台管理员", admin=True),
        district_admin=make_user("13000000001", "区管理员"),
        community_admin=make_user("13000000002", "社区管理员"),
        staff=make_user("13000000003", "社工"),
        resident=make_user("13000000004", "居民"),
        outsider=make_user("13000000005", "路人"),
        other_staff=make_user("13000000006", "别的社工"),
    )
    add_member(p.district_admin, tree.district, "admin")
    add_member(p.community_admin, tree.community, "admin")
    add_member(p.staff, tree.community, "staff")
    add_member(p.resident, tree.building, "resident")
    add_member(p.other_staff, tree.other_community, "staff")
    db.session.commit()
    return p


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can screenshot failures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
