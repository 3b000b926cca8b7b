"""Regression tests for defects a review found (each failed before its fix): input."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.api import BadRequest
from core.extensions import db
from core.models import utcnow
from core.testing import bearer
from core.times import local_zone, month_bounds
from plugins.volunteering import services
from plugins.volunteering.models import Activity, Attendance
from plugins.volunteering.schemas import MAX_POINTS, MAX_POINTS_PER_HOUR, ActivityCreateSchema
from tests.plugins.volunteering.conftest import iso, make_activity

EXTREMES = [
    "9999-12-30T00:00-10:00",
    "0001-01-01T00:00+08:00",
    "1999-12-31T23:59+00:00",
    "2101-01-01T00:00+00:00",
]


def body(**overrides):
    data = {
        "title": "垃圾分类宣传",
        "starts_at": iso(60),
        "ends_at": iso(180),
        "capacity": 3,
        "points": 10,
        "points_per_hour": 5,
    }
    data.update(overrides)
    return data


def activity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


# -- 1. extreme dates ------------------------------------------------------------------------


@pytest.mark.parametrize("moment", EXTREMES)
@pytest.mark.parametrize("field", ["starts_at", "ends_at", "signup_deadline"])
def test_activity_times_outside_2000_2100_are_a_400(client, on, people, moment, field):
    r = client.post(
        f"/api/v1/orgs/{on.community.id}/activities",
        json=body(**{field: moment}),
        headers=bearer(people.staff),
    )
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["fields"]
    assert activity_count() == 0


@pytest.mark.parametrize("moment", EXTREMES)
def test_backfill_times_outside_2000_2100_are_a_400(client, on, people, moment):
    activity = make_activity(on.community, starts_in=-200, minutes=120)
    r = client.post(
        f"/api/v1/activities/{activity.id}/backfills",
        json={
            "phone": people.resident.phone,
            "checked_in_at": moment,
            "checked_out_at": iso(-100),
            "reason": "老人没有手机",
        },
        headers=bearer(people.staff),
    )
    assert r.status_code == 400, r.json
    assert "checked_in_at" in r.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


@pytest.mark.parametrize(
    "query",
    ["to=9999-12-31", "from=0001-01-01", "from=1999-12-31", "to=2101-01-01", "from=2026-02-30"],
)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_export_dates_outside_2000_2100_are_a_400(client, on, people, query, kind):
    r = client.get(
        f"/volunteering/orgs/{on.community.id}/export.{kind}?{query}", headers=bearer(people.staff)
    )
    assert r.status_code == 400
    r = client.get(
        f"/volunteering/orgs/{on.community.id}/export.{kind}?from=2100-12-01&to=2100-12-31",
        headers=bearer(people.staff),
    )
    assert r.status_code == 200


def test_month_bounds_refuses_years_outside_2000_2100(app):
    from datetime import date

    with pytest.raises(BadRequest):
        month_bounds(date(9999, 12, 1))
    start, end = month_bounds(date(2100, 12, 1))
    assert (start.year, end.year) == (2100, 2101)


# -- 2. Unicode digits on the activity form ------------------------------------------------------


@pytest.mark.parametrize("field", ["capacity", "points", "points_per_hour"])
@pytest.mark.parametrize("raw", ["²", "٣", "-²", "9" * 5000])
def test_activity_form_with_unicode_digits_is_a_form_error(client, on, people, field, raw):
    start = (utcnow() + timedelta(days=1)).astimezone(local_zone())
    form = {
        "title": "文明劝导",
        "category": "文明劝导",
        "location": "路口",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "capacity": "4",
        "points": "5",
        "points_per_hour": "2",
        "description": "",
    }
    r = client.post(
        f"/volunteering/orgs/{on.community.id}/activities/new",
        data={**form, field: raw},
        headers=bearer(people.staff),
    )
    assert r.status_code == 200 and field in r.text
    assert activity_count() == 0


# -- 7. settings take JSON booleans only --------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "true", None, 1.0])
def test_settings_refuse_numbers_as_booleans(client, on, people, value):
    r = client.put(
        f"/api/v1/orgs/{on.community.id}/volunteering/settings",
        json={"honour_hours_earn_points": value},
        headers=bearer(people.community_admin),
    )
    assert r.status_code == 400, r.json
    assert services.honour_hours_earn_points(on.community) is False
    r = client.put(
        f"/api/v1/orgs/{on.community.id}/volunteering/settings",
        json={"honour_hours_earn_points": True},
        headers=bearer(people.community_admin),
    )
    assert r.status_code == 200 and r.json == {"honour_hours_earn_points": True}


# -- 8. what an activity may pay stays within one 金豆 award ----------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"points": MAX_POINTS + 1},
        {"points_per_hour": MAX_POINTS_PER_HOUR + 1},
        {"points": 100_000},
        {"points_per_hour": 100_000},
    ],
)
def test_activity_points_are_bounded(client, on, people, overrides):
    r = client.post(
        f"/api/v1/orgs/{on.community.id}/activities",
        json=body(**overrides),
        headers=bearer(people.staff),
    )
    assert r.status_code == 400 and set(overrides) <= set(r.json["error"]["fields"])


def test_the_richest_activity_earns_what_one_award_may_pay(app):
    starts = utcnow() + timedelta(hours=1)
    data = ActivityCreateSchema().load(
        body(
            points=MAX_POINTS,
            points_per_hour=MAX_POINTS_PER_HOUR,
            starts_at=starts.isoformat(),
            ends_at=(starts + timedelta(days=7)).isoformat(),
        )
    )
    longest = Activity(**data)
    minutes = services.service_minutes(longest, longest.starts_at, longest.ends_at)
    assert minutes == 7 * 24 * 60
    assert services.points_for(longest, minutes) <= 1_000_000  # points' MAX_AWARD


@pytest.mark.parametrize("org", ["9" * 30, str(2**31), "-1", "²", "x"])
def test_activity_list_with_an_insane_org_is_a_404(client, on, people, org):
    r = client.get(f"/volunteering/?org_id={org}", headers=bearer(people.resident))
    assert r.status_code == 404
