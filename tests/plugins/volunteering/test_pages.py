"""The pages: a volunteer's list, detail and record; staff screens and exports."""

import csv
import io
from datetime import timedelta

import qrcode
import zxingcpp
from openpyxl import load_workbook
from PIL import Image

from core import qr
from core.extensions import db
from core.models import utcnow
from core.testing import bearer
from core.times import local_zone
from plugins.volunteering import services
from plugins.volunteering.models import Signup
from tests.plugins.volunteering.conftest import make_activity


def test_volunteer_lists_signs_up_and_cancels_by_form(client, on, people):
    activity = make_activity(on.community, starts_in=60, title="陪伴老人")
    me = bearer(people.resident)
    r = client.get("/volunteering/", headers=me)
    assert r.status_code == 200 and "陪伴老人" in r.text and "剩余名额" in r.text
    r = client.post(f"/volunteering/activities/{activity.id}/signup", headers=me)
    assert r.status_code == 302
    r = client.get(f"/volunteering/activities/{activity.id}", headers=me)
    assert "已报名" in r.text and "取消报名" in r.text
    client.post(f"/volunteering/activities/{activity.id}/cancel", headers=me)
    assert "我要报名" in client.get(f"/volunteering/activities/{activity.id}", headers=me).text


def test_staff_create_activity_form_with_local_times(client, on, people):
    staff = bearer(people.staff)
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
        f"/volunteering/orgs/{on.community.id}/activities/new", data=form, headers=staff
    )
    assert r.status_code == 302, r.text
    r = client.get(r.headers["Location"], headers=staff)
    assert "文明劝导" in r.text and start.strftime("%H:%M") in r.text
    r = client.post(
        f"/volunteering/orgs/{on.community.id}/activities/new",
        data={**form, "capacity": "-2"},
        headers=staff,
    )
    assert r.status_code == 200 and "capacity" in r.text


def test_staff_screen_serves_a_rotating_code_and_the_count(client, on, people):
    activity = make_activity(on.community)
    staff = bearer(people.staff)
    r = client.get(f"/volunteering/activities/{activity.id}/screen?kind=out", headers=staff)
    assert r.status_code == 200 and "screen.js" in r.text and "签退" in r.text
    r = client.get(f"/volunteering/activities/{activity.id}/screen.json?kind=in", headers=staff)
    assert r.json["url"].startswith("http://jindou.test/c/checkin.")
    assert r.json["svg"].startswith("<svg") or "<svg" in r.json["svg"]
    assert (r.json["present"], r.json["completed"]) == (0, 0)
    assert (
        client.get(
            f"/volunteering/activities/{activity.id}/screen", headers=bearer(people.resident)
        ).status_code
        == 403
    )
    assert client.get("/static/volunteering/screen.js").status_code == 200


def test_scanner_page_takes_a_typed_code_or_a_photo(client, on, people):
    activity = make_activity(on.community)
    db.session.add(Signup(activity_id=activity.id, user_id=people.resident.id, status="confirmed"))
    db.session.commit()
    staff = bearer(people.staff)
    person = qr.person_code(people.resident.id)
    url = f"/volunteering/activities/{activity.id}/scanner"
    r = client.post(url, data={"kind": "in", "code": person.short_code}, headers=staff)
    assert "居民 签到成功" in r.text
    photo = io.BytesIO()
    qrcode.make(qr.scan_url(person.token)).save(photo, format="PNG")
    photo.seek(0)
    r = client.post(
        url,
        data={"kind": "out", "photo": (photo, "code.png")},
        headers=staff,
        content_type="multipart/form-data",
    )
    assert "居民 签退成功" in r.text
    r = client.post(
        url,
        data={"kind": "in", "photo": (io.BytesIO(b"nope"), "x.png")},
        headers=staff,
        content_type="multipart/form-data",
    )
    assert "无法读取照片" in r.text


def test_my_code_page_shows_a_decodable_code_and_short_code(client, on, people):
    r = client.get("/volunteering/my-code", headers=bearer(people.resident))
    assert r.status_code == 200
    short = qr.person_code(people.resident.id).short_code
    assert f"{short[:4]} {short[4:]}" in r.text


