import io
import time

import zxingcpp
from PIL import Image
from sqlalchemy import func, select, update

from core import qr
from core.extensions import db
from core.testing import bearer, enable
from plugins.volunteering.models import Attendance, Signup
from tests.plugins.volunteering.conftest import make_activity


def attendance_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Attendance))


def code(client, activity, staff_headers, kind="in") -> dict:
    r = client.get(
        f"/api/v1/activities/{activity.id}/checkin-code?kind={kind}", headers=staff_headers
    )
    assert r.status_code == 200, r.json
    return r.json


def confirm(activity, user, status="confirmed"):
    db.session.add(Signup(activity_id=activity.id, user_id=user.id, status=status))
    db.session.commit()


def arrived_at_start(activity, user):
    """Back-date the check-in to the start: the activity has run about 10 minutes."""
    db.session.execute(
        update(Attendance)
        .where(Attendance.activity_id == activity.id, Attendance.user_id == user.id)
        .values(checked_in_at=activity.starts_at)
    )
    db.session.commit()


def test_checkin_code_is_a_scan_url_for_staff_only(client, on, people):
    activity = make_activity(on.community)
    body = code(client, activity, bearer(people.staff))
    assert body["url"] == f"http://jindou.test/c/{body['token']}"
    assert body["token"].startswith("checkin.")
    assert body["expires_at"].endswith("+00:00")
    assert code(client, activity, bearer(people.staff), "out")["token"].startswith("checkout.")
    r = client.get(
        f"/api/v1/activities/{activity.id}/checkin-code", headers=bearer(people.resident)
    )
    assert r.status_code == 403  # a resident below sees the activity but holds no staff role
    r = client.get(
        f"/api/v1/activities/{activity.id}/checkin-code?kind=sideways", headers=bearer(people.staff)
    )
    assert r.status_code == 400 and "kind" in r.json["error"]["fields"]


def test_checkin_code_png_decodes_back_to_the_url(client, on, people):
    activity = make_activity(on.community)
    headers = bearer(people.staff)
    expected = code(client, activity, headers)["url"]
    r = client.get(f"/api/v1/activities/{activity.id}/checkin-code.png", headers=headers)
    assert r.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)))
    assert [d.text for d in decoded] == [expected]
    r = client.get(f"/api/v1/activities/{activity.id}/checkin-code.svg", headers=headers)
    assert r.mimetype == "image/svg+xml" and b"<svg" in r.data


def test_scan_in_and_out_with_points(client, on, people, spy):
    activity = make_activity(on.community, points=10, per_hour=6)
    confirm(activity, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    r = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff)["token"]}, headers=me
    )
    assert r.status_code == 200, r.json
    assert r.json["kind"] == "checkin" and r.json["activity_id"] == activity.id
    first_at = r.json["at"]
    again = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff)["token"]}, headers=me
    )
    assert again.json["at"] == first_at  # a repeated scan answers the first result
    arrived_at_start(activity, people.resident)
    r = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff, "out")["token"]}, headers=me
    )
    assert r.status_code == 200, r.json
    assert r.json["kind"] == "checkout"
    # 10 base points + 6 an hour for 10 (or, across a minute boundary, 11) minutes
    assert r.json["minutes"] in (10, 11) and r.json["points"] == 11
    assert len(spy.calls) == 1
    again = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff, "out")["token"]}, headers=me
    )
    assert again.json == r.json and len(spy.calls) == 1
    assert attendance_count() == 1


def test_scan_page_says_it_in_big_chinese(client, on, people):
    activity = make_activity(on.community)
    confirm(activity, people.resident)
    url = code(client, activity, bearer(people.staff))["url"]
    r = client.get(url)
    assert r.status_code == 302 and "/login?next=/c/checkin." in r.headers["Location"]
    r = client.get(url, headers=bearer(people.resident))
    assert r.status_code == 200
    assert "签到成功" in r.text and activity.title in r.text
    arrived_at_start(activity, people.resident)
    r = client.get(
        code(client, activity, bearer(people.staff), "out")["url"], headers=bearer(people.resident)
    )
    assert "签退成功" in r.text and "+11 金豆" in r.text


def test_refused_scans_are_clear_and_write_nothing(client, on, people):
    activity = make_activity(on.community)
    other = make_activity(on.community, starts_in=600, title="以后的")
    staff, me = bearer(people.staff), bearer(people.resident)
    token = code(client, activity, staff)["token"]
    signed, sig = token.rsplit(".", 1)
    stale, _ = qr.rotating_token("checkin", {"a": activity.id}, now=time.time() - 90)
    relabelled = "checkout." + token.split(".", 1)[1]
    cases = [
        (token, 409, "not_signed_up"),  # scanning with no signup
        (signed + "." + sig[::-1], 400, "token_forged"),
        ("checkin.bm9wZQ", 400, "token_forged"),
        (stale, 400, "token_expired"),
        (relabelled, 400, "token_wrong_purpose"),
        (qr.person_code(people.resident.id).token, 400, "token_wrong_purpose"),
        ("hello", 400, "token_malformed"),
        (code(client, activity, staff, "out")["token"], 409, "not_checked_in"),
    ]
    for bad, status, reason in cases:
        r = client.post("/api/v1/scan", json={"token": bad}, headers=me)
        assert (r.status_code, r.json["error"]["code"]) == (status, reason), (bad, r.json)
        assert r.json["error"]["message"]
    confirm(other, people.resident)  # signed up for another activity only
    r = client.post("/api/v1/scan", json={"token": token}, headers=me)
    assert r.json["error"]["code"] == "not_signed_up"
    r = client.post("/api/v1/scan", json={"token": code(client, other, staff)["token"]}, headers=me)
    assert (r.status_code, r.json["error"]["code"]) == (409, "checkin_not_open")
    r = client.post("/api/v1/scan", json={}, headers=me)
    assert r.status_code == 400 and "token" in r.json["error"]["fields"]
    assert attendance_count() == 0
    r = client.get("/c/" + stale, headers=me)
    assert r.status_code == 400 and "二维码已过期" in r.text


