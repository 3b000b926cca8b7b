"""Service hours, points, closing, back-fill and the record, at the service level
(where the clock can be set)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.api import ApiError
from core.extensions import db
from core.models import AuditLog
from core.testing import bearer
from plugins.volunteering import services
from plugins.volunteering.models import Attendance, Signup
from tests.plugins.volunteering.conftest import make_activity


def confirmed(activity, user):
    db.session.add(Signup(activity_id=activity.id, user_id=user.id, status="confirmed"))
    db.session.commit()


def test_minutes_are_the_overlap_and_points_pro_rata_rounded_down(on, people, spy):
    activity = make_activity(on.community, starts_in=-200, minutes=180, points=10, per_hour=5)
    confirmed(activity, people.resident)
    start = activity.starts_at
    services.check_in(people.resident.id, activity, now=start - timedelta(minutes=20))
    att = services.check_out(
        people.resident.id, activity, now=start + timedelta(minutes=135, seconds=59)
    )
    assert att.minutes == 135  # early arrival does not count; seconds are dropped
    assert att.points_earned == 10 + 5 * 135 // 60 == 21
    assert att.points_awarded == 21 and att.verified and att.status == "completed"
    assert spy.calls[0]["minutes"] == 135


def test_checkout_after_end_counts_until_end_only(on, people):
    activity = make_activity(on.community, starts_in=-100, minutes=60, points=0, per_hour=60)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at + timedelta(minutes=15))
    att = services.check_out(
        people.resident.id, activity, now=activity.ends_at + timedelta(minutes=30)
    )
    assert (att.minutes, att.points_earned) == (45, 45)


def test_checkin_window_and_checkout_grace(on, people):
    activity = make_activity(on.community, starts_in=60)
    confirmed(activity, people.resident)
    with pytest.raises(ApiError) as err:
        services.check_in(
            people.resident.id, activity, now=activity.starts_at - timedelta(minutes=31)
        )
    assert err.value.code == "checkin_not_open"
    with pytest.raises(ApiError) as err:
        services.check_in(people.resident.id, activity, now=activity.ends_at)
    assert err.value.code == "checkin_closed"
    services.check_in(people.resident.id, activity, now=activity.starts_at - timedelta(minutes=30))
    with pytest.raises(ApiError) as err:
        services.check_out(
            people.resident.id, activity, now=activity.ends_at + timedelta(minutes=61)
        )
    assert err.value.code == "checkout_closed"


def test_close_attendance_cli_is_idempotent(app, on, people):
    activity = make_activity(on.community, starts_in=-300, minutes=120)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["volunteering", "close-attendance"])
    assert result.exit_code == 0 and "closed 1" in result.output
    assert runner.invoke(args=["volunteering", "close-attendance"]).output.startswith("closed 0")
    db.session.rollback()
    att = db.session.scalar(select(Attendance))
    assert att.status == "incomplete" and att.minutes == 0
    with pytest.raises(ApiError) as err:
        services.check_out(people.resident.id, activity)
    assert err.value.code == "checkout_closed"


def test_backfill_gives_audited_honour_hours_without_points_by_default(client, on, people, spy):
    activity = make_activity(on.community, starts_in=-300, minutes=120, points=10, per_hour=6)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    services.close_attendance()
    body = {
        "phone": people.resident.phone,
        "checked_in_at": activity.starts_at.isoformat(),
        "checked_out_at": (activity.starts_at + timedelta(minutes=90)).isoformat(),
        "reason": "忘记签退，组长证明",
    }
    url = f"/api/v1/activities/{activity.id}/backfills"
    r = client.post(url, json=body, headers=bearer(people.resident))
    assert r.status_code == 403
    r = client.post(url, json={**body, "reason": ""}, headers=bearer(people.staff))
    assert r.status_code == 400 and "reason" in r.json["error"]["fields"]
    before = {
        **body,
        "checked_in_at": (activity.starts_at - timedelta(hours=2)).isoformat(),
        "checked_out_at": (activity.starts_at - timedelta(hours=1)).isoformat(),
    }
    r = client.post(url, json=before, headers=bearer(people.staff))
    assert r.status_code == 400 and r.json["error"]["code"] == "no_overlap"
    r = client.post(url, json=body, headers=bearer(people.staff))
    assert r.status_code == 201, r.json
    assert r.json["minutes"] == 90 and r.json["verified"] is False and r.json["points"] == 0
    assert spy.calls[-1]["verified"] is False and spy.calls[-1]["points"] == 0
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "volunteering.backfill"))
    assert audit.actor_id == people.staff.id and audit.details["reason"] == "忘记签退，组长证明"
    r = client.post(url, json=body, headers=bearer(people.staff))
    assert (r.status_code, r.json["error"]["code"]) == (409, "already_recorded")
    record = services.service_record(people.resident)
    assert (record["verified_minutes"], record["honour_minutes"]) == (0, 90)


def test_honour_hours_earn_points_where_the_org_allows(client, on, people, spy):
    r = client.put(
        f"/api/v1/orgs/{on.community.id}/volunteering/settings",
        json={"honour_hours_earn_points": True},
        headers=bearer(people.staff),
    )
    assert r.status_code == 403
    r = client.put(
        f"/api/v1/orgs/{on.community.id}/volunteering/settings",
        json={"honour_hours_earn_points": "yes"},
        headers=bearer(people.community_admin),
    )
    assert r.status_code == 400 and "honour_hours_earn_points" in r.json["error"]["fields"]
    assert services.honour_hours_earn_points(on.community) is False
    r = client.put(
        f"/api/v1/orgs/{on.community.id}/volunteering/settings",
        json={"honour_hours_earn_points": True},
        headers=bearer(people.community_admin),
    )
    assert r.status_code == 200 and r.json == {"honour_hours_earn_points": True}
    activity = make_activity(on.building, starts_in=-300, minutes=120, points=10, per_hour=6)
    att = services.backfill(
        people.staff,
        activity,
        user=people.resident,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="无智能手机",
    )
    assert att.points_earned == 22 and att.points_awarded == 22


def test_star_levels():
    assert services.star_level(99 * 60 + 59, (100, 300, 600, 1000, 1500)) == 0
    assert services.star_level(100 * 60, (100, 300, 600, 1000, 1500)) == 1
    assert services.star_level(1500 * 60, (100, 300, 600, 1000, 1500)) == 5


def test_verified_hours_count_towards_stars(app, on, people):
    activity = make_activity(on.community, starts_in=-300, minutes=120)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    services.check_out(people.resident.id, activity, now=activity.ends_at)
    app.config["JINDOU_VOLUNTEERING_STAR_HOURS"] = (1, 2, 3, 4, 5)
    record = services.service_record(people.resident)
    assert record["verified_minutes"] == 120 and record["stars"] == 2


def test_failed_award_is_retried_by_close_attendance(app, on, people, spy):
    from core.api import Conflict

    activity = make_activity(on.community, starts_in=-200, minutes=60, points=7, per_hour=0)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    spy.refuse = Conflict("金豆基金余额不足", code="fund_short")
    att = services.check_out(people.resident.id, activity, now=activity.ends_at)
    assert att.status == "completed" and att.points_awarded is None  # the check-out stands
    spy.refuse = None
    assert services.close_attendance() == {"closed": 0, "retried": 1}
    assert spy.calls[-1]["points"] == 7
    assert services.close_attendance() == {"closed": 0, "retried": 0}


def test_close_attendance_only_where_volunteering_is_on(app, on, people, spy):
    """Switched off at the community (on above it), or on again at a group below: the
    nearest switch decides, in the job's one UPDATE and in its retries."""
    from core.testing import enable

    off = make_activity(on.community, starts_in=-300, minutes=60, title="关")
    back_on = make_activity(on.group, starts_in=-300, minutes=60, title="开")
    for activity in (off, back_on):
        confirmed(activity, people.resident)
        services.check_in(people.resident.id, activity, now=activity.starts_at)
    enable(on.community, "volunteering", False)
    enable(on.group, "volunteering", True)
    db.session.commit()
    assert services.close_attendance() == {"closed": 1, "retried": 0}
    statuses = dict(db.session.execute(select(Attendance.activity_id, Attendance.status)).all())
    assert statuses == {off.id: "open", back_on.id: "incomplete"}
