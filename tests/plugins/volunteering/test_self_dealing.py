"""Nobody pays themselves (API.md, "Points"): back-dated activities, caps on
points, the creator's own attendance, self back-fill; bounded strings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core.extensions import db
from core.models import utcnow
from core.testing import add_member, bearer, make_user
from plugins.volunteering import services
from plugins.volunteering.models import Activity, Attendance
from tests.plugins.volunteering.conftest import iso


def body(**overrides):
    data = {
        "title": "楼道清洁",
        "starts_at": iso(30),
        "ends_at": iso(150),
        "capacity": 5,
        "points": 10,
        "points_per_hour": 6,
    }
    data.update(overrides)
    return data


def create(client, org, user, **overrides):
    return client.post(
        f"/api/v1/orgs/{org.id}/activities", json=body(**overrides), headers=bearer(user)
    )


def activity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


# -- F1: a back-dated activity paying thousands ------------------------------------------------


def test_back_dated_activity_with_huge_points_is_refused(client, on, people):
    """The reported exploit: started days ago, 10,000 + 1,000 per hour."""
    r = create(
        client,
        on.community,
        people.staff,
        starts_at=iso(-3 * 24 * 60),
        ends_at=iso(60),
        points=10_000,
        points_per_hour=1_000,
    )
    assert r.status_code == 400, r.json
    assert set(r.json["error"]["fields"]) == {"starts_at", "points", "points_per_hour"}
    assert "一小时" in r.json["error"]["fields"]["starts_at"][0]
    assert activity_count() == 0


def test_activity_may_start_at_most_an_hour_ago(client, on, people):
    assert create(client, on.community, people.staff, starts_at=iso(-59)).status_code == 201
    r = create(client, on.community, people.staff, starts_at=iso(-62))
    assert r.status_code == 400 and list(r.json["error"]["fields"]) == ["starts_at"]
    r = create(client, on.community, people.staff, starts_at=iso(-180), ends_at=iso(-60))
    assert r.status_code == 400 and "ends_at" in r.json["error"]["fields"]  # already ended
    assert activity_count() == 1


def test_the_hour_is_counted_after_conversion_to_utc(client, on, people):
    """Two hours ago written in +08:00 is still two hours ago."""
    from zoneinfo import ZoneInfo

    starts = (utcnow() - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    r = create(client, on.community, people.staff, starts_at=starts.isoformat())
    assert r.status_code == 400 and "starts_at" in r.json["error"]["fields"]


def test_points_are_capped_by_default(client, on, people):
    r = create(client, on.community, people.staff, points=201)
    assert r.status_code == 400 and list(r.json["error"]["fields"]) == ["points"]
    assert "200" in r.json["error"]["fields"]["points"][0]
    r = create(client, on.community, people.staff, points_per_hour=51)
    assert r.status_code == 400 and list(r.json["error"]["fields"]) == ["points_per_hour"]
    assert (
        create(client, on.community, people.staff, points=200, points_per_hour=50).status_code
        == 201
    )


def test_caps_come_from_settings_and_are_inherited(client, on, people):
    """The district sets 100; a community below sees it and is held to it."""
    url = f"/api/v1/orgs/{on.district.id}/settings/volunteering"
    r = client.put(
        url,
        json={"max_points_per_activity": 100, "max_points_per_hour": 20},
        headers=bearer(people.district_admin),
    )
    assert r.status_code == 200, r.json
    r = client.get(
        f"/api/v1/orgs/{on.community.id}/settings/volunteering",
        headers=bearer(people.community_admin),
    )
    assert r.json["settings"]["max_points_per_activity"] == 100
    assert r.json["sources"]["max_points_per_activity"] == on.district.id
    r = create(client, on.community, people.staff, points=101, points_per_hour=21)
    assert r.status_code == 400 and set(r.json["error"]["fields"]) == {"points", "points_per_hour"}
    assert (
        create(client, on.community, people.staff, points=100, points_per_hour=20).status_code
        == 201
    )
    # Staff cannot raise the cap; out-of-range values are refused by core.
    assert (
        client.put(
            url, json={"max_points_per_activity": 10_000}, headers=bearer(people.staff)
        ).status_code
        == 403
    )
    assert (
        client.put(
            url, json={"max_points_per_activity": -1}, headers=bearer(people.district_admin)
        ).status_code
        == 400
    )


def test_the_new_activity_page_names_the_cap(client, on, people):
    r = client.post(
        f"/volunteering/orgs/{on.community.id}/activities/new",
        headers=bearer(people.staff),
        data={
            "title": "清洁",
            "starts_at": "",
            "ends_at": "",
            "capacity": "5",
            "points": "500",
            "points_per_hour": "0",
        },
    )
    assert r.status_code == 200 and activity_count() == 0
    start = utcnow() + timedelta(hours=1)
    from core.times import local_zone

    local = start.astimezone(local_zone())
    r = client.post(
        f"/volunteering/orgs/{on.community.id}/activities/new",
        headers=bearer(people.staff),
        data={
            "title": "清洁",
            "category": "其他",
            "capacity": "5",
            "points": "500",
            "points_per_hour": "0",
            "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert r.status_code == 200 and "上限 200" in r.text and activity_count() == 0


# -- F1: the creator's own attendance ---------------------------------------------------------


def test_creator_scanning_in_and_out_earns_no_points(client, on, people, spy):
    r = create(
        client,
        on.community,
        people.staff,
        starts_at=iso(-30),
        ends_at=iso(60),
        points=200,
        points_per_hour=50,
    )
    assert r.status_code == 201
    activity = db.session.get(Activity, r.json["id"])
    now = utcnow()
    for person in (people.staff, people.resident):
        services.sign_up(person, activity.id)
        services.scan(person, activity.id, "in", now=now)
    mine = services.scan(people.staff, activity.id, "out", now=now + timedelta(minutes=1))
    theirs = services.scan(people.resident, activity.id, "out", now=now + timedelta(minutes=1))
    assert mine.minutes == 1 and mine.points_earned == 0 and mine.data()["points"] == 0
    assert theirs.points_earned == 200 and theirs.data()["points"] == 200
    # The creator's service is still recorded and announced, with points 0.
    assert [(c["user_id"], c["minutes"], c["points"]) for c in spy.calls] == [
        (people.staff.id, 1, 0),
        (people.resident.id, 1, 200),
    ]
    record = services.service_record(people.staff)
    assert record["verified_minutes"] == 1


def test_creator_earns_no_points_for_honour_hours_either(client, on, people, spy):
    services.set_honour_hours_earn_points(people.district_admin, on.district, True)
    colleague = make_user("13000000099", "同事")
    add_member(colleague, on.community, "staff")
    db.session.commit()
    r = create(
        client,
        on.community,
        people.staff,
        starts_at=iso(-30),
        ends_at=iso(60),
        points=200,
        points_per_hour=50,
    )
    activity = db.session.get(Activity, r.json["id"])
    row = services.backfill(
        colleague,
        activity,
        user=people.staff,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="忘记扫码",
    )
    assert row.minutes == 90 and row.points_earned == 0 and not row.points_awarded
    row = services.backfill(
        colleague,
        activity,
        user=people.resident,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="老人无手机",
    )
    assert row.points_earned == 200 + 75  # others still earn


def test_staff_cannot_back_fill_themselves(client, on, people, spy):
    """The reported exploit paid +177,000 for one self back-fill."""
    services.set_honour_hours_earn_points(people.district_admin, on.district, True)
    db.session.commit()
    activity = Activity(
        org_id=on.community.id,
        title="巡逻",
        capacity=5,
        points=10,
        points_per_hour=6,
        starts_at=utcnow() - timedelta(hours=3),
        ends_at=utcnow() - timedelta(hours=1),
    )
    db.session.add(activity)
    db.session.commit()
    r = client.post(
        f"/api/v1/activities/{activity.id}/backfills",
        headers=bearer(people.staff),
        json={
            "phone": people.staff.phone,
            "reason": "补录自己",
            "checked_in_at": activity.starts_at.isoformat(),
            "checked_out_at": activity.ends_at.isoformat(),
        },
    )
    assert r.status_code == 403 and r.json["error"]["code"] == "self_backfill"
    # The page refuses the same way (flashed), and nothing is written.
    r = client.post(
        f"/volunteering/activities/{activity.id}/attendance",
        headers=bearer(people.staff),
        data={
            "phone": people.staff.phone,
            "reason": "补录自己",
            "checked_in_at": "",
            "checked_out_at": "",
        },
    )
    assert r.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
    assert spy.calls == []


# -- bounded strings ------------------------------------------------------------------------


def test_too_long_strings_are_400_naming_the_field(client, on, people):
    for field, value in (
        ("title", "长" * 101),
        ("location", "x" * 201),
        ("description", "x" * 5001),
        ("category", "x" * 21),
    ):
        r = create(client, on.community, people.staff, **{field: value})
        assert r.status_code == 400 and field in r.json["error"]["fields"], (field, r.json)
    activity = Activity(
        org_id=on.community.id,
        title="巡逻",
        capacity=5,
        starts_at=utcnow() - timedelta(hours=3),
        ends_at=utcnow() - timedelta(hours=1),
    )
    db.session.add(activity)
    db.session.commit()
    r = client.post(
        f"/api/v1/activities/{activity.id}/backfills",
        headers=bearer(people.staff),
        json={
            "phone": people.resident.phone,
            "reason": "x" * 201,
            "checked_in_at": activity.starts_at.isoformat(),
            "checked_out_at": activity.ends_at.isoformat(),
        },
    )
    assert r.status_code == 400 and list(r.json["error"]["fields"]) == ["reason"]
    assert activity_count() == 1
