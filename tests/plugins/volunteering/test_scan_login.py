"""A check-in code scanned before logging in (WeChat's browser) completes after the login,
even once the code has rotated; an expired code never does; an intent is used once."""

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from core import qr
from core.extensions import db
from core.testing import PASSWORD
from plugins.volunteering.models import Attendance, Signup
from tests.plugins.volunteering.conftest import make_activity

CODES = (
    "token_expired",
    "token_forged",
    "token_malformed",
    "token_wrong_purpose",
    "not_signed_up",
    "cancelled",
)


@pytest.fixture
def clock(monkeypatch):
    """core.qr's clock, moved by hand: windows rotate without waiting."""
    state = SimpleNamespace(now=time.time())
    monkeypatch.setattr(qr, "time", SimpleNamespace(time=lambda: state.now))
    return state


def checked_in() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Attendance))


def ready(on, people):
    activity = make_activity(on.community)
    db.session.add(Signup(activity_id=activity.id, user_id=people.resident.id, status="confirmed"))
    db.session.commit()
    token, _expires = qr.rotating_token("checkin", {"a": activity.id})
    return activity, token


def scan_then_login(client, token, phone):
    r = client.get(f"/c/{token}")
    assert r.status_code == 302 and f"/login?next=/c/{token}" in r.headers["Location"]
    r = client.post(f"/login?next=/c/{token}", data={"phone": phone, "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/c/{token}")
    return r


def no_codes(text: str) -> None:
    assert not [code for code in CODES if code in text]


def test_scan_completes_after_login_even_when_the_code_rotated(client, on, people, clock):
    activity, token = ready(on, people)
    scan_then_login(client, token, people.resident.phone)
    clock.now += 5 * 60  # a slow login: the code on the screen has changed ten times
    with pytest.raises(qr.TokenError):
        qr.verify(token)
    r = client.get(f"/c/{token}")
    assert r.status_code == 200 and "签到成功" in r.text and activity.title in r.text
    assert checked_in() == 1
    # used once: the same old code again is simply expired
    r = client.get(f"/c/{token}")
    assert r.status_code == 400 and "二维码已过期" in r.text
    no_codes(r.text)


def test_a_code_expired_when_opened_never_completes(client, on, people, clock):
    _activity, _current = ready(on, people)
    clock.now -= 120  # a screenshot from two minutes ago
    stale, _expires = qr.rotating_token("checkin", {"a": _activity.id})
    clock.now += 120
    scan_then_login(client, stale, people.resident.phone)
    r = client.get(f"/c/{stale}")
    assert r.status_code == 400 and "二维码已过期" in r.text
    no_codes(r.text)
    assert checked_in() == 0


def test_an_intent_lasts_ten_minutes(client, on, people, clock):
    _activity, token = ready(on, people)
    scan_then_login(client, token, people.resident.phone)
    clock.now += qr.SCAN_INTENT_TTL + 1
    r = client.get(f"/c/{token}")
    assert r.status_code == 400 and "二维码已过期" in r.text
    assert checked_in() == 0


def test_an_intent_is_for_that_code_and_that_browser(app, client, on, people, clock):
    activity, token = ready(on, people)
    scan_then_login(client, token, people.resident.phone)
    other_browser = app.test_client()
    other_browser.post("/login", data={"phone": people.resident.phone, "password": PASSWORD})
    clock.now += 120
    r = other_browser.get(f"/c/{token}")
    assert r.status_code == 400 and checked_in() == 0
    # another code opened in the first browser uses the intent up
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/c/{forged}").status_code == 400
    assert client.get(f"/c/{token}").status_code == 400
    assert checked_in() == 0 and activity.id


def test_refusal_pages_name_the_reason_in_chinese(client, on, people):
    activity = make_activity(on.community)
    token, _expires = qr.rotating_token("checkin", {"a": activity.id})
    client.post("/login", data={"phone": people.resident.phone, "password": PASSWORD})
    r = client.get(f"/c/{token}")  # not signed up
    assert r.status_code == 409 and "未报名" in r.text
    no_codes(r.text)
    for bad in ("hello", "checkin.bm9wZQ", qr.person_code(people.resident.id).token):
        r = client.get(f"/c/{bad}")
        assert r.status_code == 400 and "二维码" in r.text
        no_codes(r.text)
