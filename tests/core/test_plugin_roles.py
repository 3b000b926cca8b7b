"""Plugin roles (``knobs.cashier``): granted by admins, cover the subtree like
staff, sit beside a core role, and leave the core roles' ranks alone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.access import (
    can_see,
    effective_role,
    has_plugin_role,
    has_role,
    require_plugin_role,
)
from core.api import ApiError
from core.extensions import db
from core.models import Membership, Role
from core.testing import add_member, bearer
from tests.core.test_pages import login
from tests.core.test_query_budget import count_statements
from tests.core.test_settings import KnobsPlugin


@pytest.fixture
def app(make_app):
    app = make_app(plugins=[KnobsPlugin()])
    with app.app_context():
        yield app
        db.session.remove()


def grant(client, actor, org, person, role):
    return client.post(
        f"/api/v1/orgs/{org.id}/members",
        json={"phone": person.phone, "role": role},
        headers=bearer(actor),
    )


def test_granted_role_covers_the_subtree_only(client, tree, people):
    r = grant(client, people.district_admin, tree.community, people.outsider, "knobs.cashier")
    assert r.status_code == 201, r.json
    assert r.json["role"] == "knobs.cashier"
    cashier = people.outsider
    for org in (tree.community, tree.group, tree.building):
        assert has_plugin_role(cashier, org, "knobs.cashier")
        assert not has_plugin_role(cashier, org, "knobs.leader")
    for org in (tree.subdistrict, tree.district, tree.other_community):  # not up, not aside
        assert not has_plugin_role(cashier, org, "knobs.cashier")
    # a plugin role is no core role: no rank, nothing implied, yet the subtree is visible
    assert effective_role(cashier, tree.building) is None
    assert not has_role(cashier, tree.building, Role.resident)
    assert can_see(cashier, tree.building) and can_see(cashier, tree.district)
    assert not can_see(cashier, tree.other_community)


def test_core_roles_do_not_imply_plugin_roles(tree, people):
    for person in (people.root, people.district_admin, people.community_admin, people.staff):
        assert not has_plugin_role(person, tree.community, "knobs.cashier")
    with pytest.raises(ValueError):
        has_plugin_role(people.staff, tree.community, "cashier")


def test_require_plugin_role(tree, people):
    add_member(people.outsider, tree.community, "knobs.cashier")
    require_plugin_role(people.outsider, tree.building, "knobs.cashier")
    with pytest.raises(ApiError) as err:  # can see it, lacks the role
        require_plugin_role(people.staff, tree.building, "knobs.cashier")
    assert err.value.status == 403
    with pytest.raises(ApiError) as err:  # cannot see it at all
        require_plugin_role(people.other_staff, tree.building, "knobs.cashier")
    assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        require_plugin_role(None, tree.building, "knobs.cashier")
    assert err.value.status == 404


def test_a_resident_and_a_patrol_leader_of_the_same_building(client, tree, people):
    r = grant(client, people.community_admin, tree.building, people.resident, "knobs.leader")
    assert r.status_code == 201
    assert effective_role(people.resident, tree.building) is Role.resident
    assert has_plugin_role(people.resident, tree.building, "knobs.leader")
    me = client.get("/api/v1/me", headers=bearer(people.resident)).json
    assert sorted((m["org_id"], m["role"]) for m in me["memberships"]) == [
        (tree.building.id, "knobs.leader"),
        (tree.building.id, "resident"),
    ]
    # the same role twice, or a second core role at one organization: 409
    again = grant(client, people.community_admin, tree.building, people.resident, "knobs.leader")
    assert again.status_code == 409
    staff = grant(client, people.community_admin, tree.building, people.resident, "staff")
    assert staff.status_code == 409 and staff.json["error"]["code"] == "already_member"
    # removing one role keeps the other
    h = bearer(people.community_admin)
    base = f"/api/v1/orgs/{tree.building.id}/members/{people.resident.id}"
    assert client.delete(f"{base}?role=knobs.leader", headers=h).status_code == 204
    assert not has_plugin_role(people.resident, tree.building, "knobs.leader")
    db.session.expire_all()
    roles = db.session.scalars(
        select(Membership.role).where(Membership.user_id == people.resident.id)
    ).all()
    assert roles == ["resident"]


@pytest.mark.parametrize("role", ["knobs.nope", "points.cashier", "boss", "", "knobs.", "x" * 65])
def test_unknown_role_is_400(client, tree, people, role):
    r = grant(client, people.district_admin, tree.community, people.outsider, role)
    assert r.status_code == 400 and "role" in r.json["error"]["fields"]
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.user_id == people.outsider.id)
        )
        == 0
    )


def test_only_admins_grant_plugin_roles(client, tree, people):
    # staff may not grant roles (they are not admins); the role is a grant of power
    r = grant(client, people.staff, tree.community, people.outsider, "knobs.cashier")
    assert r.status_code == 403
    r = grant(client, people.other_staff, tree.community, people.outsider, "knobs.cashier")
    assert r.status_code == 404
    assert not has_plugin_role(people.outsider, tree.community, "knobs.cashier")


def test_the_database_refuses_nonsense_roles(tree, people):
    from sqlalchemy.exc import IntegrityError

    db.session.add(Membership(user_id=people.outsider.id, org_id=tree.community.id, role="boss"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_one_query_for_every_role_here(app, tree, people):
    add_member(people.resident, tree.community, "knobs.cashier")
    db.session.commit()
    person, building = people.resident, tree.building
    assert building.path and person.is_platform_admin is False  # loaded before counting
    with app.test_request_context():
        with count_statements() as statements:
            assert has_plugin_role(person, building, "knobs.cashier")
            assert not has_plugin_role(person, building, "knobs.leader")
            assert effective_role(person, building) is Role.resident
        assert len([s for s in statements if s.startswith("SELECT")]) == 1, statements


def test_member_page_grants_and_shows_plugin_roles(client, tree, people):
    login(client, people.community_admin)
    html = client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    assert 'value="knobs.cashier"' in html and "收银员" in html
    client.post(
        f"/orgs/{tree.building.id}/members",
        data={"phone": people.resident.phone, "role": "knobs.cashier"},
    )
    assert has_plugin_role(people.resident, tree.building, "knobs.cashier")
    html = client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    assert "收银员" in html and "居民" in html
    client.post(
        f"/orgs/{tree.building.id}/members",
        data={"phone": people.outsider.phone, "role": "knobs.nope"},
    )
    assert "没有这个角色" in client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    # removing from the page takes away only that row's role
    client.post(
        f"/orgs/{tree.building.id}/members/{people.resident.id}/remove",
        data={"role": "knobs.cashier", "confirm": "yes"},
    )
    db.session.expire_all()
    assert effective_role(people.resident, tree.building) is Role.resident
    assert not has_plugin_role(people.resident, tree.building, "knobs.cashier")


def test_staff_can_issue_a_reset_code_to_a_resident_holding_a_plugin_role(client, tree, people):
    # A plugin role has no rank: it neither blocks nor grants a desk reset (was a KeyError: 500).
    db.session.add(
        Membership(user_id=people.resident.id, org_id=tree.building.id, role="knobs.cashier")
    )
    db.session.commit()
    r = client.post(
        f"/api/v1/users/{people.resident.id}/password-reset", headers=bearer(people.staff)
    )
    assert r.status_code == 201 and len(r.json["code"]) == 6
