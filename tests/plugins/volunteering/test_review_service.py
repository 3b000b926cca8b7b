"""Regression tests for defects a review found (each failed before its fix): service hours."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from core.extensions import db
from core.testing import bearer
from plugins.volunteering import services
from plugins.volunteering.models import Attendance, Signup
from tests.plugins.volunteering.conftest import make_activity


def confirmed(activity, user):
    db.session.add(Signup(activity_id=activity.id, user_id=user.id, status="confirmed"))
    db.session.commit()


def locked() -> OperationalError:
    import sqlite3

    return OperationalError(
        "UPDATE ledger_account ...", {}, sqlite3.OperationalError("database is locked")
    )


# -- 5. no minutes, no points ---------------------------------------------------------------------


def test_checking_out_before_the_start_earns_nothing(on, people, spy):
    activity = make_activity(on.community, starts_in=20, minutes=60, points=10, per_hour=6)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at - timedelta(minutes=20))
    scan = services.check_out(
        people.resident.id, activity, now=activity.starts_at - timedelta(minutes=5)
    )
    assert (scan.minutes, scan.points_earned, scan.points_awarded) == (0, 0, 0)
    assert spy.calls == []  # no service announced
    assert services.close_attendance() == {"closed": 0, "retried": 0}
    assert spy.calls == []


def test_immediate_check_out_by_scan_earns_nothing(client, on, people, spy):
    activity = make_activity(on.community, points=10, per_hour=6)
    confirmed(activity, people.resident)
    me = bearer(people.resident)
    services.check_in(people.resident.id, activity)
    scan = services.check_out(people.resident.id, activity)
    assert (scan.minutes, scan.points_earned, scan.points_awarded) == (0, 0, 0)
    assert spy.calls == []
    r = client.get("/volunteering/record", headers=me)
    assert r.status_code == 200


# -- 9. a locked database during the award never fails the check-out ---------------------------------


def test_locked_database_during_the_award_answers_the_check_out_and_retries_later(
    client, on, people, spy
):
    activity = make_activity(on.community, starts_in=-200, minutes=60, points=7, per_hour=0)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    spy.refuse = locked()
    scan = services.check_out(people.resident.id, activity, now=activity.ends_at)
    assert scan.status == "completed" and scan.minutes == 60 and not scan.points_awarded
    db.session.expire_all()
    row = db.session.scalar(select(Attendance))
    assert row.status == "completed" and row.points_awarded is None  # left for the retry
    spy.refuse = None
    assert services.close_attendance() == {"closed": 0, "retried": 1}
    assert spy.calls[-1]["points"] == 7
    db.session.expire_all()
    assert db.session.scalar(select(Attendance.points_awarded)) == 7


def test_a_passing_lock_is_retried_at_once(on, people, spy):
    activity = make_activity(on.community, starts_in=-200, minutes=60, points=7, per_hour=0)
    confirmed(activity, people.resident)
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    spy.refuse, spy.refusals = locked(), 2
    scan = services.check_out(people.resident.id, activity, now=activity.ends_at)
    assert scan.points_awarded == 7 and len(spy.calls) == 1


def test_locked_database_during_the_award_is_no_500_over_http(client, on, people, spy):
    from tests.plugins.volunteering.test_scans import code

    activity = make_activity(on.community, points=7, per_hour=0)
    confirmed(activity, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    client.post("/api/v1/scan", json={"token": code(client, activity, staff)["token"]}, headers=me)
    db.session.execute(Attendance.__table__.update().values(checked_in_at=activity.starts_at))
    db.session.commit()
    spy.refuse = locked()
    r = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff, "out")["token"]}, headers=me
    )
    assert r.status_code == 200, r.json
    assert r.json["kind"] == "checkout" and r.json["points"] == 0
