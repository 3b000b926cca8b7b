"""Regression tests for defects a review found (each failed before its fix): input."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.testing import bearer
from core.times import month_bounds
from plugins.points import services
from plugins.points.models import Reward
from tests.plugins.points.conftest import give, login, reward


def spendable(user) -> int:
    db.session.expire_all()
    return services.wallet_summary(user)["balance"]


def cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# -- 1. extreme dates are a 400, never a 500 ------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00+08:00",
        "9999-12-30T00:00-10:00",
        "1999-12-31T23:59+00:00",
        "2101-01-01T00:00+00:00",
    ],
)
def test_reward_window_outside_2000_2100_is_a_400(client, world, moment):
    tree, people = world
    for field in ("starts_at", "ends_at"):
        r = client.post(
            f"/api/v1/orgs/{tree.community.id}/rewards",
            headers=bearer(people.staff),
            json={"name": "米", "cost": 5, "stock": 1, field: moment},
        )
        assert r.status_code == 400, r.json
        assert field in r.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Reward)) == 0


@pytest.mark.parametrize("page", ["leaderboard", "report", "report.csv"])
@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1999-12", "2101-01", "2026-13", "x"])
def test_report_and_leaderboard_months_outside_2000_2100_are_a_400(client, world, page, month):
    tree, people = world
    login(client, people.staff)
    r = client.get(f"/points/orgs/{tree.community.id}/{page}?month={month}")
    assert r.status_code == 400
    assert client.get(f"/points/orgs/{tree.community.id}/{page}?month=2100-12").status_code == 200
    assert client.get(f"/points/orgs/{tree.community.id}/{page}").status_code == 200


def test_month_bounds_refuses_years_outside_2000_2100(world):
    from datetime import date

    from core.api import BadRequest

    with pytest.raises(BadRequest):
        month_bounds(date(9999, 12, 1))
    start, end = month_bounds(date(2100, 12, 1))
    assert (start.year, end.year) == (2100, 2101)


# -- 2. Unicode digits on forms -------------------------------------------------------------


def test_batch_award_form_with_unicode_digits_is_a_form_error(client, world):
    tree, people = world
    login(client, people.staff)
    for amount in ("²", "٣", "1" * 5000):
        r = client.post(
            f"/points/orgs/{tree.community.id}/awards/batch",
            data={
                "lines": f"{people.resident.phone} {amount}",
                "reason": "敬老活动",
                "idempotency_key": "b1",
            },
            follow_redirects=True,
        )
        assert r.status_code == 200 and "有误的行" in r.get_data(as_text=True)
    assert spendable(people.resident) == 0


def test_expiry_settings_form_with_unicode_digits_is_a_form_error(client, world):
    tree, people = world
    login(client, people.district_admin)
    r = client.post(
        f"/points/orgs/{tree.district.id}/settings",
        data={"expiry_months": "²"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "有效期须为" in r.get_data(as_text=True)
    assert services.expiry_months(tree.district) is None


def test_add_stock_form_with_unicode_digits_is_a_form_error(client, world):
    tree, people = world
    item = reward(people, tree, stock=3)
    login(client, people.staff)
    for raw in ("²", "٣", "9" * 5000):
        r = client.post(
            f"/points/rewards/{item.id}/update", data={"add_stock": raw}, follow_redirects=True
        )
        assert r.status_code == 200 and "补充库存须为" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Reward, item.id).stock == 3


# -- 3. forged cursors on my transfers -------------------------------------------------------


@pytest.mark.parametrize("values", [[10**30], [-1], [0], [True], [1.5], ["1"], [1, 2], []])
def test_forged_transfer_cursor_is_a_400(client, world, values):
    tree, people = world
    give(people, tree, 5)
    r = client.get(
        f"/api/v1/points/transfers?cursor={cursor(values)}", headers=bearer(people.resident)
    )
    assert r.status_code == 400 and r.json["error"]["fields"] == {"cursor": ["无效"]}


def test_transfer_limit_never_overflows(client, world):
    tree, people = world
    give(people, tree, 5)
    for limit in ("9" * 40, "-" + "9" * 40):  # clamped to 1..200
        r = client.get(f"/api/v1/points/transfers?limit={limit}", headers=bearer(people.resident))
        assert r.status_code == 200 and len(r.json["items"]) == 1
    for limit in ("²", "abc"):  # one rule for every list: not a number is a 400
        r = client.get(f"/api/v1/points/transfers?limit={limit}", headers=bearer(people.resident))
        assert r.status_code == 400 and r.json["error"]["fields"] == {"limit": ["必须是整数"]}
