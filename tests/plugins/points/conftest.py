"""A 盘龙区 tree with 金豆 switched on at the district and a funded district."""

from __future__ import annotations

import re

import pytest

from core.extensions import db
from core.testing import FreshRequestClient, enable, needs_plugin

collect_ignore_glob = needs_plugin("points")

FUND = 10_000


@pytest.fixture
def world(app, tree, people):
    if "points" not in app.extensions["jindou_plugins"].meta:
        pytest.skip("the points plugin is not loaded (JINDOU_PLUGINS)")
    from plugins.points import services

    enable(tree.district, "points")
    db.session.commit()
    services.deposit(
        people.district_admin, tree.district, amount=FUND, key="seed-fund", donor="爱心企业"
    )
    return tree, people


class FormClient(FreshRequestClient):
    """Posts forms with the CSRF token of the page last logged in to."""

    csrf_token: str | None = None

    def open(self, *args, **kwargs):
        if kwargs.get("method") == "POST" and "json" not in kwargs and kwargs.get("data") is None:
            kwargs["data"] = {}
        if self.csrf_token and isinstance(kwargs.get("data"), dict):
            kwargs["data"] = {"csrf_token": self.csrf_token, **kwargs["data"]}
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = FormClient
    return app.test_client()


def login(client, user) -> None:
    """Log ``user`` in and keep the page's CSRF token for the forms they post."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    client.csrf_token = None
    page = client.get("/points/wallet").get_data(as_text=True)
    client.csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def give(people, tree, amount: int, key: str = "give"):
    """Staff award ``amount`` beans to the resident."""
    from plugins.points import services

    return services.award(
        people.staff,
        tree.community,
        phone=people.resident.phone,
        amount=amount,
        reason="优秀楼栋长",
        key=key,
    )


def reward(people, tree, *, cost=10, stock=5, org=None, **extra):
    from plugins.points import services

    row = services.create_reward(
        people.staff, org or tree.community, name="洗衣液", cost=cost, stock=stock, **extra
    )
    db.session.commit()
    return row


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch):
    """Test users need no costly password hash (scrypt dominates setup time)."""
    import functools

    from werkzeug.security import generate_password_hash

    import core.models

    monkeypatch.setattr(
        core.models,
        "generate_password_hash",
        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"),
    )
