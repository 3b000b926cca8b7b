"""Organizations API: the five levels, members, plugin switches, and who may do what."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog, Membership, Organization, OrgPlugin
from core.testing import bearer, enable


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_platform_admin_builds_the_five_levels(client, people):
    h = bearer(people.root)
    parent = None
    for level in ("district", "subdistrict", "community", "group", "building"):
        r = client.post(
            "/api/v1/orgs",
            json={"name": f"新{level}", "level": level, "parent_id": parent},
            headers=h,
        )
        assert r.status_code == 201, r.json
        assert r.json["level"] == level and r.json["parent_id"] == parent
        parent = r.json["id"]
    r = client.get(f"/api/v1/orgs/{parent}", headers=h)
    assert r.json["name"] == "新building"
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "org.create")
        )
        == 5
    )


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"name": "x", "level": "community", "parent_id": "TREE.district"},
            "parent_id",
        ),  # skips 街道
        (
            {"name": "x", "level": "subdistrict", "parent_id": "TREE.community"},
            "parent_id",
        ),  # upwards
        ({"name": "x", "level": "building", "parent_id": None}, "parent_id"),
        ({"name": "x", "level": "district", "parent_id": "TREE.district"}, "parent_id"),
        ({"name": "x", "level": "city", "parent_id": None}, "level"),
        ({"name": "", "level": "district"}, "name"),
        ({"name": "长" * 101, "level": "district"}, "name"),
        ({"level": "district"}, "name"),
        ({"name": "x", "level": "subdistrict", "parent_id": "1"}, "parent_id"),
        ({"name": "x", "level": "subdistrict", "parent_id": 1.5}, "parent_id"),
        ({"name": "x", "level": "subdistrict", "parent_id": True}, "parent_id"),
        ({"name": 5, "level": "district"}, "name"),
        ({"name": "x", "level": "district", "extra": 1}, "extra"),
    ],
)
def test_bad_org_input_is_400_naming_the_field(client, tree, people, body, field):
    body = {
        k: (getattr(tree, v[5:]).id if isinstance(v, str) and v.startswith("TREE.") else v)
        for k, v in body.items()
    }
    before = count(Organization)
    r = client.post("/api/v1/orgs", json=body, headers=bearer(people.root))
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["fields"]
    assert count(Organization) == before


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_malformed_json_is_400(client, people, raw):
    r = client.post(
        "/api/v1/orgs", data=raw, content_type="application/json", headers=bearer(people.root)
    )
    assert r.status_code == 400
    assert r.json["error"]["code"] == "invalid_json"


def test_only_platform_admin_creates_districts(client, people):
    r = client.post(
        "/api/v1/orgs",
        json={"name": "官渡区", "level": "district"},
        headers=bearer(people.district_admin),
    )
    assert r.status_code == 403


def test_unauthenticated_is_401(client, tree):
    r = client.get(f"/api/v1/orgs/{tree.district.id}")
    assert r.status_code == 401
    assert r.json["error"]["code"] == "unauthorized"
    r = client.get(f"/api/v1/orgs/{tree.district.id}", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


# -- the authorization matrix -------------------------------------------------------------
# Each actor has a home: the resident a building, staff and admins the community.
# Targets: inside the home subtree, a sibling community elsewhere, an ancestor.

ACTORS = {
    "resident": ("resident", "building"),
    "staff": ("staff", "community"),
    "admin": ("community_admin", "community"),
}
TARGETS = {"own": "group", "sibling": "other_community", "ancestor": "subdistrict"}


def _target(tree, actor, where):
    if where == "own":
        return tree.building if actor == "resident" else tree.group
    return getattr(tree, TARGETS[where])


MATRIX = {
    # action: {(actor, where): status}
    "add_member": {
        ("resident", "own"): 403,
        ("resident", "sibling"): 404,
        ("resident", "ancestor"): 403,
        ("staff", "own"): 201,
        ("staff", "sibling"): 404,
        ("staff", "ancestor"): 403,
        ("admin", "own"): 201,
        ("admin", "sibling"): 404,
        ("admin", "ancestor"): 403,
    },
    "list_members": {
        ("resident", "own"): 403,
        ("resident", "sibling"): 404,
        ("resident", "ancestor"): 403,
        ("staff", "own"): 200,
        ("staff", "sibling"): 404,
        ("staff", "ancestor"): 403,
        ("admin", "own"): 200,
        ("admin", "sibling"): 404,
        ("admin", "ancestor"): 403,
    },
    "set_plugin": {
        ("resident", "own"): 403,
        ("resident", "sibling"): 404,
        ("resident", "ancestor"): 403,
        ("staff", "own"): 403,
        ("staff", "sibling"): 404,
        ("staff", "ancestor"): 403,
        ("admin", "own"): 200,
        ("admin", "sibling"): 404,
        ("admin", "ancestor"): 403,
    },
    "get_org": {
        ("resident", "own"): 200,
        ("resident", "sibling"): 404,
        ("resident", "ancestor"): 200,
        ("staff", "own"): 200,
        ("staff", "sibling"): 404,
        ("staff", "ancestor"): 200,
        ("admin", "own"): 200,
        ("admin", "sibling"): 404,
        ("admin", "ancestor"): 200,
    },
}


@pytest.mark.parametrize("action", sorted(MATRIX))
@pytest.mark.parametrize("actor", sorted(ACTORS))
@pytest.mark.parametrize("where", sorted(TARGETS))
def test_authorization_matrix(client, tree, people, action, actor, where):
    user = getattr(people, ACTORS[actor][0])
    org = _target(tree, actor, where)
    h = bearer(user)
    members_before, switches_before = count(Membership), count(OrgPlugin)
    if action == "add_member":
        r = client.post(
            f"/api/v1/orgs/{org.id}/members",
            json={"phone": people.outsider.phone, "role": "resident"},
            headers=h,
        )
    elif action == "list_members":
        r = client.get(f"/api/v1/orgs/{org.id}/members", headers=h)
    elif action == "set_plugin":
        r = client.put(f"/api/v1/orgs/{org.id}/plugins/sample", json={"enabled": True}, headers=h)
    else:
        r = client.get(f"/api/v1/orgs/{org.id}", headers=h)
    assert r.status_code == MATRIX[action][(actor, where)], r.json
    if r.status_code >= 400:
        assert set(r.json["error"]) >= {"code", "message"}
        assert (count(Membership), count(OrgPlugin)) == (members_before, switches_before)


def test_create_child_needs_admin_of_parent(client, tree, people):
    body = {"name": "新楼栋", "level": "building", "parent_id": tree.group.id}
    assert client.post("/api/v1/orgs", json=body, headers=bearer(people.staff)).status_code == 403
    assert (
        client.post("/api/v1/orgs", json=body, headers=bearer(people.other_staff)).status_code
        == 404
    )
    assert (
        client.post("/api/v1/orgs", json=body, headers=bearer(people.district_admin)).status_code
        == 201
    )


def test_children_are_listed(client, tree, people):
    r = client.get(
        f"/api/v1/orgs/{tree.district.id}/children", headers=bearer(people.district_admin)
    )
    assert [o["name"] for o in r.json["items"]] == ["联盟街道", "拓东街道"]
    assert r.json["next"] is None


def test_members_add_conflicts_and_unknown_phone(client, tree, people):
    h = bearer(people.community_admin)
    url = f"/api/v1/orgs/{tree.community.id}/members"
    r = client.post(url, json={"phone": people.outsider.phone, "role": "staff"}, headers=h)
    assert r.status_code == 201
    assert r.json == {"user_id": people.outsider.id, "org_id": tree.community.id, "role": "staff"}
    assert (
        client.post(
            url, json={"phone": people.outsider.phone, "role": "staff"}, headers=h
        ).status_code
        == 409
    )
    r = client.post(url, json={"phone": "13999999999", "role": "staff"}, headers=h)
    assert r.status_code == 404 and r.json["error"]["code"] == "user_not_found"
    r = client.post(url, json={"phone": "12345", "role": "boss"}, headers=h)
    assert r.status_code == 400 and set(r.json["error"]["fields"]) == {"phone", "role"}
    me = client.get("/api/v1/me", headers=bearer(people.outsider)).json
    assert me["memberships"] == [
        {"org_id": tree.community.id, "org_name": "金星社区", "role": "staff"}
    ]
    assert client.delete(f"{url}/{people.outsider.id}", headers=h).status_code == 204
    assert client.delete(f"{url}/{people.outsider.id}", headers=h).status_code == 404


def test_plugin_switches_inherit_and_are_audited(client, tree, people):
    h = bearer(people.district_admin)
    r = client.get(f"/api/v1/orgs/{tree.building.id}/plugins", headers=h)
    assert {i["name"]: (i["enabled"], i["source_org_id"]) for i in r.json["items"]} == {
        "sample": (False, None)
    }
    assert all(i["title"] for i in r.json["items"])
    r = client.put(
        f"/api/v1/orgs/{tree.district.id}/plugins/sample", json={"enabled": True}, headers=h
    )
    assert r.json == {"name": "sample", "enabled": True, "source_org_id": tree.district.id}
    r = client.put(
        f"/api/v1/orgs/{tree.community.id}/plugins/sample", json={"enabled": False}, headers=h
    )
    assert r.json == {"name": "sample", "enabled": False, "source_org_id": tree.community.id}
    states = {
        i["name"]: i
        for i in client.get(f"/api/v1/orgs/{tree.building.id}/plugins", headers=h).json["items"]
    }
    assert (states["sample"]["enabled"], states["sample"]["source_org_id"]) == (
        False,
        tree.community.id,
    )
    assert (
        client.delete(f"/api/v1/orgs/{tree.community.id}/plugins/sample", headers=h).status_code
        == 204
    )
    states = {
        i["name"]: i
        for i in client.get(f"/api/v1/orgs/{tree.building.id}/plugins", headers=h).json["items"]
    }
    assert (states["sample"]["enabled"], states["sample"]["source_org_id"]) == (
        True,
        tree.district.id,
    )
    actions = db.session.scalars(
        select(AuditLog.details).where(AuditLog.action == "plugin.set").order_by(AuditLog.id)
    ).all()
    assert [(a["plugin"], a["after"]) for a in actions] == [
        ("sample", True),
        ("sample", False),
        ("sample", None),
    ]


@pytest.mark.parametrize("body", [{}, {"enabled": "yes"}, {"enabled": 1}, {"enabled": None}])
def test_plugin_switch_bad_body_is_400(client, tree, people, body):
    r = client.put(
        f"/api/v1/orgs/{tree.district.id}/plugins/sample",
        json=body,
        headers=bearer(people.district_admin),
    )
    assert r.status_code == 400
    assert "enabled" in r.json["error"]["fields"]


def test_unknown_plugin_is_404(client, tree, people):
    h = bearer(people.district_admin)
    r = client.put(
        f"/api/v1/orgs/{tree.district.id}/plugins/teleport", json={"enabled": True}, headers=h
    )
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_plugin"
    assert (
        client.delete(f"/api/v1/orgs/{tree.district.id}/plugins/teleport", headers=h).status_code
        == 404
    )


def test_unknown_org_is_404(client, people):
    assert client.get("/api/v1/orgs/424242", headers=bearer(people.root)).status_code == 404


def test_enable_requires_dependencies(make_app, tree, people):
    from tests.core.test_plugins import EchoPlugin

    base, dependent = EchoPlugin("base"), EchoPlugin("dependent", requires=["base"])
    app = make_app(plugins=[base, dependent])
    client = app.test_client()
    with app.app_context():
        h = bearer(people.district_admin)
        r = client.put(
            f"/api/v1/orgs/{tree.district.id}/plugins/dependent", json={"enabled": True}, headers=h
        )
        assert r.status_code == 409 and r.json["error"]["code"] == "plugin_requires"
        enable(tree.district, "base")
        db.session.commit()
        r = client.put(
            f"/api/v1/orgs/{tree.district.id}/plugins/dependent", json={"enabled": True}, headers=h
        )
        assert r.status_code == 200
