"""Hostile input the core must turn into clean 4xx answers (found in review)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog, OrgPlugin
from core.testing import PASSWORD, bearer

BIG = 10**20


def cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orgs/{big}",
        "/api/v1/orgs/{big}/children",
        "/api/v1/orgs/{big}/plugins",
        "/orgs/{big}",
        "/api/v1/orgs/2147483648",
    ],
)
def test_huge_ids_in_urls_are_404(client, people, path):
    r = client.get(path.format(big=BIG), headers=bearer(people.root))
    assert r.status_code == 404


def test_huge_parent_id_and_query_ids(client, tree, people):
    r = client.post(
        "/api/v1/orgs",
        json={"name": "x", "level": "subdistrict", "parent_id": BIG},
        headers=bearer(people.root),
    )
    assert r.status_code == 400 and "parent_id" in r.json["error"]["fields"]
    with client.session_transaction() as session:
        session["_user_id"] = str(people.resident.id)
    assert client.get(f"/?org={BIG}").status_code == 200  # ignored, home as usual
    assert client.get("/?org=²").status_code == 200


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2026-13", "2026", "abc"])
def test_report_month_out_of_range_is_400(client, tree, people, month):
    r = client.get(
        f"/api/v1/orgs/{tree.community.id}/report?month={month}", headers=bearer(people.staff)
    )
    assert r.status_code == 400 and "month" in r.json["error"]["fields"]


def test_cursor_values_are_checked_against_their_columns(app):
    from core.api import decode_cursor_value

    assert decode_cursor_value(5, int) == 5
    for bad, kind in [
        (10**30, int),
        (-1, int),
        ("5", int),
        (True, int),
        ("2020-01-01T00:00:00", __import__("datetime").datetime),
        ("9999-01-01T00:00:00+00:00", __import__("datetime").datetime),
    ]:
        with pytest.raises(ValueError):
            decode_cursor_value(bad, kind)


def test_forged_cursor_is_400(make_app, tree, people):
    from flask import Blueprint

    from core import hookimpl
    from core.api import paginate
    from core.models import Organization
    from core.plugins import PluginMeta

    class Lister:
        @hookimpl
        def describe(self):
            return PluginMeta(name="lister", title="列表", title_en="Lister")

        @hookimpl
        def blueprints(self):
            bp = Blueprint("lister", __name__)

            @bp.get("/api/v1/lister")
            def orgs():
                return paginate(
                    select(Organization),
                    [Organization.created_at, Organization.id],
                    lambda o: {"id": o.id},
                    default_limit=2,
                )

            return [bp]

    app = make_app(plugins=[Lister()])
    client = app.test_client()
    with app.app_context():
        first = client.get("/api/v1/lister").json
        assert len(first["items"]) == 2 and first["next"]
        second = client.get(f"/api/v1/lister?cursor={first['next']}").json
        assert second["items"][0]["id"] == first["items"][-1]["id"] + 1
        for values in (
            [["2020-01-01T00:00:00+00:00", 10**30]],
            [[1, 2]],
            [[{"a": 1}, 1]],
            [["2020-01-01T00:00:00", 1]],
            [[1]],
        ):
            r = client.get(f"/api/v1/lister?cursor={cursor(values[0])}")
            assert r.status_code == 400, values
        assert client.get("/api/v1/lister?cursor=%%%").status_code == 400
        assert client.get("/api/v1/lister?limit=x").status_code == 400


def test_long_request_id_is_capped(client, tree, people):
    r = client.put(
        f"/api/v1/orgs/{tree.district.id}/plugins/sample",
        json={"enabled": True},
        headers={**bearer(people.district_admin), "X-Request-ID": "r" * 300},
    )
    assert r.status_code == 200
    assert db.session.scalar(select(func.max(func.length(AuditLog.request_id)))) <= 64


# -- CSRF: no way around it with a browser's cookies ------------------------------------


@pytest.fixture
def csrf_app(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app


def _browser_login(client, user):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302


def test_remember_me_cookie_alone_does_not_skip_csrf(csrf_app, tree, people):
    browser = csrf_app.test_client()
    _browser_login(browser, people.district_admin)
    remember = browser.get_cookie("remember_token", domain="jindou.test")
    assert remember is not None and remember.same_site == "Lax" and remember.http_only
    # the browser restarts: the session cookie is gone, the remember-me cookie stays
    attacker_page = csrf_app.test_client()
    attacker_page.set_cookie("remember_token", remember.value, domain=remember.domain)
    r = attacker_page.put(
        f"/api/v1/orgs/{tree.district.id}/plugins/sample",
        data='{"enabled": true}',
        content_type="text/plain",
    )
    assert r.status_code == 400 and r.json["error"]["code"] == "csrf"
    assert db.session.get(OrgPlugin, (tree.district.id, "sample")) is None


def test_junk_bearer_with_a_session_cookie_is_nobody(csrf_app, tree, people):
    browser = csrf_app.test_client()
    _browser_login(browser, people.district_admin)
    r = browser.put(
        f"/api/v1/orgs/{tree.district.id}/plugins/sample",
        json={"enabled": True},
        headers={"Authorization": "Bearer junk"},
    )
    assert r.status_code == 401
    assert db.session.get(OrgPlugin, (tree.district.id, "sample")) is None
    # a real token acts as its own user, whatever cookie rides along
    r = browser.get("/api/v1/me", headers=bearer(people.resident))
    assert r.json["id"] == people.resident.id


def test_anonymous_api_clients_need_no_csrf_token(csrf_app):
    client = csrf_app.test_client()
    r = client.post(
        "/api/v1/auth/register",
        json={"phone": "13912345678", "name": "张三", "password": "long-enough"},
    )
    assert r.status_code == 201
    r = client.post("/api/v1/orgs", json={"name": "x", "level": "district"})
    assert r.status_code == 401
