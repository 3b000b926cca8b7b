"""A check-out at the door with the real points plugin: the 金豆 arrive once,
and the award costs a bounded number of statements."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import plugins.volunteering as volunteering
from core.extensions import db
from core.testing import bearer, enable
from tests.plugins.volunteering.conftest import make_activity
from tests.plugins.volunteering.test_scan_path import back_date_check_in, scan, statements
from tests.plugins.volunteering.test_scans import code, confirm

pytestmark = pytest.mark.plugin("points")  # skipped in a run without points


@pytest.fixture
def app(make_app):
    """Volunteering with the real points plugin (not the conftest's spy)."""
    points = pytest.importorskip("plugins.points")
    app = make_app(plugins=[volunteering, points])
    with app.app_context():
        yield app
        db.session.remove()


def test_check_out_pays_the_award_once(client, tree, people):
    from plugins.points import services
    from plugins.points.models import Award

    enable(tree.district, "volunteering")
    enable(tree.district, "points")
    db.session.commit()
    services.deposit(people.district_admin, tree.district, amount=1000, key="fund", donor="企业")
    activity = make_activity(tree.community, points=10, per_hour=6)
    confirm(activity, people.resident)
    staff = bearer(people.staff)
    door = {
        "activity_id": activity.id,
        "starts_at": activity.starts_at,
        "user_id": people.resident.id,
        "me": bearer(people.resident),
        "in": code(client, activity, staff)["token"],
        "out": code(client, activity, staff, "out")["token"],
    }
    assert scan(client, door["in"], door["me"]).status_code == 200
    back_date_check_in(door)
    with statements() as seen:
        r = scan(client, door["out"], door["me"])
    assert r.status_code == 200, r.json
    assert r.json["points"] == r.json["points_earned"] == 10 + 6 * r.json["minutes"] // 60
    # As many as when the scan loaded rows (16 on PostgreSQL, 18 on SQLite): the
    # scan saved one, points' month-earnings upsert (光荣榜) added one.
    budget = 16 if db.engine.dialect.name == "postgresql" else 18
    assert len(seen) <= budget, seen
    again = scan(client, door["out"], door["me"])
    assert again.json == r.json
    db.session.remove()
    user = db.session.get(type(people.resident), door["user_id"])
    assert services.wallet_summary(user)["balance"] == r.json["points"]
    assert db.session.scalar(select(func.count()).select_from(Award)) == 1
