"""One test per hook volunteering implements (the lead's meta-test looks for
``test_hook_<name>``); ``service_recorded`` is in test_scans.py."""

from datetime import date

import click

import plugins.volunteering as volunteering
from core.extensions import db
from core.models import utcnow
from core.plugins import Card, NavItem, ReportSection
from core.testing import bearer, make_org, make_user
from core.times import local_zone
from plugins.volunteering import services
from plugins.volunteering.models import Activity, Signup
from tests.plugins.volunteering.conftest import make_activity


def test_hook_describe():
    meta = volunteering.describe()
    assert (meta.name, meta.title, meta.title_en) == ("volunteering", "志愿服务", "Volunteering")
    assert "activity_id" in meta.owners


def test_hook_blueprints(app):
    [bp] = volunteering.blueprints()
    assert bp.name == "volunteering"
    assert "volunteering.api_sign_up" in app.view_functions


def test_jobs_are_the_blueprints_cli_group(app):
    # The jobs hang on the plugin's blueprint (``jindou volunteering ...``), not a hook.
    assert not hasattr(volunteering, "cli_commands")
    group = app.cli.get_command(None, "volunteering")
    assert isinstance(group, click.Group) and "close-attendance" in group.commands


def test_hook_nav_items(client, on, people):
    with client.application.test_request_context():
        items = volunteering.nav_items(user=people.resident, org=on.building)
    assert all(isinstance(i, NavItem) for i in items)
    assert [i.label for i in items] == ["志愿活动", "服务记录", "我的签到码"]
    r = client.get("/", headers=bearer(people.resident))
    assert "志愿活动" in r.text


def test_hook_dashboard_cards(client, on, people):
    activity = make_activity(on.community, starts_in=-200, minutes=90)
    db.session.add(Signup(activity_id=activity.id, user_id=people.resident.id, status="confirmed"))
    db.session.commit()
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    services.check_out(people.resident.id, activity, now=activity.ends_at)
    with client.application.test_request_context():
        [card] = volunteering.dashboard_cards(user=people.resident, org=on.building)
    assert isinstance(card, Card) and card.value == "1 小时 30 分"
    assert "1 小时 30 分" in client.get("/", headers=bearer(people.resident)).text


def test_hook_seed_demo(app):
    district = make_org("盘龙区", "district")
    subdistrict = make_org("联盟街道", "subdistrict", district)
    orgs = {
        "district": district,
        "subdistrict1": subdistrict,
        "community1": make_org("金星社区", "community", subdistrict),
        "community3": make_org("东华社区", "community", subdistrict),
    }
    users = {
        k: make_user(p, k)
        for k, p in (
            ("staff", "13800000002"),
            ("volunteer1", "13900000001"),
            ("volunteer2", "13900000002"),
        )
    }
    volunteering.seed_demo(orgs=orgs, users=users)
    db.session.commit()
    activities = db.session.scalars(db.select(Activity)).all()
    assert len(activities) == 5
    now = utcnow()
    assert any(a.starts_at <= now < a.ends_at for a in activities)  # one running now


def test_hook_org_report(on, people):
    activity = make_activity(on.building, starts_in=-200, minutes=60)
    services.backfill(
        people.staff,
        activity,
        user=people.resident,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="补录",
    )
    local = activity.starts_at.astimezone(local_zone())
    section = volunteering.org_report(org=on.community, month=date(local.year, local.month, 1))
    assert isinstance(section, ReportSection)
    assert dict(section.rows) == {
        "活动数": 1,
        "参与志愿者": 1,
        "信用时数": "0 分",
        "荣誉时数": "1 小时",
    }
    empty = volunteering.org_report(org=on.other_community, month=date(local.year, local.month, 1))
    assert dict(empty.rows)["活动数"] == 0
