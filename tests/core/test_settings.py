"""Plugin settings stored by core: defaults, inheritance down the tree, strict
types, who may change them, the audit trail, and the admin page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import hookimpl, settings
from core.api import ApiError
from core.extensions import db
from core.models import AuditLog, OrgSetting
from core.plugins import PluginError, PluginManager, PluginMeta, PluginRole, SettingSpec
from core.testing import bearer
from tests.core.test_pages import login
from tests.core.test_query_budget import count_statements

DEFAULTS = {"open": False, "limit": 200, "expiry": None, "motto": "你好"}


class KnobsPlugin:
    """A test-only plugin declaring one setting of each kind, and two roles."""

    @hookimpl
    def describe(self):
        return PluginMeta(
            name="knobs",
            title="旋钮",
            title_en="Knobs",
            settings=(
                SettingSpec("open", bool, False, "开放报名"),
                SettingSpec("limit", int, 200, "每次上限", minimum=1, maximum=1000),
                SettingSpec("expiry", int, None, "有效月数", minimum=1, maximum=120, nullable=True),
                SettingSpec("motto", str, "你好", "口号", max_length=10),
            ),
            roles=(PluginRole("cashier", "收银员"), PluginRole("leader", "巡逻队长")),
        )


@pytest.fixture
def app(make_app):
    """The shared fixtures (tree, people, client) on an app with only ``knobs`` loaded."""
    app = make_app(plugins=[KnobsPlugin()])
    with app.app_context():
        yield app
        db.session.remove()


def url(org, plugin="knobs"):
    return f"/api/v1/orgs/{org.id}/settings/{plugin}"


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(OrgSetting))


def test_defaults_where_nothing_is_set(tree, people):
    assert settings.effective(tree.building, "knobs") == DEFAULTS
    assert settings.sources(tree.building, "knobs") == dict.fromkeys(DEFAULTS)
    assert settings.get(tree.building, "knobs", "limit") == 200
    with pytest.raises(KeyError):
        settings.get(tree.building, "knobs", "nope")


def test_nearest_ancestor_wins(tree, people):
    settings.put(people.district_admin, tree.district, "knobs", {"limit": 300, "open": True})
    settings.put(people.community_admin, tree.community, "knobs", {"limit": 50})
    db.session.commit()
    assert settings.effective(tree.building, "knobs") == {**DEFAULTS, "limit": 50, "open": True}
    assert settings.sources(tree.building, "knobs") == {
        "open": tree.district.id,
        "limit": tree.community.id,
        "expiry": None,
        "motto": None,
    }
    assert settings.get(tree.subdistrict, "knobs", "limit") == 300
    assert settings.get(tree.other_community, "knobs", "limit") == 300
    # the override stays below the community: the district keeps its own value
    assert settings.get(tree.district, "knobs", "limit") == 300


def test_api_reads_and_writes(client, tree, people):
    h = bearer(people.district_admin)
    r = client.put(
        url(tree.community), json={"limit": 7, "expiry": None, "motto": "加油"}, headers=h
    )
    assert r.status_code == 200, r.json
    assert r.json == {
        "settings": {**DEFAULTS, "limit": 7, "motto": "加油"},
        "sources": {
            "open": None,
            "limit": tree.community.id,
            "expiry": tree.community.id,
            "motto": tree.community.id,
        },
    }
    # a resident below sees what is in force at their building
    r = client.get(url(tree.building), headers=bearer(people.resident))
    assert r.status_code == 200
    assert r.json["settings"]["limit"] == 7 and r.json["sources"]["limit"] == tree.community.id
    # the plugin is switched on nowhere: settings can be prepared before it is
    assert not client.application.extensions["jindou_plugins"].is_enabled(tree.community, "knobs")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"limit": "5"}, "limit"),  # a string for an int
        ({"limit": 5.0}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 0}, "limit"),  # below the minimum
        ({"limit": 1001}, "limit"),  # above the maximum
        ({"limit": None}, "limit"),  # not nullable
        ({"open": 1}, "open"),  # 1 is not a bool
        ({"open": "true"}, "open"),
        ({"open": None}, "open"),
        ({"motto": "长" * 11}, "motto"),
        ({"motto": 5}, "motto"),
        ({"expiry": 121}, "expiry"),
        ({"nope": 1}, "nope"),  # unknown name
        ({"limit": 5, "nope": 1}, "nope"),  # nothing half-written
    ],
)
def test_bad_values_are_400_naming_the_field(client, tree, people, body, field):
    r = client.put(url(tree.community), json=body, headers=bearer(people.district_admin))
    assert r.status_code == 400, r.json
    assert set(r.json["error"]["fields"]) == {field}
    assert rows() == 0


def test_body_must_be_an_object(client, tree, people):
    r = client.put(url(tree.community), json=[1], headers=bearer(people.district_admin))
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_json"


def test_unknown_or_not_loaded_plugin_is_404(client, tree, people):
    h = bearer(people.district_admin)
    for plugin in ("nope", "sample"):  # points is installed but not loaded here
        assert client.get(url(tree.community, plugin), headers=h).status_code == 404
        r = client.put(url(tree.community, plugin), json={}, headers=h)
        assert r.status_code == 404 and r.json["error"]["code"] == "unknown_plugin"


def test_who_may_change_settings(client, tree, people):
    body = {"limit": 9}
    assert (
        client.put(url(tree.community), json=body, headers=bearer(people.staff)).status_code == 403
    )
    assert (
        client.put(url(tree.building), json=body, headers=bearer(people.resident)).status_code
        == 403
    )
    # above their own organization, an admin is nobody special
    assert (
        client.put(
            url(tree.subdistrict), json=body, headers=bearer(people.community_admin)
        ).status_code
        == 403
    )
    # outsiders and people of another branch do not learn the organization exists
    for person in (people.outsider, people.other_staff):
        h = bearer(person)
        assert client.put(url(tree.community), json=body, headers=h).status_code == 404
        assert client.get(url(tree.community), headers=h).status_code == 404
    assert rows() == 0
    assert (
        client.put(
            url(tree.building), json=body, headers=bearer(people.community_admin)
        ).status_code
        == 200
    )


def test_each_change_is_audited_once(client, tree, people):
    h = bearer(people.district_admin)
    client.put(url(tree.community), json={"limit": 300, "open": True}, headers=h)
    client.put(url(tree.community), json={"limit": 300, "open": False}, headers=h)
    audits = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "setting.set").order_by(AuditLog.id)
    ).all()
    assert [(a.details["name"], a.details["before"], a.details["after"]) for a in audits] == [
        ("limit", None, 300),
        ("open", None, True),
        ("open", True, False),
    ]
    assert {(a.org_id, a.actor_id, a.details["plugin"]) for a in audits} == {
        (tree.community.id, people.district_admin.id, "knobs")
    }
    row = db.session.get(OrgSetting, (tree.community.id, "knobs", "open"))
    assert row.value is False and row.updated_by_id == people.district_admin.id


def test_delete_inherits_again(client, tree, people):
    h = bearer(people.district_admin)
    client.put(url(tree.district), json={"limit": 300}, headers=h)
    client.put(url(tree.community), json={"limit": 50}, headers=h)
    assert (
        client.delete(f"{url(tree.community)}/limit", headers=bearer(people.staff)).status_code
        == 403
    )
    assert client.delete(f"{url(tree.community)}/limit", headers=h).status_code == 204
    r = client.get(url(tree.building), headers=h)
    assert r.json["settings"]["limit"] == 300 and r.json["sources"]["limit"] == tree.district.id
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "setting.clear")
        )
        == 1
    )
    # again: nothing to remove, still 204; an undeclared name is 404
    assert client.delete(f"{url(tree.community)}/limit", headers=h).status_code == 204
    assert client.delete(f"{url(tree.community)}/nope", headers=h).status_code == 404


def test_one_query_for_all_of_a_plugins_settings(app, tree, people):
    settings.put(people.district_admin, tree.district, "knobs", {"limit": 300})
    settings.put(people.district_admin, tree.group, "knobs", {"open": True, "motto": "好"})
    db.session.commit()
    assert tree.building.path  # loaded before counting
    with app.test_request_context():
        with count_statements() as statements:
            assert settings.effective(tree.building, "knobs") == {
                **DEFAULTS,
                "limit": 300,
                "open": True,
                "motto": "好",
            }
            settings.sources(tree.building, "knobs")
            settings.get(tree.building, "knobs", "motto")
        assert len([s for s in statements if s.startswith("SELECT")]) == 1, statements


def test_service_checks_its_own_input(tree, people):
    with pytest.raises(ApiError) as err:
        settings.put(people.district_admin, tree.community, "knobs", {"limit": "x"})
    assert err.value.status == 400 and set(err.value.fields) == {"limit"}
    with pytest.raises(ApiError) as err:
        settings.put(people.staff, tree.community, "knobs", {"limit": 5})
    assert err.value.status == 403


@pytest.mark.parametrize(
    "spec",
    [
        SettingSpec("x", float, 1.0, "x"),
        SettingSpec("x", int, "1", "x"),
        SettingSpec("x", int, 0, "x", minimum=1),
        SettingSpec("x", bool, None, "x"),
        SettingSpec("x y", bool, True, "x"),
    ],
)
def test_a_plugin_with_unsound_settings_does_not_load(spec):
    class Bad:
        @hookimpl
        def describe(self):
            return PluginMeta(name="bad", title="坏", title_en="Bad", settings=(spec,))

    with pytest.raises(PluginError):
        PluginManager().load([Bad()])


# -- the admin page ------------------------------------------------------------------


def page(org):
    return f"/orgs/{org.id}/settings/knobs"


def test_settings_page_shows_values_and_their_sources(client, tree, people):
    settings.put(people.district_admin, tree.district, "knobs", {"limit": 300})
    settings.put(people.district_admin, tree.community, "knobs", {"open": True})
    db.session.commit()
    login(client, people.community_admin)
    html = client.get(page(tree.community)).get_data(as_text=True)
    assert "旋钮设置" in html and "每次上限" in html and "开放报名" in html
    assert "继承自 盘龙区" in html and "本级设置" in html and "默认值" in html
    assert "恢复继承" in html and 'type="checkbox"' in html and 'type="number"' in html
    assert 'name="csrf_token"' in html
    # the plugin matrix links each organization's settings
    matrix = client.get(f"/orgs/{tree.group.id}/plugins").get_data(as_text=True)
    assert page(tree.building) in matrix


def test_settings_page_saves_only_what_changed(client, tree, people):
    settings.put(people.district_admin, tree.district, "knobs", {"limit": 300})
    db.session.commit()
    login(client, people.community_admin)
    form = {"limit": "42", "open": "1", "expiry": "", "motto": "你好"}
    r = client.post(page(tree.community), data={**form, "back": page(tree.community)})
    assert r.status_code == 302 and r.headers["Location"].endswith(page(tree.community))
    assert settings.effective(tree.building, "knobs") == {**DEFAULTS, "limit": 42, "open": True}
    # untouched fields keep inheriting: no row pins them here
    assert settings.sources(tree.community, "knobs") == {
        "open": tree.community.id,
        "limit": tree.community.id,
        "expiry": None,
        "motto": None,
    }
    # a bad number is reported, nothing changes
    client.post(page(tree.community), data={**form, "limit": "abc"})
    html = client.get(page(tree.community)).get_data(as_text=True)
    assert "每次上限：必须是整数" in html
    client.post(page(tree.community), data={**form, "limit": "5000"})
    assert settings.get(tree.community, "knobs", "limit") == 42
    # an unticked checkbox is false; "恢复继承" brings the district's value back
    client.post(page(tree.community), data={**form, "open": None})
    assert settings.get(tree.community, "knobs", "open") is False
    client.post(f"{page(tree.community)}/limit/inherit")
    db.session.expire_all()
    assert settings.sources(tree.community, "knobs")["limit"] == tree.district.id


def test_settings_page_is_for_admins(client, tree, people):
    login(client, people.staff)
    assert client.get(page(tree.community)).status_code == 403
    client.post(page(tree.community), data={"limit": "3"})
    assert rows() == 0
    client.get("/logout")
    login(client, people.district_admin)
    assert client.get(f"/orgs/{tree.community.id}/settings/nope").status_code == 404
