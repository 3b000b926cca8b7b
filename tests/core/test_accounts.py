"""Accounts: register, tokens (hashed, expiring, revocable), me, rate limits."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.api import hash_token
from core.extensions import db
from core.models import ApiToken, User, utcnow
from core.testing import PASSWORD, bearer

REGISTER = "/api/v1/auth/register"
TOKENS = "/api/v1/auth/tokens"


def test_register_answers_the_contract_and_hides_the_password(client, caplog):
    caplog.set_level(logging.DEBUG)
    r = client.post(
        REGISTER, json={"phone": "13912345678", "name": "张三", "password": "secret-pass"}
    )
    assert r.status_code == 201
    assert set(r.json) == {"id", "phone", "name"}
    user = db.session.get(User, r.json["id"])
    assert user.password_hash != "secret-pass" and user.check_password("secret-pass")
    assert "secret-pass" not in caplog.text


def test_phone_taken_is_409(client):
    body = {"phone": "13912345678", "name": "张三", "password": "secret-pass"}
    assert client.post(REGISTER, json=body).status_code == 201
    r = client.post(REGISTER, json=body)
    assert r.status_code == 409 and r.json["error"]["code"] == "phone_taken"
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"phone": "23912345678", "name": "张三", "password": "secret-pass"}, {"phone"}),
        ({"phone": "1391234567", "name": "张三", "password": "secret-pass"}, {"phone"}),
        ({"phone": "13912345678", "name": "张三", "password": "short"}, {"password"}),
        ({"phone": "13912345678", "name": "", "password": "secret-pass"}, {"name"}),
        ({"phone": "13912345678", "name": "名" * 51, "password": "secret-pass"}, {"name"}),
        ({"phone": 13912345678, "name": "张三", "password": "secret-pass"}, {"phone"}),
        ({}, {"phone", "name", "password"}),
    ],
)
def test_bad_registration_is_400(client, body, fields):
    r = client.post(REGISTER, json=body)
    assert r.status_code == 400
    assert set(r.json["error"]["fields"]) == fields
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_tokens_are_hashed_and_wrong_password_is_401(client, people):
    r = client.post(TOKENS, json={"phone": people.resident.phone, "password": "wrong-password"})
    assert r.status_code == 401 and r.json["error"]["code"] == "bad_credentials"
    r = client.post(TOKENS, json={"phone": "13999999999", "password": PASSWORD})
    assert r.status_code == 401
    r = client.post(TOKENS, json={"phone": people.resident.phone, "password": PASSWORD})
    assert r.status_code == 201
    assert r.json["user"] == {
        "id": people.resident.id,
        "phone": people.resident.phone,
        "name": "居民",
    }
    token = r.json["token"]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and hash_token(token) in stored


def test_expired_and_revoked_tokens_are_refused(client, people):
    headers = bearer(people.resident)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401

    headers = bearer(people.resident)
    db.session.execute(db.update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_inactive_user_cannot_log_in(client, people):
    people.resident.active = False
    db.session.commit()
    r = client.post(TOKENS, json={"phone": people.resident.phone, "password": PASSWORD})
    assert r.status_code == 401


def test_me_lists_memberships(client, tree, people):
    r = client.get("/api/v1/me", headers=bearer(people.staff))
    assert r.json == {
        "id": people.staff.id,
        "phone": people.staff.phone,
        "name": "社工",
        "memberships": [{"org_id": tree.community.id, "org_name": "金星社区", "role": "staff"}],
    }


def test_login_is_rate_limited(make_app, people):
    app = make_app(RATELIMIT_ENABLED=True, JINDOU_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        codes = [
            client.post(
                TOKENS,
                json={"phone": people.resident.phone, "password": "wrong-one"},
                environ_base={"REMOTE_ADDR": "10.9.8.7"},
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        r = client.post(
            TOKENS,
            json={"phone": people.resident.phone, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.9.8.7"},
        )
        assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited"
        # another address is not affected
        r = client.post(
            TOKENS,
            json={"phone": people.resident.phone, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.9.8.8"},
        )
        assert r.status_code == 201


def test_rate_limits_can_live_in_redis(make_app, people):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    import uuid

    app = make_app(
        RATELIMIT_ENABLED=True,
        JINDOU_LOGIN_RATE_LIMIT="2 per minute",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        RATELIMIT_KEY_PREFIX=f"jindou-test-{uuid.uuid4().hex}",
    )
    client = app.test_client()
    with app.app_context():
        codes = [
            client.post(
                TOKENS, json={"phone": people.resident.phone, "password": "wrong-one"}
            ).status_code
            for _ in range(3)
        ]
    assert codes == [401, 401, 429]
