"""The plugin machinery, exercised with small plugins defined here."""

from __future__ import annotations

import click
import pytest
from flask import Blueprint, jsonify

from core import hookimpl
from core.extensions import db
from core.plugins import Card, NavItem, PluginError, PluginMeta
from core.testing import bearer, enable


class EchoPlugin:
    """A plugin with a page per organization and one per owned object."""

    def __init__(self, name="echo", requires=()):
        self.name = name
        self.requires = requires
        self.events = []
        self.seeded = None
        bp = Blueprint(name, __name__)

        @bp.get(f"/api/v1/orgs/<int:org_id>/{name}")
        def per_org(org_id):
            return jsonify({"org_id": org_id})

        @bp.get(f"/api/v1/{name}/things/<int:thing_id>")
        def per_thing(thing_id):
            return jsonify({"thing_id": thing_id})

        @bp.get(f"/{name}/global")
        def global_page():
            return "global"

        self.bp = bp
        self.things = {}  # thing id -> org id

    @hookimpl
    def describe(self):
        return PluginMeta(
            name=self.name,
            title=f"{self.name}中文",
            title_en=self.name.title(),
            requires=tuple(self.requires),
            owners={"thing_id": self.things.get},
        )

    @hookimpl
    def blueprints(self):
        return [self.bp]

    @hookimpl
    def nav_items(self, user, org):
        return [NavItem(label=f"{self.name}-nav", url=f"/{self.name}/global")]

    @hookimpl
    def dashboard_cards(self, user, org):
        return [Card(title=f"{self.name}-card", value="42")]

    @hookimpl
    def service_recorded(self, org, user, minutes, key):
        self.events.append((org.id, user.id, minutes, key))
        return minutes

    @hookimpl
    def seed_demo(self, orgs, users):
        self.seeded = (sorted(orgs), sorted(users))

    @hookimpl
    def cli_commands(self):
        @click.command(f"{self.name}-hello")
        def hello():
            click.echo(f"hello from {self.name}")

        return [hello]


@pytest.fixture
def echo():
    return EchoPlugin()


@pytest.fixture
def echo_app(make_app, echo):
    app = make_app(plugins=[echo])
    with app.app_context():
        yield app


def test_hook_describe(echo_app, echo):
    manager = echo_app.extensions["jindou_plugins"]
    assert manager.names == ["echo"]
    assert manager.meta["echo"].title == "echo中文"


def test_plugin_without_describe_fails_loudly(make_app):
    class Nameless:
        @hookimpl
        def blueprints(self):
            return []

    with pytest.raises(PluginError, match="describe"):
        make_app(plugins=[Nameless()])


def test_misnamed_hook_fails_loudly(make_app):
    class Typo(EchoPlugin):
        @hookimpl
        def nav_itemz(self, user, org):
            return []

    with pytest.raises(Exception, match="nav_itemz"):
        make_app(plugins=[Typo()])


def test_missing_requirement_fails_loudly(make_app):
    with pytest.raises(PluginError, match="needs ghost"):
        make_app(plugins=[EchoPlugin(requires=["ghost"])])


def test_blueprint_must_be_named_after_plugin(make_app):
    plugin = EchoPlugin()
    plugin.bp.name = "other"
    with pytest.raises(PluginError, match="name it"):
        make_app(plugins=[plugin])


def test_hook_blueprints_routes_answer_404_where_plugin_is_off(echo_app, tree, people):
    client = echo_app.test_client()
    headers = bearer(people.staff)
    url = f"/api/v1/orgs/{tree.community.id}/echo"
    assert client.get(url, headers=headers).status_code == 404
    enable(tree.district, "echo")
    db.session.commit()
    assert client.get(url, headers=headers).json == {"org_id": tree.community.id}
    # a community turns it off for its own subtree only
    enable(tree.community, "echo", False)
    db.session.commit()
    assert client.get(url, headers=headers).status_code == 404
    assert client.get(f"/api/v1/orgs/{tree.building.id}/echo", headers=headers).status_code == 404
    assert client.get(f"/api/v1/orgs/{tree.other_community.id}/echo").status_code == 200
    # the 404 body follows the error contract
    body = client.get(url, headers=headers).json
    assert body["error"]["code"] == "not_found"


def test_object_urls_resolve_their_owner_organization(echo_app, echo, tree):
    client = echo_app.test_client()
    echo.things[7] = tree.building.id
    enable(tree.district, "echo")
    db.session.commit()
    assert client.get("/api/v1/echo/things/7").json == {"thing_id": 7}
    assert client.get("/api/v1/echo/things/8").status_code == 404  # no such thing
    enable(tree.group, "echo", False)
    db.session.commit()
    assert client.get("/api/v1/echo/things/7").status_code == 404


