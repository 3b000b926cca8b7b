"""core.qr: signed, purpose-bound, rotating tokens; images; /c/<token>; the scan_token hook."""

import io
import time

import pytest
import zxingcpp
from PIL import Image

from core import hookimpl, qr
from core.api import Forbidden
from core.extensions import db
from core.plugins import PluginMeta
from core.testing import bearer, make_user


def reason(call) -> str:
    with pytest.raises(qr.TokenError) as err:
        call()
    return err.value.code


def test_sign_and_verify_round_trip(app):
    token = qr.sign("patrol", {"p": 7})
    assert token.startswith("patrol.")
    assert qr.verify(token) == ("patrol", {"p": 7})
    assert qr.verify(token, "patrol") == ("patrol", {"p": 7})


def test_forged_relabelled_and_malformed_tokens_are_refused(app):
    token = qr.sign("patrol", {"p": 7})
    body = token.split(".", 1)[1]
    assert reason(lambda: qr.verify(token[:-3] + "abc")) == "token_forged"
    assert reason(lambda: qr.verify("checkin." + body)) == "token_wrong_purpose"
    assert reason(lambda: qr.verify(token, "checkin")) == "token_wrong_purpose"
    assert reason(lambda: qr.verify("nonsense")) == "token_malformed"
    assert reason(lambda: qr.verify("unknown." + body)) == "token_malformed"
    app.config["SECRET_KEY"] = "another-key"
    assert reason(lambda: qr.verify(token)) == "token_forged"


def test_rotating_tokens_live_for_the_current_and_previous_window(app):
    now = 1_800_000_000.0  # a window boundary (divisible by 30)
    token, expires_at = qr.rotating_token("checkin", {"a": 1}, now=now)
    assert expires_at.timestamp() == now + 60
    assert qr.rotating_token("checkin", {"a": 1}, now=now + 29)[0] == token  # steady in a window
    assert qr.verify(token, now=now + 59)[1] == {"a": 1, "w": int(now // 30)}
    assert reason(lambda: qr.verify(token, now=now + 60)) == "token_expired"
    assert reason(lambda: qr.verify(token, now=now - 31)) == "token_expired"  # from the future


def test_person_code_and_its_short_code(app):
    now = time.time()
    code = qr.person_code(42, now=now)
    assert len(code.short_code) == 8 and code.short_code.isdigit()
    assert qr.verify(code.token, "person", now=now)[1]["u"] == 42
    assert qr.match_short_code(code.short_code, [1, 42, 99], now=now) == 42
    assert qr.match_short_code(code.short_code[:4] + " " + code.short_code[4:], [42], now=now) == 42
    assert qr.match_short_code(code.short_code, [1, 99], now=now) is None
    assert qr.match_short_code(code.short_code, [42], now=now + 400) is None  # expired
    assert qr.match_short_code("123", [42], now=now) is None


def test_images_decode_back_to_the_url(app):
    url = "http://jindou.test/c/" + qr.sign("patrol", {"p": 1})
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.png(url))))
    assert [d.text for d in decoded] == [url]
    svg = qr.svg(url)
    assert svg.startswith("<svg") or svg.startswith("<?xml")


class PatrolStub:
    """A plugin owning the ``patrol`` purpose, as the patrol plugin will."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def describe(self):
        return PluginMeta(name="patrol", title="治安巡逻", title_en="Patrol")

    @hookimpl
    def scan_token(self, user, purpose, payload):
        if purpose != "patrol":
            return None
        if payload.get("p") == 0:
            raise Forbidden("不在巡逻班次内", code="not_on_shift")
        self.seen.append((user.id, payload))
        return qr.ScanOutcome("打卡成功", f"巡逻点 {payload['p']}", {"kind": "patrol"})


def test_hook_scan_token(make_app):
    stub = PatrolStub()
    app = make_app(plugins=[stub])
    with app.app_context():
        user = make_user("13912340000", "巡逻员")
        headers = bearer(user)
        client = app.test_client()
        token = qr.sign("patrol", {"p": 3})
        r = client.post("/api/v1/scan", json={"token": token}, headers=headers)
        assert r.status_code == 200 and r.json == {"kind": "patrol"}
        assert stub.seen == [(user.id, {"p": 3})]
        r = client.get(f"/c/{token}", headers=headers)
        assert r.status_code == 200 and "打卡成功" in r.text and "巡逻点 3" in r.text
        r = client.get("/c/" + qr.sign("patrol", {"p": 0}), headers=headers)
        assert r.status_code == 403 and "不在巡逻班次内" in r.text
        assert "not_on_shift" not in r.text  # reason codes stay off pages
        # a genuine token nobody here owns
        r = client.post(
            "/api/v1/scan", json={"token": qr.sign("certificate", {"u": 1})}, headers=headers
        )
        assert (r.status_code, r.json["error"]["code"]) == (400, "token_wrong_purpose")
        db.session.remove()


def test_scan_page_needs_login_and_returns_to_the_scan(client, app):
    token = qr.sign("patrol", {"p": 1})
    r = client.get(f"/c/{token}")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/login?next=/c/{token}")
    r = client.post("/api/v1/scan", json={"token": token})
    assert r.status_code == 401
