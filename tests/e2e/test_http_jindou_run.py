"""The Accounts and Organizations API over real HTTP against ``jindou run``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.testing import make_user

JINDOU = Path(sys.executable).with_name("jindou")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(proc: subprocess.Popen, port: int) -> str:
    """The server's base URL once its login page answers 200 (or fail with its output)."""
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            with urllib.request.urlopen(base + "/login", timeout=1) as response:
                assert response.status == 200
            return base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(proc.stdout.read().decode())


def call(base, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def server(app, schema):
    port = free_port()
    env = {
        **os.environ,
        "JINDOU_DATABASE_URL": schema,
        "JINDOU_SECRET_KEY": "http-test",
        "JINDOU_LOGIN_RATE_LIMIT": "1000 per minute",
    }
    proc = subprocess.Popen(
        [str(JINDOU), "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = wait_until_serving(proc, port)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.plugin("points")  # switches points on over HTTP
def test_accounts_and_organizations_over_http(app, server):
    from core.extensions import db

    make_user("13100000000", "平台管理员", admin=True)
    db.session.commit()
    status, root = call(
        server, "POST", "/api/v1/auth/tokens", {"phone": "13100000000", "password": "correct-horse"}
    )
    assert status == 201
    root_token = root["token"]

    status, user = call(
        server,
        "POST",
        "/api/v1/auth/register",
        {"phone": "13912345678", "name": "张三", "password": "zhang-san-2026"},
    )
    assert (status, set(user)) == (201, {"id", "phone", "name"})
    assert (
        call(
            server,
            "POST",
            "/api/v1/auth/register",
            {"phone": "13912345678", "name": "张三", "password": "zhang-san-2026"},
        )[0]
        == 409
    )
    assert (
        call(
            server,
            "POST",
            "/api/v1/auth/tokens",
            {"phone": "13912345678", "password": "wrong-pass"},
        )[0]
        == 401
    )
    status, login = call(
        server,
        "POST",
        "/api/v1/auth/tokens",
        {"phone": "13912345678", "password": "zhang-san-2026"},
    )
    token = login["token"]

    status, district = call(
        server,
        "POST",
        "/api/v1/orgs",
        {"name": "盘龙区", "level": "district", "parent_id": None},
        root_token,
    )
    assert status == 201
    status, sub = call(
        server,
        "POST",
        "/api/v1/orgs",
        {"name": "联盟街道", "level": "subdistrict", "parent_id": district["id"]},
        root_token,
    )
    assert status == 201
    status, err = call(
        server,
        "POST",
        "/api/v1/orgs",
        {"name": "x", "level": "building", "parent_id": sub["id"]},
        root_token,
    )
    assert status == 400 and "parent_id" in err["error"]["fields"]
    status, member = call(
        server,
        "POST",
        f"/api/v1/orgs/{sub['id']}/members",
        {"phone": "13912345678", "role": "resident"},
        root_token,
    )
    assert member == {"user_id": user["id"], "org_id": sub["id"], "role": "resident"}
    status, me = call(server, "GET", "/api/v1/me", token=token)
    assert me["memberships"] == [{"org_id": sub["id"], "org_name": "联盟街道", "role": "resident"}]
    assert (
        call(server, "GET", f"/api/v1/orgs/{district['id']}/children", token=token)[1]["items"][0][
            "id"
        ]
        == sub["id"]
    )
    assert (
        call(server, "PUT", f"/api/v1/orgs/{sub['id']}/plugins/points", {"enabled": True}, token)[0]
        == 403
    )
    status, state = call(
        server,
        "PUT",
        f"/api/v1/orgs/{district['id']}/plugins/points",
        {"enabled": True},
        root_token,
    )
    assert state == {"name": "points", "enabled": True, "source_org_id": district["id"]}
    items = call(server, "GET", f"/api/v1/orgs/{sub['id']}/plugins", token=token)[1]["items"]
    assert {
        "name": "points",
        "title": "金豆",
        "enabled": True,
        "source_org_id": district["id"],
    } in items
    assert (
        call(server, "DELETE", f"/api/v1/orgs/{district['id']}/plugins/points", token=root_token)[0]
        == 204
    )
    assert call(server, "GET", "/api/v1/openapi.json")[0] == 200


def test_demo_command_seeds_and_serves(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "JINDOU_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "JINDOU_SECRET_KEY": "demo-test",
    }
    proc = subprocess.Popen(
        [str(JINDOU), "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = wait_until_serving(proc, port)
        status, login = call(
            base, "POST", "/api/v1/auth/tokens", {"phone": "13900000001", "password": "jindou2026"}
        )
        assert status == 201
        status, me = call(base, "GET", "/api/v1/me", token=login["token"])
        assert me["memberships"][0]["org_name"] == "金星小区1栋"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode()
    assert "13800000001" in output and "jindou2026" in output