def test_record_certificate_and_verification(client, on, people):
    activity = make_activity(on.community, starts_in=-300, minutes=150, title="巡逻")
    db.session.add(Signup(activity_id=activity.id, user_id=people.resident.id, status="confirmed"))
    db.session.commit()
    services.check_in(people.resident.id, activity, now=activity.starts_at)
    services.check_out(people.resident.id, activity, now=activity.ends_at)
    me = bearer(people.resident)
    r = client.get("/volunteering/record", headers=me)
    assert "2 小时 30 分" in r.text and "巡逻" in r.text
    r = client.get("/volunteering/record/certificate", headers=me)
    assert "志愿服务证明" in r.text and "2 小时 30 分" in r.text
    token = r.text.split("/volunteering/verify/")[1].split('"')[0].split("<")[0]
    r = client.get(f"/volunteering/verify/{token}")  # public: no login
    assert r.status_code == 200 and "证明真实有效" in r.text
    r = client.get(f"/volunteering/verify/{token[:-2]}xx")
    assert r.status_code == 400 and "无法核验" in r.text


def test_exports_csv_and_xlsx_for_staff(client, on, people):
    activity = make_activity(on.building, starts_in=-300, minutes=60, title="清洁")
    services.backfill(
        people.staff,
        activity,
        user=people.resident,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="补录",
    )
    staff = bearer(people.staff)
    day = activity.starts_at.astimezone(local_zone()).date().isoformat()
    r = client.get(
        f"/volunteering/orgs/{on.community.id}/export.csv?from={day}&to={day}", headers=staff
    )
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][0] == "姓名"
    assert rows[1] == ["居民", "130****0004", "1栋", "清洁", day, "1.0", "荣誉时数", "社工"]
    r = client.get(
        f"/volunteering/orgs/{on.community.id}/export.xlsx?from={day}&to={day}", headers=staff
    )
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in sheet[2]][:4] == ["居民", "130****0004", "1栋", "清洁"]
    assert (
        client.get(
            f"/volunteering/orgs/{on.community.id}/export.csv", headers=bearer(people.resident)
        ).status_code
        == 403
    )
    r = client.get(f"/volunteering/orgs/{on.community.id}/export.csv?from=yesterday", headers=staff)
    assert r.status_code == 400


def test_attendance_page_backfills_by_form(client, on, people):
    activity = make_activity(on.community, starts_in=-300, minutes=60)
    staff = bearer(people.staff)
    local = activity.starts_at.astimezone(local_zone())
    r = client.post(
        f"/volunteering/activities/{activity.id}/attendance",
        headers=staff,
        data={
            "phone": people.resident.phone,
            "reason": "老人无手机",
            "checked_in_at": local.strftime("%Y-%m-%dT%H:%M"),
            "checked_out_at": (local + timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert r.status_code == 302
    r = client.get(f"/volunteering/activities/{activity.id}/attendance", headers=staff)
    assert "40 分" in r.text and "老人无手机" in r.text


def _decode_svg_free(png_bytes):  # pragma: no cover - helper kept for debugging
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png_bytes)))


def test_export_cells_never_become_formulas(client, on, people):
    people.resident.name = '=HYPERLINK("http://evil")'
    activity = make_activity(on.community, starts_in=-300, minutes=60, title="+清洁")
    services.backfill(
        people.staff,
        activity,
        user=people.resident,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="补录",
    )
    day = activity.starts_at.astimezone(local_zone()).date().isoformat()
    r = client.get(
        f"/volunteering/orgs/{on.community.id}/export.xlsx?from={day}&to={day}",
        headers=bearer(people.staff),
    )
    row = [c.value for c in load_workbook(io.BytesIO(r.data)).active[2]]
    assert row[0] == '\'=HYPERLINK("http://evil")' and row[3] == "'+清洁"


def test_admin_switches_honour_points_by_form(client, on, people):
    r = client.post(
        f"/volunteering/orgs/{on.community.id}/settings",
        data={"honour": "on"},
        headers=bearer(people.community_admin),
    )
    assert r.status_code == 302
    assert services.honour_hours_earn_points(on.building) is True
    r = client.get(
        f"/volunteering/?org_id={on.community.id}", headers=bearer(people.community_admin)
    )
    assert "荣誉时数也奖励金豆" in r.text and "checked" in r.text
