"""Regression tests for defects a review found (each failed before its fix): awards."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from core import ledger
from core.api import Forbidden
from core.extensions import db
from core.models import AuditLog, utcnow
from core.testing import bearer, enable
from core.times import this_month
from plugins.points import services
from plugins.points.models import Award
from tests.plugins.points.conftest import FUND, give, login


def spendable(user) -> int:
    db.session.expire_all()
    return services.wallet_summary(user)["balance"]


def cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# -- 4. a reversed award counts nowhere --------------------------------------------------------


def test_reversed_award_leaves_leaderboard_report_and_expiry(world):
    tree, people = world
    services.set_expiry(people.district_admin, tree.district, 1)
    db.session.commit()
    row = give(people, tree, 500)
    services.reverse_award(people.staff, row.id, reason="发错人")
    db.session.expire_all()
    assert db.session.get(Award, row.id).reversed_at is not None
    assert services.leaderboard(tree.community, this_month()) == []
    assert services.report(tree.community, this_month())["issued"] == 0
    assert services.expire_all(utcnow() + timedelta(days=40)) == (0, 0)
    assert spendable(people.resident) == 0
    ledger.check_invariants()


def test_reversal_does_not_eat_an_older_awards_expiry(world):
    """A 300 kept (expires) then 500 reversed (not yet due): the 300 expire."""
    tree, people = world
    services.set_expiry(people.district_admin, tree.district, 1)
    db.session.commit()
    give(people, tree, 300, key="kept")
    wrong = give(people, tree, 500, key="wrong")
    db.session.execute(
        Award.__table__.update()
        .where(Award.id == wrong.id)
        .values(expires_at=utcnow() + timedelta(days=400))
    )
    db.session.commit()
    services.reverse_award(people.staff, wrong.id, reason="发错人")
    assert services.expire_all(utcnow() + timedelta(days=40)) == (1, 300)
    assert spendable(people.resident) == 0
    assert services.fund_balance(tree.district) == FUND
    ledger.check_invariants()


def test_reversed_award_is_listed_as_reversed(client, world):
    tree, people = world
    row = give(people, tree, 5)
    services.reverse_award(people.staff, row.id, reason="发错人")
    r = client.get(f"/api/v1/orgs/{tree.community.id}/points/awards", headers=bearer(people.staff))
    assert r.status_code == 200 and r.json["items"][0]["reversed_at"] is not None


# -- 6. nobody awards themselves -----------------------------------------------------------------


def test_staff_cannot_award_themselves(client, world):
    tree, people = world
    r = client.post(
        f"/api/v1/orgs/{tree.community.id}/points/awards",
        headers=bearer(people.staff),
        json={
            "phone": people.staff.phone,
            "amount": 50,
            "reason": "辛苦了",
            "idempotency_key": "me",
        },
    )
    assert r.status_code == 403 and r.json["error"]["code"] == "self_award"
    assert "自己" in r.json["error"]["message"]
    assert spendable(people.staff) == 0 and services.fund_balance(tree.district) == FUND
    assert db.session.scalar(select(func.count()).select_from(Award)) == 0


def test_staff_cannot_award_themselves_in_a_batch(client, world):
    tree, people = world
    with pytest.raises(Forbidden):
        services.award_batch(
            people.staff,
            tree.community,
            lines=[(people.resident.phone, 5), (people.staff.phone, 50)],
            reason="活动",
            key="batch",
        )
    db.session.rollback()
    assert spendable(people.staff) == 0 and spendable(people.resident) == 0
    assert db.session.scalar(select(func.count()).select_from(Award)) == 0
    login(client, people.staff)
    r = client.post(
        f"/points/orgs/{tree.community.id}/awards/batch",
        data={"lines": f"{people.staff.phone} 50", "reason": "敬老活动", "idempotency_key": "b1"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "自己" in r.get_data(as_text=True)
    assert spendable(people.staff) == 0


# -- 8. an over-limit service award is recorded, not dropped -------------------------------------


def test_service_award_above_the_limit_is_kept_unfunded(world):
    tree, people = world
    manager = current_app.extensions["jindou_plugins"]
    points = services.MAX_AWARD + 1
    answers = manager.emit(
        tree.community,
        "service_recorded",
        user=people.resident,
        activity_id=1,
        title="长期服务",
        minutes=600,
        verified=True,
        points=points,
        key="big",
    )
    db.session.commit()
    assert answers == [0] and spendable(people.resident) == 0
    owed = services.unfunded_awards(tree.community)
    assert [(a.amount, a.status) for a in owed] == [(points, "unfunded")]
    assert (
        db.session.scalar(
            select(AuditLog.details).where(AuditLog.action == "points.award_unfunded")
        )["why"]
        == "over_limit"
    )


# -- 10. expiry only where points is on --------------------------------------------------------


def test_expiry_skips_organizations_where_points_is_off(app, world):
    tree, people = world
    services.set_expiry(people.district_admin, tree.district, 1)
    db.session.commit()
    give(people, tree, 40)
    enable(tree.community, "points", False)
    db.session.commit()
    later = utcnow() + timedelta(days=40)
    assert services.expire_all(later) == (0, 0)
    assert spendable(people.resident) == 40
    enable(tree.community, "points", True)
    db.session.commit()
    assert services.expire_all(later) == (1, 40)
    assert spendable(people.resident) == 0


def test_expire_command_skips_organizations_where_points_is_off(app, world, monkeypatch):
    tree, people = world
    services.set_expiry(people.district_admin, tree.district, 1)
    db.session.commit()
    give(people, tree, 40)
    enable(tree.community, "points", False)
    db.session.commit()
    monkeypatch.setattr(services.expiry, "utcnow", lambda: ledger.utcnow() + timedelta(days=40))
    result = app.test_cli_runner().invoke(args=["points", "expire"])
    assert result.exit_code == 0 and "expired 0 beans" in result.output
    assert spendable(people.resident) == 40
