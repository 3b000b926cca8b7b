from sqlalchemy import func, select

from core.extensions import db
from core.testing import bearer, enable
from plugins.volunteering.models import Activity
from tests.plugins.volunteering.conftest import iso, make_activity


def body(**overrides):
    data = {
        "title": "垃圾分类宣传",
        "category": "政策宣传",
        "starts_at": iso(60),
        "ends_at": iso(180),
        "capacity": 3,
        "points": 10,
        "points_per_hour": 5,
        "location": "金星社区广场",
    }
    data.update(overrides)
    return data


def activity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


def test_staff_create_activity(client, on, people):
    r = client.post(
        f"/api/v1/orgs/{on.community.id}/activities", json=body(), headers=bearer(people.staff)
    )
    assert r.status_code == 201, r.json
    assert r.json["title"] == "垃圾分类宣传"
    assert r.json["capacity"] == 3 and r.json["places_left"] == 3
    assert r.json["org_id"] == on.community.id
    assert r.json["starts_at"].endswith("+00:00")
    assert r.json["my_signup"] is None


def test_create_activity_bad_input_names_fields_and_writes_nothing(client, on, people):
    headers = bearer(people.staff)
    url = f"/api/v1/orgs/{on.community.id}/activities"
    cases = [
        (body(ends_at=iso(30)), "ends_at"),  # ends before it starts
        (body(capacity=-1), "capacity"),
        (body(capacity="3"), "capacity"),  # no strings for numbers
        (body(points=-5), "points"),
        (body(starts_at="2026-12-01T10:00:00"), "starts_at"),  # no offset
        (body(starts_at=iso(-300), ends_at=iso(-200)), "ends_at"),  # already over
        (body(category="打麻将"), "category"),
        (body(title=""), "title"),
        (body(signup_deadline=iso(500)), "signup_deadline"),
    ]
    for data, field in cases:
        r = client.post(url, json=data, headers=headers)
        assert r.status_code == 400, (field, r.json)
        assert field in r.json["error"]["fields"], (field, r.json)
    assert activity_count() == 0


def test_resident_cannot_create_and_outsider_sees_nothing(client, on, people):
    r = client.post(
        f"/api/v1/orgs/{on.building.id}/activities", json=body(), headers=bearer(people.resident)
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/orgs/{on.community.id}/activities",
        json=body(),
        headers=bearer(people.other_staff),
    )
    assert r.status_code == 404
    activity = make_activity(on.community)
    assert (
        client.get(f"/api/v1/activities/{activity.id}", headers=bearer(people.outsider)).status_code
        == 404
    )
    assert activity_count() == 1


def test_resident_lists_own_and_ancestor_activities_soonest_first(client, on, people):
    later = make_activity(on.community, starts_in=300, title="晚的")
    sooner = make_activity(on.subdistrict, starts_in=60, title="早的")
    make_activity(on.other_community, starts_in=30, title="别处的")
    make_activity(on.community, starts_in=-600, minutes=60, title="已结束")
    r = client.get(f"/api/v1/orgs/{on.building.id}/activities", headers=bearer(people.resident))
    assert r.status_code == 200
    assert [a["id"] for a in r.json["items"]] == [sooner.id, later.id]
    assert r.json["items"][0]["places_left"] == 5
    assert r.json["next"] is None


def test_list_paginates(client, on, people):
    ids = [make_activity(on.community, starts_in=60 + i, title=f"活动{i}").id for i in range(3)]
    headers = bearer(people.resident)
    r = client.get(f"/api/v1/orgs/{on.building.id}/activities?limit=2", headers=headers)
    assert [a["id"] for a in r.json["items"]] == ids[:2]
    r = client.get(
        f"/api/v1/orgs/{on.building.id}/activities?limit=2&cursor={r.json['next']}", headers=headers
    )
    assert [a["id"] for a in r.json["items"]] == ids[2:]


def test_get_activity_counts_and_my_signup(client, on, people):
    activity = make_activity(on.community, capacity=1)
    headers = bearer(people.resident)
    client.post(f"/api/v1/activities/{activity.id}/signups", headers=headers)
    r = client.get(f"/api/v1/activities/{activity.id}", headers=headers)
    assert r.status_code == 200
    assert r.json["confirmed_count"] == 1 and r.json["waitlist_count"] == 0
    assert r.json["my_signup"]["status"] == "confirmed"


def test_404_where_volunteering_is_off(client, on, people):
    activity = make_activity(on.community)
    enable(on.community, "volunteering", False)
    db.session.commit()
    headers = bearer(people.staff)
    assert client.get(f"/api/v1/activities/{activity.id}", headers=headers).status_code == 404
    assert (
        client.post(
            f"/api/v1/activities/{activity.id}/signups", headers=bearer(people.resident)
        ).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/orgs/{on.community.id}/activities", headers=headers).status_code == 404
    )
    r = client.post(f"/api/v1/orgs/{on.community.id}/activities", json=body(), headers=headers)
    assert r.status_code == 404
    assert client.get(f"/volunteering/activities/{activity.id}", headers=headers).status_code == 404
    # still on in the sibling subdistrict
    assert (
        client.get(
            f"/api/v1/orgs/{on.other_community.id}/activities", headers=bearer(people.other_staff)
        ).status_code
        == 200
    )


def test_unknown_activity_is_404(client, on, people):
    assert client.get("/api/v1/activities/999", headers=bearer(people.staff)).status_code == 404