def test_waitlisted_cannot_check_in(client, on, people):
    activity = make_activity(on.community)
    confirm(activity, people.resident, "waitlisted")
    r = client.post(
        "/api/v1/scan",
        json={"token": code(client, activity, bearer(people.staff))["token"]},
        headers=bearer(people.resident),
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "not_confirmed")
    assert attendance_count() == 0


def test_scan_404_where_volunteering_is_off(client, on, people):
    activity = make_activity(on.community)
    confirm(activity, people.resident)
    token = code(client, activity, bearer(people.staff))["token"]
    enable(on.community, "volunteering", False)
    db.session.commit()
    r = client.post("/api/v1/scan", json={"token": token}, headers=bearer(people.resident))
    assert r.status_code == 404
    assert attendance_count() == 0


def test_points_off_means_no_award(client, on, people, spy):
    enable(on.community, "points", False)
    db.session.commit()
    activity = make_activity(on.community)
    confirm(activity, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    client.post("/api/v1/scan", json={"token": code(client, activity, staff)["token"]}, headers=me)
    arrived_at_start(activity, people.resident)
    r = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff, "out")["token"]}, headers=me
    )
    assert r.json["points"] == 0 and r.json["points_earned"] == 11
    assert spy.calls == []


def test_hook_service_recorded(client, on, people, spy):
    """Volunteering emits service_recorded once per completed attendance, where points is on."""
    activity = make_activity(on.community, points=3, per_hour=0, title="助老")
    confirm(activity, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    client.post("/api/v1/scan", json={"token": code(client, activity, staff)["token"]}, headers=me)
    arrived_at_start(activity, people.resident)
    r = client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff, "out")["token"]}, headers=me
    )
    attendance_id = db.session.scalar(select(Attendance.id))
    assert spy.calls == [
        {
            "org_id": on.community.id,
            "user_id": people.resident.id,
            "activity_id": activity.id,
            "title": "助老",
            "minutes": r.json["minutes"],
            "verified": True,
            "points": 3,
            "key": f"volunteering.attendance.{attendance_id}",
        }
    ]


def test_staff_scans_a_person_code_or_types_its_short_code(client, on, people):
    activity = make_activity(on.community)
    confirm(activity, people.resident)
    staff = bearer(people.staff)
    mine = client.get("/api/v1/me/person-code", headers=bearer(people.resident)).json
    assert len(mine["short_code"]) == 8 and mine["url"].endswith(mine["token"])
    url = f"/api/v1/activities/{activity.id}/person-scans"
    r = client.post(url, json={"kind": "in", "token": mine["url"]}, headers=staff)
    assert r.status_code == 200, r.json
    assert r.json["kind"] == "checkin" and r.json["name"] == "居民"
    r = client.post(url, json={"kind": "out", "code": mine["short_code"]}, headers=staff)
    assert r.status_code == 200 and r.json["kind"] == "checkout"
    r = client.post(url, json={"kind": "in", "code": "00000000"}, headers=staff)
    assert (r.status_code, r.json["error"]["code"]) == (404, "person_not_found")
    checkin = code(client, activity, staff)["token"]
    r = client.post(url, json={"kind": "in", "token": checkin}, headers=staff)
    assert r.json["error"]["code"] == "token_wrong_purpose"
    r = client.post(url, json={"kind": "in"}, headers=staff)
    assert r.status_code == 400
    r = client.post(
        url, json={"kind": "in", "token": mine["token"]}, headers=bearer(people.resident)
    )
    assert r.status_code == 403  # residents cannot scan others in


def test_attendance_list_and_my_service_record(client, on, people):
    activity = make_activity(on.community, points=4, per_hour=0)
    confirm(activity, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    client.post("/api/v1/scan", json={"token": code(client, activity, staff)["token"]}, headers=me)
    r = client.get(f"/api/v1/activities/{activity.id}/attendance", headers=staff)
    assert r.status_code == 200
    [row] = r.json["items"]
    assert (row["name"], row["status"], row["checked_out_at"]) == ("居民", "open", None)
    assert client.get(f"/api/v1/activities/{activity.id}/attendance", headers=me).status_code == 403
    client.post(
        "/api/v1/scan", json={"token": code(client, activity, staff, "out")["token"]}, headers=me
    )
    r = client.get("/api/v1/me/service-record", headers=me)
    assert r.status_code == 200
    assert r.json["verified_minutes"] == 0 and r.json["stars"] == 0
    assert [i["activity_id"] for i in r.json["items"]] == [activity.id]
    assert client.get("/api/v1/me/service-record").status_code == 401


def test_the_wrong_screen_names_the_right_activity(client, on, people):
    mine = make_activity(on.community, title="楼道清洁")
    theirs = make_activity(on.community, title="文明劝导")
    confirm(mine, people.resident)
    staff, me = bearer(people.staff), bearer(people.resident)
    r = client.post(
        "/api/v1/scan", json={"token": code(client, theirs, staff)["token"]}, headers=me
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "other_activity")
    assert "楼道清洁" in r.json["error"]["message"]
    assert r.json["error"]["fields"]["activity_id"] == [mine.id]
    client.post("/api/v1/scan", json={"token": code(client, mine, staff)["token"]}, headers=me)
    r = client.post(
        "/api/v1/scan", json={"token": code(client, theirs, staff, "out")["token"]}, headers=me
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "other_activity")
    assert attendance_count() == 1
