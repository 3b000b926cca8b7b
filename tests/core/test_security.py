"""Findings of the adversarial probe, each pinned by a test: hostile input,
sessions that end, enumeration, headers, weak passwords, 405, proxies, outages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import ApiToken, User
from core.testing import PASSWORD, bearer

REGISTER = "/api/v1/auth/register"
TOKENS = "/api/v1/auth/tokens"


def _new_user(phone="13912345678", name="张三"):
    return {"phone": phone, "name": name, "password": "long-enough"}


# -- F2/F4: hostile bodies are 400s, never 500s --------------------------------------


def test_deeply_nested_json_is_400(client, people):
    deep = "[" * 50_000 + "]" * 50_000
    for path, headers in [(REGISTER, {}), ("/api/v1/orgs", bearer(people.root))]:
        r = client.post(path, data=deep, content_type="application/json", headers=headers)
        assert r.status_code == 400 and r.json["error"]["code"] == "invalid_json"
    nested = {
        "phone": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    }
    assert client.post(REGISTER, json=nested).status_code == 400


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\udfff"])
def test_nul_and_lone_surrogates_in_json_are_400_naming_the_field(client, bad):
    r = client.post(REGISTER, json={**_new_user(), "name": bad})
    assert r.status_code == 400 and "name" in r.json["error"]["fields"]
    r = client.post(TOKENS, json={"phone": "13912345678", "password": bad})
    assert r.status_code == 400 and "password" in r.json["error"]["fields"]
    r = client.post(REGISTER, json={**_new_user(), "extra": {"deep": [bad]}})
    assert r.status_code == 400 and "extra.deep.0" in r.json["error"]["fields"]
    assert db.session.scalar(select(User.id)) is None


def test_nul_in_forms_and_query_strings_is_400(client, people):
    r = client.post("/login", data={"phone": "1390000\x000000", "password": PASSWORD})
    assert r.status_code == 400
    r = client.post("/register", data={"phone": "13912345678", "name": "a\x00", "password": "x"})
    assert r.status_code == 400
    r = client.get("/api/v1/orgs/1/members?q=%00", headers=bearer(people.root))
    assert r.status_code == 400 and "q" in r.json["error"]["fields"]


def test_body_over_the_limit_is_413_in_the_error_contract(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    with app.app_context():
        r = app.test_client().post(REGISTER, json={**_new_user(), "name": "x" * 2000})
        assert r.status_code == 413 and r.json["error"]["code"] == "too_large"


def test_default_body_limit_takes_a_photo(app):
    from core.config import load_settings

    assert app.config["MAX_CONTENT_LENGTH"] >= 4 * 1024 * 1024
    settings = load_settings(app.instance_path, {"JINDOU_MAX_BODY_BYTES": "1234"})
    assert settings["MAX_CONTENT_LENGTH"] == 1234


def test_strings_longer_than_their_column_are_400(client):
    r = client.post(REGISTER, json={**_new_user(), "name": "长" * 51})
    assert r.status_code == 400 and "name" in r.json["error"]["fields"]
    assert client.post(REGISTER, json={**_new_user(), "name": "长" * 50}).status_code == 201


def test_text_field_states_the_column_length():
    from marshmallow import Schema, ValidationError

    from core.api import text_field
    from core.models import Organization

    class S(Schema):
        name = text_field(Organization.name, min_length=1)
        key = text_field(5)

    assert S().load({"name": "x" * 100, "key": "12345"})
    with pytest.raises(ValidationError) as err:
        S().load({"name": "x" * 101, "key": "123456"})
    assert set(err.value.messages) == {"name", "key"}
    with pytest.raises(ValidationError):
        S().load({"name": ""})
    with pytest.raises(TypeError):
        text_field(Organization.id)


def test_year_bounds_are_checked_in_utc():
    from marshmallow import Schema, ValidationError

    from core.api import Moment

    class S(Schema):
        at = Moment()

    with pytest.raises(ValidationError):
        S().load({"at": "2100-12-31T20:00:00-14:00"})  # 2101 in UTC
    with pytest.raises(ValidationError):
        S().load({"at": "2000-01-01T01:00:00+14:00"})  # 1999 in UTC
    for extreme in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-08:00"):
        with pytest.raises(ValidationError):
            S().load({"at": extreme})
    assert S().load({"at": "2100-12-31T09:00:00+08:00"})["at"].year == 2100


# -- F3: logging out ends every session and remember-me cookie ------------------------------


def _login(client, user):
    r = client.post("/login", data={"phone": user.phone, "password": PASSWORD})
    assert r.status_code == 302
    return (
        client.get_cookie("session", domain="jindou.test"),
        client.get_cookie("remember_token", domain="jindou.test"),
    )


def _copy(app, cookie):
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return thief


def test_logout_ends_copied_session_and_remember_cookies(app, people):
    browser = app.test_client()
    session_cookie, remember = _login(browser, people.resident)
    by_session, by_remember = _copy(app, session_cookie), _copy(app, remember)
    assert by_session.get("/api/v1/me").status_code == 200
    assert by_remember.get("/api/v1/me").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert by_session.get("/api/v1/me").status_code == 401
    assert by_remember.get("/api/v1/me").status_code == 401
    assert by_remember.get("/").status_code == 302  # a page sends it to log in
    # logging in again issues a different remember-me cookie
    assert _login(app.test_client(), people.resident)[1].value != remember.value


def test_old_format_cookie_holds_only_until_the_first_logout(app, people):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(people.resident.id)  # issued before session versions
    assert client.get("/api/v1/me").status_code == 200
    people.resident.end_sessions()
    db.session.commit()
    assert client.get("/api/v1/me").status_code == 401


# -- changing and resetting the password ----------------------------------------------------


def test_change_password_ends_other_sessions_and_tokens(app, people):
    browser, phone_app = app.test_client(), bearer(people.resident)
    other_device = _copy(app, _login(app.test_client(), people.resident)[1])
    _login(browser, people.resident)
    body = {"old_password": PASSWORD, "password": "a-new-secret"}
    r = browser.put("/api/v1/me/password", json={**body, "old_password": "wrong-one!"})
    assert r.status_code == 401
    r = browser.put("/api/v1/me/password", json={**body, "password": "password"})
    assert r.status_code == 400 and "password" in r.json["error"]["fields"]
    assert browser.put("/api/v1/me/password", json=body).status_code == 204
    assert browser.get("/api/v1/me").status_code == 200  # this browser stays in
    assert other_device.get("/api/v1/me").status_code == 401
    assert app.test_client().get("/api/v1/me", headers=phone_app).status_code == 401
    r = app.test_client().post(
        TOKENS, json={"phone": people.resident.phone, "password": "a-new-secret"}
    )
    assert r.status_code == 201


def test_change_password_with_a_token_keeps_that_token(client, people):
    mine, other = bearer(people.resident), bearer(people.resident)
    r = client.put(
        "/api/v1/me/password",
        headers=mine,
        json={"old_password": PASSWORD, "password": "a-new-secret"},
    )
    assert r.status_code == 204
    assert client.get("/api/v1/me", headers=mine).status_code == 200
    assert client.get("/api/v1/me", headers=other).status_code == 401


def test_change_password_page(app, people):
    browser = app.test_client()
    _login(browser, people.resident)
    assert "修改密码" in browser.get("/password").get_data(as_text=True)
    r = browser.post("/password", data={"old_password": "nope-nope", "password": "a-new-secret"})
    assert r.status_code == 400 and "原密码错误" in r.get_data(as_text=True)
    r = browser.post("/password", data={"old_password": PASSWORD, "password": "a-new-secret"})
    assert r.status_code == 302 and browser.get("/api/v1/me").status_code == 200


def _issue(client, staff, person):
    return client.post(f"/api/v1/users/{person.id}/password-reset", headers=bearer(staff))


def test_desk_reset_code_sets_a_new_password_once(client, people):
    token = bearer(people.resident)
    r = _issue(client, people.staff, people.resident)
    assert r.status_code == 201 and len(r.json["code"]) == 6 and r.json["code"].isdigit()
    code = r.json["code"]
    assert code not in str(db.session.execute(select(User)).all())
    body = {"phone": people.resident.phone, "code": code, "password": "a-new-secret"}
    r = client.post("/api/v1/auth/password-reset", json={**body, "password": "11111111"})
    assert r.status_code == 400 and "password" in r.json["error"]["fields"]
    assert client.post("/api/v1/auth/password-reset", json=body).status_code == 204
    assert client.get("/api/v1/me", headers=token).status_code == 401  # tokens end too
    r = client.post("/api/v1/auth/password-reset", json=body)
    assert r.status_code == 400 and r.json["error"]["code"] == "reset_code_invalid"
    assert (
        client.post(
            TOKENS, json={"phone": people.resident.phone, "password": "a-new-secret"}
        ).status_code
        == 201
    )


def test_wrong_expired_and_guessed_codes_are_refused(client, people):
    from datetime import timedelta

    from core.models import PasswordReset, utcnow

    code = _issue(client, people.staff, people.resident).json["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    body = {"phone": people.resident.phone, "code": wrong, "password": "a-new-secret"}
    for _ in range(5):  # five wrong guesses spend the code
        r = client.post("/api/v1/auth/password-reset", json=body)
        assert r.status_code == 400 and r.json["error"]["code"] == "reset_code_invalid"
    r = client.post("/api/v1/auth/password-reset", json={**body, "code": code})
    assert r.json["error"]["code"] == "reset_code_invalid"
    code = _issue(client, people.staff, people.resident).json["code"]
    db.session.scalars(select(PasswordReset)).all()[-1].expires_at = utcnow() - timedelta(1)
    db.session.commit()
    r = client.post("/api/v1/auth/password-reset", json={**body, "code": code})
    assert r.json["error"]["code"] == "reset_code_invalid"
    r = client.post("/api/v1/auth/password-reset", json={**body, "phone": "13999999999"})
    assert r.json["error"]["code"] == "reset_code_invalid"


def test_who_may_issue_a_reset_code(client, people):
    assert _issue(client, people.other_staff, people.resident).status_code == 404
    assert _issue(client, people.resident, people.staff).status_code == 404
    assert _issue(client, people.staff, people.community_admin).status_code == 403
    assert _issue(client, people.community_admin, people.root).status_code == 404
    assert _issue(client, people.staff, people.staff).status_code == 403
    assert _issue(client, people.district_admin, people.community_admin).status_code == 201
    assert (
        client.post(
            "/api/v1/users/2147483647/password-reset", headers=bearer(people.root)
        ).status_code
        == 404
    )


def test_reset_page_and_login_link(client, people):
    assert "忘记密码？请到社区服务台领取重置码" in client.get("/login").get_data(as_text=True)
    code = _issue(client, people.staff, people.resident).json["code"]
    r = client.post(
        "/password-reset",
        data={"phone": people.resident.phone, "code": "000000", "password": "a-new-secret"},
    )
    assert r.status_code == 400 and "重置码无效" in r.get_data(as_text=True)
    r = client.post(
        "/password-reset",
        data={"phone": people.resident.phone, "code": code, "password": "a-new-secret"},
    )
    assert r.status_code == 302


# -- F5: unknown phones cost a hash too ------------------------------------------------------


def test_login_for_an_unknown_phone_checks_a_hash(client, people, monkeypatch):
    import core.passwords

    calls = []
    real = core.passwords.check_password_hash
    monkeypatch.setattr(
        core.passwords, "check_password_hash", lambda *a: calls.append(a) or real(*a)
    )
    assert (
        client.post(TOKENS, json={"phone": "13999999999", "password": "whatever1"}).status_code
        == 401
    )
    assert client.post("/login", data={"phone": "13999999999", "password": "x"}).status_code == 400
    assert len(calls) == 2


# -- F6: headers and cookies -----------------------------------------------------------------


def test_security_headers_on_pages_api_and_errors(client):
    for r in (client.get("/login"), client.get("/api/v1/me"), client.get("/nowhere")):
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert "style-src 'self';" in r.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"


REPO = Path(__file__).resolve().parents[2]
TEMPLATES = [
    *(REPO / "core" / "templates").rglob("*.html"),
    *(REPO / "plugins").glob("*/templates/**/*.html"),
    *(REPO / "core" / "scaffold" / "files" / "templates").rglob("*.html.tmpl"),
]
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(
    r"\son(click|change|input|submit|load|key\w+|focus|blur)\s*=|<script(?![^>]*\bsrc=)",
    re.IGNORECASE,
)


def template_lines_matching(pattern: re.Pattern) -> list[str]:
    assert len(TEMPLATES) > 50
    return [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in TEMPLATES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_no_template_has_inline_styles():
    """The CSP's style-src has no 'unsafe-inline': the browser would ignore a style=
    attribute or a <style> block in any template (core, every plugin, the scaffold)."""
    found = template_lines_matching(INLINE_STYLE)
    assert found == [], "use a class from a static stylesheet:\n" + "\n".join(found)


def test_no_template_has_inline_scripts():
    """Nor does script-src (default-src 'self') allow inline code: an on*= handler or
    a <script> without src never runs (the Print buttons did nothing before print.js)."""
    found = template_lines_matching(INLINE_SCRIPT)
    assert found == [], "use a script file under static/:\n" + "\n".join(found)


def test_qr_svg_has_no_style_attribute():
    from core import qr

    image = qr.svg("https://jindou.test/j/12345678")
    assert image.startswith("<svg") and "fill=" in image
    assert not INLINE_STYLE.search(image)


def test_cookies_are_secure_by_default(make_app, people, tmp_path):
    from core.config import load_settings

    assert load_settings(str(tmp_path), {})["JINDOU_SECURE_COOKIES"] is True
    assert (
        load_settings(str(tmp_path), {"JINDOU_SECURE_COOKIES": "0"})["JINDOU_SECURE_COOKIES"]
        is False
    )
    app = make_app(JINDOU_SECURE_COOKIES=True, PREFERRED_URL_SCHEME="https")
    with app.app_context():
        r = app.test_client().post(
            "/login",
            base_url="https://jindou.test",
            data={"phone": people.resident.phone, "password": PASSWORD},
        )
        cookies = r.headers.getlist("Set-Cookie")
        assert cookies and all("Secure" in c for c in cookies)


# -- F9: weak passwords ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["12345678", "password", "PASSWORD", " " * 8, "11111111", "13912345678", "short1!"]
)
def test_weak_passwords_are_refused(client, password):
    r = client.post(REGISTER, json={**_new_user(), "password": password})
    assert r.status_code == 400 and "password" in r.json["error"]["fields"]


def test_password_rule_is_shared_by_create_admin(app):
    from core import cli

    result = app.test_cli_runner().invoke(
        cli.create_admin, ["--phone", "13912345678", "--name", "管理员", "--password", "qwertyuiop"]
    )
    assert result.exit_code != 0 and "常见" in result.output


def test_common_list_ships_with_the_package():
    from core.passwords import COMMON_FILE, common_passwords, password_problem

    assert COMMON_FILE.read_text().startswith("#") and len(common_passwords()) > 3000
    assert password_problem("correct-horse") is None
    assert password_problem("iloveyou") and password_problem("12345678")


# -- F12, F13, F14 ----------------------------------------------------------------------


def test_405_carries_allow(client):
    r = client.delete(TOKENS)
    assert r.status_code == 405 and r.json["error"]["code"] == "method_not_allowed"
    assert "POST" in r.headers["Allow"]


def test_per_account_limit_spans_addresses(make_app, people):
    app = make_app(RATELIMIT_ENABLED=True, JINDOU_ACCOUNT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        codes = [
            client.post(
                TOKENS,
                json={"phone": people.resident.phone, "password": "wrong-1"},
                environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
            ).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        r = client.post(
            TOKENS,
            json={"phone": people.staff.phone, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        )
        assert r.status_code == 201  # another account is not affected


def test_trusted_proxy_gives_each_client_its_own_bucket(make_app, people):
    app = make_app(
        RATELIMIT_ENABLED=True, JINDOU_LOGIN_RATE_LIMIT="2 per minute", JINDOU_TRUSTED_PROXIES=1
    )
    client = app.test_client()
    with app.app_context():

        def attempt(client_ip):
            return client.post(
                TOKENS,
                json={"phone": people.outsider.phone, "password": PASSWORD},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
                headers={"X-Forwarded-For": client_ip},
            ).status_code

        assert [attempt("1.1.1.1") for _ in range(3)] == [201, 201, 429]
        assert attempt("2.2.2.2") == 201  # behind the same nginx, another person


@pytest.fixture
def broken_app(schema):
    from core import create_app
    from core.testing import base_config

    app = create_app(
        {
            **base_config(schema),
            "SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/x",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    return app


def test_health_and_an_unreachable_database(broken_app, app):
    client = broken_app.test_client()
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 503
    r = client.post(TOKENS, json={"phone": "13912345678", "password": "whatever1"})
    assert r.status_code == 503 and r.json["error"]["code"] == "database_unavailable"
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer x"})
    assert r.status_code == 503
    assert app.test_client().get("/readyz").status_code == 200


def test_all_tokens_of_a_reset_person_are_revoked(client, people):
    bearer(people.resident), bearer(people.resident)
    code = _issue(client, people.staff, people.resident).json["code"]
    client.post(
        "/api/v1/auth/password-reset",
        json={"phone": people.resident.phone, "code": code, "password": "a-new-secret"},
    )
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == people.resident.id))
    assert all(t.revoked_at is not None for t in tokens)


def test_a_value_the_database_refuses_is_400_not_500(make_app, tree, people):
    from flask import Blueprint

    from core import hookimpl
    from core.models import Organization
    from core.plugins import PluginMeta

    class Sloppy:  # a plugin whose schema forgot the column's length
        @hookimpl
        def describe(self):
            return PluginMeta(name="sloppy", title="马虎", title_en="Sloppy")

        @hookimpl
        def blueprints(self):
            bp = Blueprint("sloppy", __name__)

            @bp.post("/api/v1/sloppy")
            def store():
                db.session.add(Organization(name="长" * 300, level="district", path="/"))
                db.session.commit()
                return {}, 201

            return [bp]

    app = make_app(plugins=[Sloppy()])
    with app.app_context():
        r = app.test_client().post("/api/v1/sloppy", headers=bearer(people.root))
        if db.engine.dialect.name == "postgresql":
            assert r.status_code == 400 and r.json["error"]["code"] == "invalid_value"
        else:  # SQLite keeps any length
            assert r.status_code == 201
