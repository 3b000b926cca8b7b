"""爱心食堂 fixtures: a tree with meals switched on at the district.

``needs_plugin`` leaves these tests out of a run that does not load meals.
"""

from __future__ import annotations

import pytest

from core.extensions import db
from core.testing import enable, needs_plugin

collect_ignore_glob = needs_plugin("meals")


@pytest.fixture
def on(tree):
    """meals on for the whole district."""
    enable(tree.district, "meals")
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
