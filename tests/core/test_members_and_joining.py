"""Members managed by staff, the last-admin guard, join requests (API and
services), the impact count before switching a plugin off, and join codes."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from core import qr
from core.extensions import db
from core.models import AuditLog, JoinRequest, Membership
from core.orgs import services
from core.testing import add_member, bearer, enable, make_org, make_user


def roles_of(user, org) -> set[str]:
    return set(
        db.session.scalars(
            select(Membership.role).where(
                Membership.user_id == user.id, Membership.org_id == org.id
            )
        )
    )


# -- members by staff ----------------------------------------------------------------


def test_staff_add_residents_below_them_but_grant_nothing_else(client, tree, people):
    h = bearer(people.staff)
    url = f"/api/v1/orgs/{tree.building.id}/members"
    for role in ("staff", "admin"):
        r = client.post(url, json={"phone": people.outsider.phone, "role": role}, headers=h)
        assert r.status_code == 403 and r.json["error"]["code"] == "role_not_grantable"
    assert roles_of(people.outsider, tree.building) == set()
    r = client.post(url, json={"phone": people.outsider.phone, "role": "resident"}, headers=h)
    assert r.status_code == 201
    assert r.json == {"user_id": people.outsider.id, "org_id": tree.building.id, "role": "resident"}
    assert services.grantable_roles(people.staff, tree.building) == ["resident"]
    assert set(services.grantable_roles(people.community_admin, tree.building)) >= {
        "resident",
        "staff",
        "admin",
    }
    assert services.grantable_roles(people.resident, tree.building) == []


def test_staff_remove_residents_only(client, tree, people):
    add_member(people.outsider, tree.group, "staff")
    db.session.commit()
    h = bearer(people.staff)
    r = client.delete(f"/api/v1/orgs/{tree.group.id}/members/{people.outsider.id}", headers=h)
    assert r.status_code == 403 and r.json["error"]["code"] == "role_not_grantable"
    assert roles_of(people.outsider, tree.group) == {"staff"}
    r = client.delete(f"/api/v1/orgs/{tree.building.id}/members/{people.resident.id}", headers=h)
    assert r.status_code == 204
    assert roles_of(people.resident, tree.building) == set()
    r = client.delete(
        f"/api/v1/orgs/{tree.building.id}/members/{people.resident.id}",
        headers=bearer(people.other_staff),
    )
    assert r.status_code == 404


def test_members_are_searchable_and_paginated(client, tree, people):
    for i in range(7):
        add_member(make_user(f"1390000000{i}", f"住户{i}"), tree.building, "resident")
    db.session.commit()
    h = bearer(people.staff)
    url = f"/api/v1/orgs/{tree.building.id}/members"
    seen, cursor = [], None
    while True:
        r = client.get(
            url, query_string={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=h
        )
        assert r.status_code == 200 and len(r.json["items"]) <= 3
        seen += [i["name"] for i in r.json["items"]]
        cursor = r.json["next"]
        if cursor is None:
            break
    assert seen == ["居民", *[f"住户{i}" for i in range(7)]]
    assert [
        i["name"] for i in client.get(url, query_string={"q": "住户3"}, headers=h).json["items"]
    ] == ["住户3"]
    assert [
        i["phone"] for i in client.get(url, query_string={"q": "0000005"}, headers=h).json["items"]
    ] == ["13900000005"]
    assert client.get(url, query_string={"q": "%"}, headers=h).json["items"] == []
    assert client.get(url, query_string={"cursor": "junk"}, headers=h).status_code == 400
    assert client.get(url, query_string={"limit": "x"}, headers=h).status_code == 400


# -- the last admin ------------------------------------------------------------------


def test_the_only_district_admin_cannot_remove_themselves(client, tree, people):
    h = bearer(people.district_admin)
    url = f"/api/v1/orgs/{tree.district.id}/members/{people.district_admin.id}"
    r = client.delete(url, headers=h)
    assert r.status_code == 409 and r.json["error"]["code"] == "last_admin"
    assert roles_of(people.district_admin, tree.district) == {"admin"}
    r = client.delete(url, query_string={"role": "admin"}, headers=bearer(people.root))
    assert r.status_code == 409  # a platform admin cannot leave it without one either
    second = make_user("13900000099", "副区长")
    add_member(second, tree.district, "admin")
    db.session.commit()
    assert client.delete(url, headers=h).status_code == 204
    r = client.delete(
        f"/api/v1/orgs/{tree.district.id}/members/{second.id}", headers=bearer(second)
    )
    assert r.status_code == 409


def test_a_community_admin_may_go_while_the_district_has_one(client, tree, people):
    """The guard is about nobody being able to manage the place: an admin above counts."""
    h = bearer(people.community_admin)
    r = client.delete(
        f"/api/v1/orgs/{tree.community.id}/members/{people.community_admin.id}", headers=h
    )
    assert r.status_code == 204


# -- join requests -------------------------------------------------------------------


def test_asking_twice_answers_the_same_pending_request(client, tree, people):
    h = bearer(people.outsider)
    url = f"/api/v1/orgs/{tree.building.id}/join-requests"
    first = client.post(url, headers=h)
    assert first.status_code == 201
    assert first.json["status"] == "pending" and first.json["id"]
    again = client.post(url, headers=h)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert db.session.scalar(select(func.count()).select_from(JoinRequest)) == 1
    r = client.post(
        f"/api/v1/orgs/{tree.building.id}/join-requests", headers=bearer(people.resident)
    )
    assert r.status_code == 409 and r.json["error"]["code"] == "already_member"
    assert client.post("/api/v1/orgs/999999/join-requests", headers=h).status_code == 404
    assert client.post(url).status_code == 401


def test_staff_see_pending_requests_of_their_subtree_and_approve(client, tree, people):
    req_id = client.post(
        f"/api/v1/orgs/{tree.building.id}/join-requests", headers=bearer(people.outsider)
    ).json["id"]
    client.post(
        f"/api/v1/orgs/{tree.other_community.id}/join-requests", headers=bearer(people.resident)
    )
    h = bearer(people.staff)
    r = client.get(f"/api/v1/orgs/{tree.community.id}/join-requests", headers=h)
    assert r.status_code == 200
    assert [(i["id"], i["name"], i["org_name"]) for i in r.json["items"]] == [
        (req_id, "路人", "1栋")
    ]
    assert (
        client.get(
            f"/api/v1/orgs/{tree.community.id}/join-requests", headers=bearer(people.resident)
        ).status_code
        == 403
    )
    assert (
        client.get(
            f"/api/v1/orgs/{tree.community.id}/join-requests", headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    # a stranger cannot approve it, and the request does not change
    assert (
        client.post(
            f"/api/v1/join-requests/{req_id}/approve", headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    assert client.post("/api/v1/join-requests/999999/approve", headers=h).status_code == 404
    r = client.post(f"/api/v1/join-requests/{req_id}/approve", headers=h)
    assert r.status_code == 200 and r.json["status"] == "approved"
    assert roles_of(people.outsider, tree.building) == {"resident"}
    assert client.post(f"/api/v1/join-requests/{req_id}/approve", headers=h).status_code == 200
    r = client.post(f"/api/v1/join-requests/{req_id}/reject", headers=h)
    assert r.status_code == 409 and r.json["error"]["code"] == "already_decided"
    assert (
        client.get(f"/api/v1/orgs/{tree.community.id}/join-requests", headers=h).json["items"] == []
    )
    me = client.get("/api/v1/me", headers=bearer(people.outsider)).json
    assert me["memberships"] == [
        {"org_id": tree.building.id, "org_name": "1栋", "role": "resident"}
    ]
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.action.like("join.%")).order_by(AuditLog.id)
    ).all()
    assert actions == ["join.ask", "join.ask", "join.approve"]


def test_a_rejected_person_may_ask_again(client, tree, people):
    h = bearer(people.outsider)
    url = f"/api/v1/orgs/{tree.building.id}/join-requests"
    first = client.post(url, headers=h).json["id"]
    r = client.post(f"/api/v1/join-requests/{first}/reject", headers=bearer(people.staff))
    assert r.status_code == 200 and r.json["status"] == "rejected"
    assert roles_of(people.outsider, tree.building) == set()
    assert (
        client.post(
            f"/api/v1/join-requests/{first}/approve", headers=bearer(people.staff)
        ).status_code
        == 409
    )
    again = client.post(url, headers=h)
    assert again.status_code == 201 and again.json["id"] != first


def test_join_choices_go_down_one_level_at_a_time(client, tree, people):
    h = bearer(people.outsider)
    r = client.get("/api/v1/join-choices", headers=h)
    assert [i["name"] for i in r.json["items"]] == ["盘龙区"]
    r = client.get("/api/v1/join-choices", query_string={"parent_id": tree.district.id}, headers=h)
    assert {i["name"] for i in r.json["items"]} == {"联盟街道", "拓东街道"}
    assert (
        client.get("/api/v1/join-choices", query_string={"parent_id": "x"}, headers=h).status_code
        == 400
    )
    assert (
        client.get("/api/v1/join-choices", query_string={"parent_id": 99999}, headers=h).status_code
        == 404
    )


# -- switching a plugin off: who is affected ------------------------------------------


def test_inheriting_below_counts_only_the_organizations_that_follow(tree):
    # district (self) + subdistrict, community, group, building, other_subdistrict, other_community
    assert services.inheriting_below(tree.district, "sample") == 6
    enable(tree.community, "sample", False)  # shadows community, group and building
    assert services.inheriting_below(tree.district, "sample") == 3
    assert services.inheriting_below(tree.community, "sample") == 2
    extra = make_org("2栋", "building", tree.group)
    enable(extra, "sample", True)
    assert services.inheriting_below(tree.community, "sample") == 2
    assert services.inheriting_below(tree.building, "sample") == 0


# -- a building's join code -------------------------------------------------------------


def test_a_building_join_code_decodes_to_its_join_page(app, client, tree, people):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    url = qr.scan_url(qr.join_token(tree.building.id))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.png(url))))
    assert [d.text for d in decoded] == [url]
    token = url.rsplit("/c/", 1)[1]
    assert qr.verify(token, "join")[1] == {"o": tree.building.id}
    client.post("/login", data={"phone": people.outsider.phone, "password": "correct-horse"})
    r = client.get(f"/c/{token}")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/join/{tree.building.id}?via=qr")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "申请加入1栋" in page
    r = client.post("/api/v1/scan", json={"token": token}, headers=bearer(people.outsider))
    assert r.json["org_id"] == tree.building.id and r.json["purpose"] == "join"
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.get(f"/c/{forged}").status_code == 400
