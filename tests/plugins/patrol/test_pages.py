"""The pages: staff lay out routes, print codes, schedule; the team sees its
shifts and reports; staff see missed checkpoints and the incident queue."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from PIL import Image

from core.extensions import db
from core.models import utcnow
from core.testing import bearer
from core.times import local_zone
from plugins.patrol import services
from plugins.patrol.models import Checkpoint, Incident, Route, Shift
from tests.plugins.patrol.helpers import make_route, make_shift


def one_h1(text: str) -> bool:
    return len(re.findall(r"<h1[ >]", text)) == 1


def test_staff_create_a_route_edit_it_and_print_it(client, on, people):
    staff = bearer(people.staff)
    url = f"/patrol/orgs/{on.community.id}/routes/new"
    page = client.get(url, headers=staff)
    assert page.status_code == 200 and one_h1(page.text) and 'for="checkpoints"' in page.text
    bad = client.post(url, data={"name": "", "checkpoints": "东门"}, headers=staff)
    assert bad.status_code == 200 and "东门" in bad.text
    made = client.post(
        url, data={"name": "夜巡", "checkpoints": "东门\n\n西门\n 车棚 "}, headers=staff
    )
    assert made.status_code == 302
    route = db.session.query(Route).one()
    assert [c.name for c in services.checkpoints_of(route.id)] == ["东门", "西门", "车棚"]
    client.post(f"/patrol/routes/{route.id}/checkpoints", data={"name": "北门"}, headers=staff)
    last = services.checkpoints_of(route.id)[-1]
    client.post(f"/patrol/checkpoints/{last.id}/move", data={"step": "up"}, headers=staff)
    db.session.expire_all()
    assert [c.name for c in services.checkpoints_of(route.id)] == ["东门", "西门", "北门", "车棚"]
    editor = client.get(f"/patrol/routes/{route.id}", headers=staff)
    assert editor.status_code == 200 and one_h1(editor.text)
    sheet = client.get(f"/patrol/routes/{route.id}/print", headers=staff)
    assert sheet.status_code == 200 and sheet.text.count('class="patrol-card"') == 4
    assert "print.css" in sheet.text and "<svg" in sheet.text
    assert (
        client.get(f"/patrol/routes/{route.id}/print", headers=bearer(people.resident)).status_code
        == 403
    )


def test_staff_schedule_and_see_the_week(client, on, people, team):
    staff = bearer(people.staff)
    route = make_route(people.staff, on.community)
    start = (utcnow() + timedelta(hours=2)).astimezone(local_zone())
    form = {
        "route_id": str(route.id),
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "points": "10",
        "grace_minutes": "15",
        "team": [str(team[0].id), str(team[1].id)],
    }
    page = client.get(f"/patrol/orgs/{on.community.id}/shifts/new", headers=staff)
    assert page.status_code == 200 and "队员甲" in page.text and "139****0101" in page.text
    answer = client.post(f"/patrol/orgs/{on.community.id}/shifts/new", data=form, headers=staff)
    assert answer.status_code == 302
    assert db.session.query(Shift).count() == 1
    refused = client.post(
        f"/patrol/orgs/{on.community.id}/shifts/new", data={**form, "team": []}, headers=staff
    )
    assert refused.status_code == 302 and db.session.query(Shift).count() == 1
    week = client.get(
        f"/patrol/orgs/{on.community.id}/roster?week={start.date().isoformat()}", headers=staff
    )
    assert week.status_code == 200 and one_h1(week.text)
    assert "夜间巡逻" in week.text and "队员甲、队员乙" in week.text
    assert (
        client.get(f"/patrol/orgs/{on.community.id}/roster?week=bad", headers=staff).status_code
        == 400
    )


def test_a_volunteer_sees_next_shifts_and_progress(client, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    me = bearer(team[0])
    mine = client.get("/patrol/me", headers=me)
    assert mine.status_code == 200 and "夜间巡逻" in mine.text and one_h1(mine.text)
    services.scan_checkpoint(team[0], services.checkpoints_of(route.id)[0].id)
    detail = client.get(f"/patrol/shifts/{shift.id}", headers=me)
    assert "1/4" in detail.text and "下一个：<strong>3号院" in detail.text
    assert "上报事件" in detail.text and "结束班次" not in detail.text
    scanner = client.get("/patrol/scan", headers=me)
    assert "scanner.js" in scanner.text and "<script>" not in scanner.text


def test_missed_checkpoints_are_flagged_on_the_community_page(client, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    services.scan_checkpoint(team[0], services.checkpoints_of(route.id)[0].id)
    staff = bearer(people.staff)
    assert "结束班次" in client.get(f"/patrol/shifts/{shift.id}", headers=staff).text
    assert client.post(f"/patrol/shifts/{shift.id}/close", headers=staff).status_code == 302
    page = client.get(f"/patrol/orgs/{on.community.id}/", headers=staff)
    assert page.status_code == 200 and one_h1(page.text)
    assert "漏巡 3 处" in page.text and "3号院、自行车棚、北门岗亭" in page.text


def test_report_an_incident_with_a_photo_and_resolve_it(client, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    me = bearer(team[0])
    form = client.get(f"/patrol/shifts/{shift.id}/incidents/new", headers=me)
    assert 'capture="environment"' in form.text and 'accept="image/*"' in form.text
    photo = io.BytesIO()
    Image.new("RGB", (3000, 2000), (10, 10, 10)).save(photo, format="JPEG")
    photo.seek(0)
    point = db.session.query(Checkpoint).first()
    sent = client.post(
        f"/patrol/shifts/{shift.id}/incidents/new",
        headers=me,
        data={
            "kind": "suspicious",
            "text": "有人试开门",
            "checkpoint_id": str(point.id),
            "photo": (photo, "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    incident = db.session.query(Incident).one()
    assert incident.has_photo and incident.checkpoint_id == point.id
    bad = client.post(
        f"/patrol/shifts/{shift.id}/incidents/new",
        headers=me,
        data={"kind": "other", "text": "x", "photo": (io.BytesIO(b"nope"), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 302 and db.session.query(Incident).count() == 1
    staff = bearer(people.staff)
    queue = client.get(f"/patrol/orgs/{on.community.id}/incidents", headers=staff)
    assert "有人试开门" in queue.text and "可疑情况" in queue.text and one_h1(queue.text)
    client.post(
        f"/patrol/incidents/{incident.id}/resolve", data={"note": "已联系民警"}, headers=staff
    )
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == "resolved"
    done = client.get(f"/patrol/orgs/{on.community.id}/incidents?status=resolved", headers=staff)
    assert "已联系民警" in done.text
    assert client.get(f"/patrol/orgs/{on.community.id}/incidents", headers=me).status_code == 403
