"""The 金豆管理 page's newest awards: by id above a community, by date below
(a community's awards may all be old, and the id walk crossed the table)."""

from __future__ import annotations

from datetime import timedelta

from core.extensions import db
from core.models import utcnow
from plugins.points.models import Award
from tests.plugins.points.conftest import give


def test_recent_awards_newest_first_at_every_level(world):
    from plugins.points import services

    tree, people = world
    first, second, third = (give(people, tree, 5, key=f"recent-{n}") for n in range(3))
    # The second was recorded late for an earlier day (a back-fill): by date it is oldest.
    db.session.get(Award, second.id).created_at = utcnow() - timedelta(days=30)
    db.session.commit()

    at_community = [a.id for a in services.recent_awards(tree.community)]
    assert at_community == [third.id, first.id, second.id]
    assert [a.id for a in services.recent_awards(tree.community, limit=2)] == [third.id, first.id]
    at_district = [a.id for a in services.recent_awards(tree.district)]
    assert at_district == [third.id, second.id, first.id]  # newest ids, one index walk
    assert services.recent_awards(tree.building) == []  # nothing awarded there


def test_recent_awards_are_paid_ones_only(world):
    from plugins.points import services

    tree, people = world
    kept = give(people, tree, 5, key="kept")
    gone = give(people, tree, 5, key="gone")
    db.session.get(Award, gone.id).status = "unfunded"
    db.session.commit()
    assert [a.id for a in services.recent_awards(tree.community)] == [kept.id]
