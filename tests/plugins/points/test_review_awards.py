"""Regression tests for defects a review found (each failed before its fix): awards."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from core import ledger
from core.extensions import db
from core.models import utcnow
from plugins.points import services
from plugins.points.models import Award
from tests.conftest import bearer, enable
from tests.plugins.points.conftest import FUND, give


def spendable(user) -> int:
    db.session.expire_all()
    return services.wallet_summary(user)["balance"]


def cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def this_month():
    return services.parse_month(None)


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
    db.session.execute(Award.__table__.update().where(Award.id == wrong.id)
                       .values(expires_at=utcnow() + timedelta(days=400)))
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
    monkeypatch.setattr(services, "utcnow", lambda: ledger.utcnow() + timedelta(days=40))
    result = app.test_cli_runner().invoke(args=["points", "expire"])
    assert result.exit_code == 0 and "expired 0 beans" in result.output
    assert spendable(people.resident) == 40
