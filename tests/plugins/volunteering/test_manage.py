"""Staff managing an activity (API): edit, cancel, copy, walk-ins; bad inputs write nothing."""

from datetime import datetime, timedelta

from sqlalchemy import func, select

from core import qr
from core.audit import AuditLog
from core.extensions import db
from core.testing import add_member, bearer, make_user
from plugins.volunteering.models import Activity, Attendance, Signup
from tests.plugins.volunteering.conftest import iso, make_activity


def count(model, **where) -> int:
    db.session.rollback()
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def confirm(activity, user, status="confirmed"):
    db.session.add(Signup(activity_id=activity.id, user_id=user.id, status=status))
    db.session.commit()


def residents(tree, n):
    people = [make_user(f"1370000{i:04d}", f"居民{i}") for i in range(n)]
    for person in people:
        add_member(person, tree.building, "resident")
    db.session.commit()
    return people


# -- PATCH ---------------------------------------------------------------------------------


def test_staff_edit_changes_fields_and_is_audited(client, on, people):
    activity = make_activity(on.community, starts_in=60)
    r = client.patch(
        f"/api/v1/activities/{activity.id}",
        headers=bearer(people.staff),
        json={"title": "新名字", "location": "二楼", "capacity": 8},
    )
    assert r.status_code == 200, r.json
    assert (r.json["title"], r.json["location"], r.json["capacity"]) == ("新名字", "二楼", 8)
    assert r.json["places_left"] == 8 and r.json["status"] == "open"
    row = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "volunteering.activity_updated")
    )
    assert row.details["after"]["title"] == "新名字" and row.details["before"]["capacity"] == 5


def test_edit_moves_times_and_a_larger_capacity_confirms_the_waitlist(client, on, people):
    activity = make_activity(on.community, starts_in=60, capacity=1)
    first, second = residents(on, 2)
    confirm(activity, first)
    confirm(activity, second, "waitlisted")
    starts = activity.starts_at + timedelta(hours=1)
    r = client.patch(
        f"/api/v1/activities/{activity.id}",
        headers=bearer(people.staff),
        json={
            "capacity": 2,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(),
        },
    )
    assert r.status_code == 200, r.json
    assert r.json["confirmed_count"] == 2 and r.json["waitlist_count"] == 0
    assert datetime.fromisoformat(r.json["starts_at"]) == starts
    assert datetime.fromisoformat(r.json["ends_at"]) == starts + timedelta(hours=3)