def test_unknown_org_in_plugin_url_is_404(echo_app):
    assert echo_app.test_client().get("/api/v1/orgs/999999/echo").status_code == 404


def test_hook_service_recorded_reaches_only_plugins_enabled_there(make_app, tree, people):
    on, off = EchoPlugin("alpha"), EchoPlugin("beta")
    app = make_app(plugins=[on, off])
    with app.app_context():
        enable(tree.district, "alpha")
        enable(tree.district, "beta")
        enable(tree.community, "beta", False)
        db.session.commit()
        manager = app.extensions["jindou_plugins"]
        with app.test_request_context():
            answers = manager.emit(
                tree.building,
                "service_recorded",
                user=people.resident,
                activity_id=1,
                title="清洁",
                minutes=90,
                verified=True,
                points=10,
                key="k1",
            )
        assert answers == [90]
        assert on.events == [(tree.building.id, people.resident.id, 90, "k1")]
        assert off.events == []
        with app.test_request_context():
            manager.emit(
                tree.other_community,
                "service_recorded",
                user=people.resident,
                activity_id=1,
                title="清洁",
                minutes=5,
                verified=True,
                points=1,
                key="k2",
            )
        assert len(off.events) == 1


def test_hook_nav_items_and_dashboard_cards(echo_app, tree, people):
    client = echo_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(people.resident.id)
        session["_fresh"] = True
    page = client.get("/").get_data(as_text=True)
    assert "echo-nav" not in page and "echo-card" not in page
    enable(tree.district, "echo")
    db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "echo-nav" in page
    assert "echo-card" in page


def test_hook_dashboard_cards(echo_app, tree, people):
    # cards come only from plugins enabled at the organization shown
    enable(tree.community, "echo")
    db.session.commit()
    client = echo_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(people.resident.id)
    assert "echo-card" in client.get(f"/?org={tree.building.id}").get_data(as_text=True)
    assert "echo-card" not in client.get(f"/?org={tree.district.id}").get_data(as_text=True)


def test_hook_seed_demo(echo_app, echo):
    from core.demo import seed

    logins = seed()
    assert len(logins) >= 4
    orgs, users = echo.seeded
    assert {"district", "community1", "building1"} <= set(orgs)
    assert {"admin", "staff", "volunteer1"} <= set(users)
    # a second run finds the demo and seeds nothing more
    echo.seeded = None
    seed()
    assert echo.seeded is None


def test_hook_cli_commands(echo_app):
    result = echo_app.test_cli_runner().invoke(args=["echo-hello"])
    assert result.exit_code == 0
    assert "hello from echo" in result.output


def test_app_starts_with_no_plugins(make_app, tree, people):
    app = make_app(plugins=[])
    client = app.test_client()
    with app.app_context():
        r = client.get(f"/api/v1/orgs/{tree.community.id}/plugins", headers=bearer(people.staff))
    assert r.status_code == 200
    assert r.json == {"items": []}


class ReportingPlugin(EchoPlugin):
    @hookimpl
    def org_report(self, org, month):
        from core.plugins import ReportSection

        return ReportSection(
            title=f"{self.name} 月报", rows=[("月份", month.isoformat()), ("组织", org.name)]
        )


def test_hook_org_report(make_app, tree, people):
    app = make_app(plugins=[ReportingPlugin("rep"), ReportingPlugin("off")])
    client = app.test_client()
    with app.app_context():
        enable(tree.district, "rep")
        db.session.commit()
        h = bearer(people.staff)
        r = client.get(f"/api/v1/orgs/{tree.community.id}/report?month=2026-11", headers=h)
        assert r.status_code == 200
        assert r.json == {
            "month": "2026-11",
            "sections": [
                {"title": "rep 月报", "rows": [["月份", "2026-11-01"], ["组织", "金星社区"]]}
            ],
        }
        assert (
            client.get(
                f"/api/v1/orgs/{tree.community.id}/report?month=11/2026", headers=h
            ).status_code
            == 400
        )
        assert (
            client.get(
                f"/api/v1/orgs/{tree.community.id}/report", headers=bearer(people.resident)
            ).status_code
            == 403
        )
        with client.session_transaction() as session:
            session["_user_id"] = str(people.staff.id)
        page = client.get(f"/orgs/{tree.community.id}/report?month=2026-11").get_data(as_text=True)
        assert "rep 月报" in page and "off 月报" not in page
