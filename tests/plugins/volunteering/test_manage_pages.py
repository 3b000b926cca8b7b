"""Staff pages for managing an activity, and what volunteers see of a cancellation."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from core import qr
from core.extensions import db
from core.models import utcnow
from core.testing import add_member, bearer, make_user
from core.times import local_zone, to_local
from plugins.volunteering.models import Activity, Attendance, Signup
from plugins.volunteering.pages import when_text
from tests.plugins.volunteering.conftest import make_activity


def local(moment) -> str:
    return to_local(moment).strftime("%Y-%m-%dT%H:%M")


def edit_form(activity, **changes):
    form = {
        "title": activity.title,
        "category": activity.category,
        "location": activity.location,
        "description": activity.description,
        "starts_at": local(activity.starts_at),
        "ends_at": local(activity.ends_at),
        "signup_deadline": "",
        "capacity": str(activity.capacity),
        "points": str(activity.points),
        "points_per_hour": str(activity.points_per_hour),
    }
    form.update(changes)
    return form


def test_edit_page_prefills_saves_and_keeps_what_was_typed(client, on, people):
    # running for 90 minutes: the unchanged start does not trip the one-hour rule
    activity = make_activity(on.community, starts_in=-90, minutes=240)
    staff, url = bearer(people.staff), f"/volunteering/activities/{activity.id}/edit"
    r = client.get(url, headers=staff)
    assert r.status_code == 200 and f'value="{activity.title}"' in r.text
    assert f'value="{local(activity.starts_at)}"' in r.text
    r = client.post(url, headers=staff, data=edit_form(activity, title="改过的", capacity="9"))
    assert r.status_code == 302
    db.session.rollback()
    assert (
        db.session.get(Activity, activity.id).title,
        db.session.get(Activity, activity.id).capacity,
    ) == ("改过的", 9)
    r = client.post(
        url,
        headers=staff,
        data=edit_form(activity, title="又改了", category="跳舞", points="999", ends_at="明天"),
    )
    assert r.status_code == 400
    assert 'value="又改了"' in r.text  # kept as typed
    assert "类别：请从列表中选择" in r.text and "结束时间：" in r.text
    r = client.post(url, headers=staff, data=edit_form(activity, points="999"))
    assert r.status_code == 400 and "完成奖励金豆：" in r.text and 'value="999"' in r.text
    assert "Must be one of" not in r.text and "ends_at" not in r.text.split("<form")[0]
    assert client.get(url, headers=bearer(people.resident)).status_code == 403


def test_new_activity_errors_name_fields_in_chinese_and_keep_input(client, on, people):
    start = (utcnow() + timedelta(days=1)).astimezone(local_zone())
    r = client.post(
        f"/volunteering/orgs/{on.community.id}/activities/new",
        headers=bearer(people.staff),
        data={
            "title": "我的活动",
            "category": "跳舞",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": "",
            "capacity": "abc",
        },
    )
    assert "类别：请从列表中选择" in r.text and "名额：" in r.text and "结束时间：" in r.text
    assert 'value="我的活动"' in r.text and "Must be one of" not in r.text


def test_cancel_activity_asks_first_and_volunteers_see_the_reason(client, on, people):
    activity = make_activity(on.community, starts_in=120, title="义诊")
    db.session.add(Signup(activity_id=activity.id, user_id=people.resident.id, status="confirmed"))
    db.session.commit()
    staff, me = bearer(people.staff), bearer(people.resident)
    page = client.get(f"/volunteering/activities/{activity.id}", headers=staff).text
    # the button only opens a confirmation holding the real form
    box = re.search(r'<details class="confirm" id="cancel-activity">(.*?)</details>', page, re.S)
    assert box and "确定取消活动" in box.group(1) and 'name="reason"' in box.group(1)
    url = f"/volunteering/activities/{activity.id}/cancel-activity"
    r = client.post(url, headers=staff, data={"reason": ""})
    assert r.status_code == 302 and db.session.get(Activity, activity.id).cancelled_at is None
    assert "取消原因：" in client.get(f"/volunteering/activities/{activity.id}", headers=staff).text
    client.post(url, headers=staff, data={"reason": "场地维修"})
    for page in (
        client.get("/volunteering/", headers=me).text,
        client.get(f"/volunteering/activities/{activity.id}", headers=me).text,
    ):
        assert "活动已取消" in page and "场地维修" in page
    assert "cancel-signup" not in page and "我要报名" not in page
    r = client.get(f"/volunteering/activities/{activity.id}/screen", headers=staff)
    assert "活动已取消：场地维修" in r.text and 'id="qr"' not in r.text


def test_cancel_signup_asks_first(client, on, people):
    activity = make_activity(on.community, starts_in=120)
    me = bearer(people.resident)
    client.post(f"/volunteering/activities/{activity.id}/signup", headers=me)
    page = client.get(f"/volunteering/activities/{activity.id}", headers=me).text
    box = re.search(r'<details class="confirm" id="cancel-signup">(.*?)</details>', page, re.S)
    assert box and "确定取消报名吗" in box.group(1) and "<summary" in box.group(1)


def test_copy_to_next_week_is_prefilled(client, on, people):
    activity = make_activity(on.community, starts_in=60, minutes=90, title="读报")
    staff = bearer(people.staff)
    page = client.get(f"/volunteering/activities/{activity.id}", headers=staff).text
    next_week = local(activity.starts_at + timedelta(days=7))
    assert "复制到下周" in page and f'value="{next_week}"' in page
    r = client.post(
        f"/volunteering/activities/{activity.id}/copy", headers=staff, data={"starts_at": next_week}
    )
    assert r.status_code == 302
    copy = db.session.scalar(select(Activity).where(Activity.id != activity.id))
    assert copy.title == "读报" and copy.ends_at - copy.starts_at == timedelta(minutes=90)
    assert r.headers["Location"].endswith(f"/volunteering/activities/{copy.id}")
    r = client.post(
        f"/volunteering/activities/{activity.id}/copy", headers=staff, data={"starts_at": "下周"}
    )
    assert r.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 2


def test_walk_in_page_and_roster(client, on, people):
    activity = make_activity(on.community, capacity=3)
    late = make_user("13700000001", "张阿姨")
    add_member(late, on.building, "resident")
    db.session.add(Signup(activity_id=activity.id, user_id=late.id, status="confirmed"))
    db.session.commit()
    staff = bearer(people.staff)
    page = client.get(f"/volunteering/activities/{activity.id}/scanner", headers=staff).text
    assert "报名并签到" in page
    r = client.post(
        f"/volunteering/activities/{activity.id}/walk-in",
        headers=staff,
        data={"person_code": qr.person_code(people.resident.id).short_code},
    )
    assert r.status_code == 200 and "居民 报名并签到成功" in r.text
    r = client.post(
        f"/volunteering/activities/{activity.id}/walk-in",
        headers=staff,
        data={"person_code": "12345678"},
    )
    assert r.status_code == 400 and "person_not_found" not in r.text and "未能完成" in r.text
    r = client.post(f"/volunteering/activities/{activity.id}/walk-in", headers=staff, data={})
    assert r.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1
    roster = client.get(f"/volunteering/activities/{activity.id}/attendance", headers=staff).text
    assert "张阿姨" in roster and "未到" in roster and "在场" in roster
    found = client.get(
        f"/volunteering/activities/{activity.id}/attendance?q=阿姨&page=x", headers=staff
    ).text
    table = found.split('id="roster"')[1].split("</table>")[0]
    assert "张阿姨" in table and ">居民<" not in table
    empty = client.get(
        f"/volunteering/activities/{activity.id}/attendance?q=%25", headers=staff
    ).text
    assert "没有找到" in empty


def test_screen_says_when_check_in_opens_and_when_it_has_closed(client, on, people):
    later = make_activity(on.community, starts_in=24 * 60)
    ended = make_activity(on.community, starts_in=-300, minutes=60)
    staff = bearer(people.staff)
    r = client.get(f"/volunteering/activities/{later.id}/screen", headers=staff)
    opens = later.starts_at - timedelta(minutes=30)
    assert f"签到将于 {when_text(opens)} 开放" in r.text and 'id="qr"' not in r.text
    r = client.get(f"/volunteering/activities/{ended.id}/screen", headers=staff)
    assert "签到已关闭" in r.text and 'id="qr"' not in r.text
    r = client.get(f"/volunteering/activities/{ended.id}/screen?kind=out", headers=staff)
    assert "签退时间已过" in r.text
    running = make_activity(on.community)
    assert (
        'id="qr"' in client.get(f"/volunteering/activities/{running.id}/screen", headers=staff).text
    )


def test_when_text_speaks_plainly():
    now = utcnow()
    today = to_local(now)
    assert when_text(now) == f"今天 {today.hour}:{today.minute:02d}"
    assert when_text(now + timedelta(days=1)).startswith("明天 ")
    assert when_text(now + timedelta(days=3)).startswith("周")
    assert "月" in when_text(now + timedelta(days=30))