def test_edit_refusals_write_nothing(client, on, people):
    activity = make_activity(on.community, starts_in=60, capacity=3)
    confirm(activity, people.resident)
    for extra in residents(on, 1):
        confirm(activity, extra)
    staff, url = bearer(people.staff), f"/api/v1/activities/{activity.id}"
    cases = [
        ({"capacity": 1}, 409, "capacity_below_confirmed", "capacity"),
        ({"capacity": 0}, 400, "invalid", "capacity"),
        ({"capacity": "3"}, 400, "invalid", "capacity"),
        ({"ends_at": iso(30)}, 400, "invalid", "ends_at"),  # before the start
        ({"starts_at": iso(-120)}, 400, "invalid", "starts_at"),  # the one-hour rule
        ({"points": 201}, 400, "invalid", "points"),  # the cap (200)
        ({"points_per_hour": 51}, 400, "invalid", "points_per_hour"),
        ({"category": "跳舞"}, 400, "invalid", "category"),
        ({"title": ""}, 400, "invalid", "title"),
        ({"org_id": 1}, 400, "invalid", "org_id"),  # not editable
    ]
    for change, status, code, field in cases:
        r = client.patch(url, json=change, headers=staff)
        assert (r.status_code, r.json["error"]["code"]) == (status, code), (change, r.json)
        assert field in (r.json["error"].get("fields") or {}), (change, r.json)
    r = client.patch(url, data="nope", headers=staff, content_type="application/json")
    assert r.status_code == 400
    r = client.patch(url, json={"category": "跳舞"}, headers=staff)
    assert "请从列表中选择" in r.json["error"]["fields"]["category"][0]
    assert (
        client.patch(url, json={"title": "x"}, headers=bearer(people.resident)).status_code == 403
    )
    assert (
        client.patch(url, json={"title": "x"}, headers=bearer(people.other_staff)).status_code
        == 404
    )
    assert (
        client.patch("/api/v1/activities/999", json={"title": "x"}, headers=staff).status_code
        == 404
    )
    db.session.rollback()
    again = db.session.get(Activity, activity.id)
    assert (again.capacity, again.points, again.title) == (3, 10, "楼道清洁")
    assert count(AuditLog, action="volunteering.activity_updated") == 0


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_shows_the_reason_and_stops_signups_and_scans(client, on, people):
    activity = make_activity(on.community)
    confirm(activity, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    token = client.get(f"/api/v1/activities/{activity.id}/checkin-code", headers=staff).json[
        "token"
    ]
    r = client.post(
        f"/api/v1/activities/{activity.id}/cancel", json={"reason": "暴雨预警"}, headers=staff
    )
    assert (r.status_code, r.json) == (200, {"status": "cancelled"})
    r = client.get(f"/api/v1/activities/{activity.id}", headers=me)
    assert r.json["status"] == "cancelled" and r.json["cancel_reason"] == "暴雨预警"
    assert r.json["my_signup"]["status"] == "confirmed"  # they see it on their list
    listed = client.get(f"/api/v1/orgs/{on.building.id}/activities", headers=me).json["items"]
    assert [(a["id"], a["status"]) for a in listed] == [(activity.id, "cancelled")]
    r = client.post("/api/v1/scan", json={"token": token}, headers=me)
    assert (r.status_code, r.json["error"]["code"]) == (409, "cancelled")
    assert "暴雨预警" in r.json["error"]["message"]
    r = client.post(f"/api/v1/activities/{activity.id}/signups", headers=bearer(people.staff))
    assert (r.status_code, r.json["error"]["code"]) == (409, "cancelled")
    r = client.post(
        f"/api/v1/activities/{activity.id}/walk-ins",
        headers=staff,
        json={"person_code": qr.person_code(people.resident.id).token},
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "cancelled")
    r = client.patch(f"/api/v1/activities/{activity.id}", json={"title": "x"}, headers=staff)
    assert (r.status_code, r.json["error"]["code"]) == (409, "cancelled")
    assert count(Attendance) == 0
    # again: harmless, the first reason stays
    r = client.post(
        f"/api/v1/activities/{activity.id}/cancel", json={"reason": "别的原因"}, headers=staff
    )
    assert r.status_code == 200
    assert db.session.get(Activity, activity.id).cancel_reason == "暴雨预警"


def test_cancel_refusals(client, on, people):
    activity = make_activity(on.community)
    ended = make_activity(on.community, starts_in=-300, minutes=60)
    url, staff = f"/api/v1/activities/{activity.id}/cancel", bearer(people.staff)
    for bad in ({}, {"reason": ""}, {"reason": "x"}, {"reason": 5}, {"reason": "长" * 201}):
        r = client.post(url, json=bad, headers=staff)
        assert r.status_code == 400 and "reason" in r.json["error"]["fields"], bad
    assert (
        client.post(url, json={"reason": "下雨了"}, headers=bearer(people.resident)).status_code
        == 403
    )
    assert (
        client.post(url, json={"reason": "下雨了"}, headers=bearer(people.other_staff)).status_code
        == 404
    )
    r = client.post(
        f"/api/v1/activities/{ended.id}/cancel", json={"reason": "下雨了"}, headers=staff
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "ended")
    assert count(Activity) == 2 and db.session.get(Activity, activity.id).cancelled_at is None


# -- copy ------------------------------------------------------------------------------------


def test_copy_keeps_length_and_fields(client, on, people):
    activity = make_activity(
        on.community, starts_in=60, minutes=150, location="活动室", category="助老助残"
    )
    confirm(activity, people.resident)
    starts = activity.starts_at + timedelta(days=7)
    r = client.post(
        f"/api/v1/activities/{activity.id}/copy",
        json={"starts_at": starts.isoformat()},
        headers=bearer(people.staff),
    )
    assert r.status_code == 201, r.json
    assert r.json["id"] != activity.id and r.json["confirmed_count"] == 0
    assert datetime.fromisoformat(r.json["starts_at"]) == starts
    assert datetime.fromisoformat(r.json["ends_at"]) == starts + timedelta(minutes=150)
    for name in ("title", "location", "category", "capacity", "points", "points_per_hour"):
        assert r.json[name] == getattr(activity, name), name
    assert db.session.get(Activity, r.json["id"]).created_by_id == people.staff.id


def test_copy_refusals_write_nothing(client, on, people):
    activity = make_activity(on.community, starts_in=60)
    url, staff = f"/api/v1/activities/{activity.id}/copy", bearer(people.staff)
    for bad in (
        {},
        {"starts_at": "next week"},
        {"starts_at": "2026-12-01T10:00:00"},
        {"starts_at": iso(-600)},
    ):
        r = client.post(url, json=bad, headers=staff)
        assert r.status_code == 400 and "starts_at" in r.json["error"]["fields"], (bad, r.json)
    assert (
        client.post(url, json={"starts_at": iso(600)}, headers=bearer(people.resident)).status_code
        == 403
    )
    assert (
        client.post(
            url, json={"starts_at": iso(600)}, headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    assert count(Activity) == 1


# -- walk-ins --------------------------------------------------------------------------------


def test_walk_in_signs_up_and_checks_in(client, on, people):
    activity = make_activity(on.community)
    url, staff = f"/api/v1/activities/{activity.id}/walk-ins", bearer(people.staff)
    short = qr.person_code(people.resident.id).short_code
    r = client.post(url, json={"person_code": short}, headers=staff)
    assert r.status_code == 201, r.json
    assert r.json["status"] == "confirmed" and r.json["checked_in_at"].endswith("+00:00")
    assert r.json["name"] == "居民"
    assert count(Signup, status="confirmed") == 1 and count(Attendance, status="open") == 1
    again = client.post(
        url, json={"person_code": qr.person_code(people.resident.id).token}, headers=staff
    )
    assert again.status_code == 200 and again.json["checked_in_at"] == r.json["checked_in_at"]
    assert count(Attendance) == 1


def test_walk_in_while_places_last(client, on, people):
    activity = make_activity(on.community, capacity=1)
    first, second = residents(on, 2)
    confirm(activity, first)
    url, staff = f"/api/v1/activities/{activity.id}/walk-ins", bearer(people.staff)
    r = client.post(url, json={"person_code": qr.person_code(second.id).short_code}, headers=staff)
    assert (r.status_code, r.json["error"]["code"]) == (409, "full")
    # the one who signed up is simply checked in
    r = client.post(url, json={"person_code": qr.person_code(first.id).short_code}, headers=staff)
    assert r.status_code == 201
    assert count(Attendance) == 1 and count(Signup) == 1


def test_walk_in_refusals_write_nothing(client, on, people):
    activity = make_activity(on.community)
    later = make_activity(on.community, starts_in=600)
    url, staff = f"/api/v1/activities/{activity.id}/walk-ins", bearer(people.staff)
    stale = qr.person_code(people.resident.id, now=datetime.now().timestamp() - 600).token
    cases = [
        ({}, 400, "invalid"),
        ({"person_code": ""}, 400, "invalid"),
        ({"person_code": "hello"}, 400, "token_malformed"),
        ({"person_code": "1234"}, 400, "token_malformed"),
        ({"person_code": stale}, 400, "token_expired"),
        ({"person_code": "00000000"}, 404, "person_not_found"),
        # an outsider's code: the short code matches nobody there, the token nobody of ours
        ({"person_code": qr.person_code(people.outsider.id).short_code}, 404, "person_not_found"),
        ({"person_code": qr.person_code(people.outsider.id).token}, 404, "not_member"),
        ({"person_code": qr.person_code(people.other_staff.id).token}, 404, "not_member"),
    ]
    for bad, status, code in cases:
        r = client.post(url, json=bad, headers=staff)
        assert (r.status_code, r.json["error"]["code"]) == (status, code), (bad, r.json)
    r = client.post(
        f"/api/v1/activities/{later.id}/walk-ins",
        headers=staff,
        json={"person_code": qr.person_code(people.resident.id).token},
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "checkin_not_open")
    me = {"person_code": qr.person_code(people.resident.id).token}
    assert client.post(url, json=me, headers=bearer(people.resident)).status_code == 403
    assert client.post(url, json=me, headers=bearer(people.other_staff)).status_code == 404
    assert count(Attendance) == 0 and count(Signup) == 0
