"""治安巡逻 fixtures: an app with patrol and a stand-in for points, a route of
four checkpoints in 金星社区 and a team of two volunteers.

``needs_plugin`` leaves these tests out of a run that does not load patrol;
``PointsSpy`` implements the one hook patrol emits (the real points plugin is
used in one test, marked ``plugin("points")``).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from werkzeug.security import generate_password_hash

import plugins.patrol as patrol
from core import hookimpl
from core.extensions import db
from core.models import utcnow
from core.plugins import PluginMeta
from core.testing import add_member, enable, make_user, needs_plugin

collect_ignore_glob = needs_plugin("patrol")


class PointsSpy:
    """Records ``service_recorded`` events and awards the points asked for."""

    def __init__(self):
        self.calls: list[dict] = []
        self.refuse: Exception | None = None
        self.refuse_keys: set[str] = set()  # refused with a 409 fund_short

    @hookimpl
    def describe(self):
        return PluginMeta(name="points", title="金豆", title_en="Points")

    @hookimpl
    def service_recorded(self, org, user, activity_id, title, minutes, verified, points, key):
        if self.refuse is not None:
            raise self.refuse
        if key in self.refuse_keys:
            from core.api import ApiError

            raise ApiError(409, "fund_short", "基金不足")
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


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
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
    """Overrides the core fixture: patrol plus the points stand-in."""
    app = make_app(plugins=[patrol, spy])
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def on(tree):
    """patrol (and the points stand-in) on for the whole district."""
    enable(tree.district, "patrol")
    enable(tree.district, "points")
    db.session.commit()
    return tree


@pytest.fixture
def log_in(client):
    """``log_in(user)``: the test client browses as ``user`` (a session cookie)."""

    def log_in(user) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True

    return log_in


@pytest.fixture
def team(on, people):
    """Two volunteers living in 1栋 (金星社区's subtree)."""
    first, second = make_user("13900000101", "队员甲"), make_user("13900000102", "队员乙")
    add_member(first, on.building, "resident")
    add_member(second, on.building, "resident")
    db.session.commit()
    return [first, second]


def iso(minutes_from_now: int) -> str:
    return (utcnow() + timedelta(minutes=minutes_from_now)).isoformat()
