"""Volunteering fixtures: an app with the plugin and a stand-in for points.

The real points plugin is built elsewhere; ``PointsSpy`` implements the one
hook volunteering emits and answers what a points plugin would.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from werkzeug.security import generate_password_hash

import plugins.volunteering as volunteering
from core import hookimpl
from core.extensions import db
from core.models import utcnow
from core.plugins import PluginMeta
from core.testing import enable, needs_plugin
from plugins.volunteering.models import Activity


class PointsSpy:
    """Records ``service_recorded`` events and awards the points asked for."""

    def __init__(self):
        self.calls: list[dict] = []
        self.refuse: Exception | None = None  # set to make the next awards fail
        self.refusals: int | None = None  # how many times to refuse (None: until cleared)

    @hookimpl
    def describe(self):
        return PluginMeta(name="points", title="金豆", title_en="Points")

    @hookimpl
    def service_recorded(self, org, user, activity_id, title, minutes, verified, points, key):
        if self.refuse is not None and self.refusals != 0:
            if self.refusals is not None:
                self.refusals -= 1
            raise self.refuse
        self.calls.append(
            {
                "org_id": org.id,
                "user_id": user.id,
                "activity_id": activity_id,
                "title": title,
                "minutes": minutes,
                "verified": verified,
                "points": points,
                "key": key,
            }
        )
        return points or None


collect_ignore_glob = needs_plugin("volunteering")


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """Tests create many users; scrypt's deliberate slowness only slows them."""
    import core.models

    monkeypatch.setattr(
        core.models,
        "generate_password_hash",
        partial(generate_password_hash, method="pbkdf2:sha256:1000"),
    )


@pytest.fixture
def spy():
    return PointsSpy()


@pytest.fixture
def app(make_app, spy):
    """Overrides the core fixture: volunteering plus the points stand-in."""
    app = make_app(plugins=[volunteering, spy])
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def on(tree):
    """Volunteering and points switched on for the whole district."""
    enable(tree.district, "volunteering")
    enable(tree.district, "points")
    db.session.commit()
    return tree


def make_activity(
    org, *, starts_in=-10, minutes=120, capacity=5, points=10, per_hour=6, title="楼道清洁", **extra
) -> Activity:
    """An activity starting ``starts_in`` minutes from now (negative: running)."""
    starts = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=starts_in)
    activity = Activity(
        org_id=org.id,
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        capacity=capacity,
        points=points,
        points_per_hour=per_hour,
        **extra,
    )
    db.session.add(activity)
    db.session.commit()
    return activity


def iso(minutes_from_now: int) -> str:
    return (utcnow() + timedelta(minutes=minutes_from_now)).isoformat()
