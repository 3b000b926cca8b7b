"""Each hook patrol implements, and its job group."""

from __future__ import annotations

import click

import plugins.patrol as patrol
from core.extensions import db
from core.models import utcnow
from core.plugins import NavItem
from core.testing import bearer, make_org, make_user
from plugins.patrol import services
from plugins.patrol.models import Checkpoint, Member, Route, Shift
from tests.plugins.patrol.helpers import make_route, make_shift


def test_hook_describe():
    meta = patrol.describe()
    assert (meta.name, meta.title, meta.title_en) == ("patrol", "治安巡逻", "Patrol")
    assert set(meta.owners) == {"route_id", "checkpoint_id", "shift_id", "incident_id"}
    assert [r.name for r in meta.roles] == ["leader"]


def test_hook_blueprints(app):
    [bp] = patrol.blueprints()
    assert bp.name == "patrol"
    assert "patrol.api_create_route" in app.view_functions
    group = app.cli.get_command(None, "patrol")
    assert isinstance(group, click.Group) and "close-shifts" in group.commands


def test_hook_nav_items(client, on, people):
    with client.application.test_request_context():
        items = patrol.nav_items(user=people.resident, org=on.building)
    assert all(isinstance(i, NavItem) for i in items)
    assert [i.label for i in items] == ["治安巡逻", "我的巡逻班次"]


def test_hook_scan_token(client, on, people, team):
    route = make_route(people.staff, on.community)
    make_shift(people.staff, on.community, route, team)
    assert patrol.scan_token(user=team[0], purpose="checkin", payload={"a": 1}) is None
    points = services.checkpoints_of(route.id)
    outcome = patrol.scan_token(user=team[0], purpose="patrol", payload={"c": points[1].id})
    assert outcome.headline == "3号院 已打卡 1/4 ✓"
    assert outcome.detail.startswith("下一个：东大门")
    assert outcome.data["kind"] == "checkpoint"
    page = client.get(f"/c/{services.checkpoint_token(points[0])}", headers=bearer(team[1]))
    assert page.status_code == 200 and "2/4 ✓" in page.text and "自行车棚" in page.text
    refused = client.get(
        f"/c/{services.checkpoint_token(points[0])}", headers=bearer(people.resident)
    )
    # the page speaks Chinese only: no reason code in English (issue 9)
    assert refused.status_code == 409 and "no_active_shift" not in refused.text


def test_hook_seed_demo(app):
    district = make_org("盘龙区", "district")
    community = make_org("金星社区", "community", district)
    users = {
        k: make_user(p, k)
        for k, p in (
            ("staff", "13800000002"),
            ("volunteer1", "13900000001"),
            ("volunteer2", "13900000002"),
        )
    }
    patrol.seed_demo(orgs={"district": district, "community1": community}, users=users)
    db.session.commit()
    assert db.session.query(Route).count() == 1
    assert db.session.query(Checkpoint).count() == 4
    shift = db.session.query(Shift).one()
    assert shift.starts_at > utcnow() and shift.status == "scheduled"
    assert {m.user_id for m in db.session.query(Member)} == {
        users["volunteer1"].id,
        users["volunteer2"].id,
    }
