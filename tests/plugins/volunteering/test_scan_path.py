"""The door's hot path (POST /api/v1/scan): a fixed, small number of Core
statements, no ORM rows loaded, and the same answers as before — the plugin
switch nearest the activity decides, a check-out still pays its 金豆."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.models import User
from core.testing import bearer, count_statements, enable, make_org
from plugins.volunteering.models import Attendance
from tests.plugins.volunteering.conftest import make_activity
from tests.plugins.volunteering.test_scans import code, confirm


@contextmanager
def statements():
    """The SQL statements run inside the block (transaction control left out)."""
    db.session.remove()  # the request starts from an empty session, as in production
    with count_statements(transaction_control=False) as seen:
        yield seen


def scan(client, token, headers):
    return client.post("/api/v1/scan", json={"token": token}, headers=headers)


def full_user_loads(seen: list[str]) -> list[str]:
    """Statements loading a whole User, Activity or Organization row."""
    whole = ("user_account.password_hash", "volunteering_activity.description", "organization.name")
    return [s for s in seen if any(column in s for column in whole)]


@pytest.fixture
def door(client, on, people):
    """A running activity with the resident confirmed; the screen's two codes."""
    activity = make_activity(on.community, points=10, per_hour=6)
    confirm(activity, people.resident)
    staff = bearer(people.staff)
    return {
        "activity_id": activity.id,
        "org_id": on.community.id,
        "starts_at": activity.starts_at,
        "user_id": people.resident.id,
        "me": bearer(people.resident),
        "in": code(client, activity, staff)["token"],
        "out": code(client, activity, staff, "out")["token"],
    }


def back_date_check_in(door) -> None:
    db.session.execute(
        update(Attendance)
        .where(Attendance.activity_id == door["activity_id"])
        .values(checked_in_at=door["starts_at"])
    )
    db.session.commit()


def test_check_in_is_three_statements_and_loads_no_rows(client, door):
    with statements() as seen:
        r = scan(client, door["in"], door["me"])
    assert r.status_code == 200, r.json
    assert r.json["kind"] == "checkin" and r.json["user_id"] == door["user_id"]
    # the bearer token, everything the scan reads (switches included), the INSERT
    assert len(seen) == 3, seen
    assert seen[-1].lstrip().upper().startswith("INSERT")
    assert full_user_loads(seen) == []


def test_a_repeat_reads_twice_and_answers_the_first(client, door):
    first = scan(client, door["in"], door["me"])
    with statements() as seen:
        again = scan(client, door["in"], door["me"])
    assert again.status_code == 200 and again.json == first.json
    assert len(seen) == 2, seen


def test_check_out_without_points_is_three_statements(client, door, tree, spy):
    enable(tree.district, "points", enabled=False)
    db.session.commit()
    scan(client, door["in"], door["me"])
    back_date_check_in(door)
    with statements() as seen:
        r = scan(client, door["out"], door["me"])
    assert r.status_code == 200, r.json
    assert r.json["minutes"] >= 9 and r.json["points"] == 0
    assert len(seen) == 3, seen
    assert seen[-1].lstrip().upper().startswith("UPDATE")
    assert full_user_loads(seen) == [] and spy.calls == []


def test_check_out_announces_with_the_scanning_person_and_the_activitys_org(client, door, spy):
    scan(client, door["in"], door["me"])
    back_date_check_in(door)
    with statements() as seen:
        r = scan(client, door["out"], door["me"])
    assert r.status_code == 200, r.json
    assert r.json["points"] == r.json["points_earned"] > 0
    [call] = spy.calls
    assert call["user_id"] == door["user_id"] and call["org_id"] == door["org_id"]
    assert call["key"].startswith("volunteering.attendance.")
    # token, read, close the record, then one write of what the listeners paid
    assert len(seen) == 4, seen
    assert full_user_loads(seen) == []


def test_the_nearest_switch_decides(client, door, tree):
    """On at the district, off at the community: the activity's community says no,
    and nothing is written; on again below an off district: yes."""
    enable(tree.community, "volunteering", enabled=False)
    db.session.commit()
    r = scan(client, door["in"], door["me"])
    assert r.status_code == 404 and r.json["error"]["code"] == "plugin_off"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
    enable(tree.district, "volunteering", enabled=False)
    enable(tree.community, "volunteering", enabled=True)
    db.session.commit()
    r = scan(client, door["in"], door["me"])
    assert r.status_code == 200, r.json


def test_statements_do_not_grow_with_the_tree(client, on, people):
    """An activity in a building five levels down, many siblings and switches about."""
    for i in range(20):
        enable(make_org(f"楼{i}", "building", on.group), "volunteering", enabled=i % 2 == 0)
    activity = make_activity(on.building)
    confirm(activity, people.resident)
    token = code(client, activity, bearer(people.staff))["token"]
    me = bearer(people.resident)
    with statements() as seen:
        r = scan(client, token, me)
    assert r.status_code == 200, r.json
    assert len(seen) == 3, seen


def test_an_inactive_persons_token_still_scans_nothing(client, door):
    db.session.execute(update(User).where(User.id == door["user_id"]).values(active=False))
    db.session.commit()
    r = scan(client, door["in"], door["me"])
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_a_revoked_or_unknown_token_is_401(client, door):
    r = scan(client, door["in"], {"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    from core.models import ApiToken, utcnow

    db.session.execute(update(ApiToken).values(revoked_at=utcnow()))
    db.session.commit()
    r = scan(client, door["in"], door["me"])
    assert r.status_code == 401


def test_refusals_keep_their_codes(client, door, people):
    """Not signed up, then the wrong purpose and a forged code: as before."""
    outsider = bearer(people.outsider)
    r = scan(client, door["in"], outsider)
    assert r.status_code == 409 and r.json["error"]["code"] == "not_signed_up"
    r = scan(client, door["out"], door["me"])
    assert r.status_code == 409 and r.json["error"]["code"] == "not_checked_in"
    r = scan(client, door["in"][:-2] + "xx", door["me"])
    assert r.status_code == 400 and r.json["error"]["code"] == "token_forged"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
