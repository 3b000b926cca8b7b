"""群众诉求 fixtures: a tree with casework switched on at the district.

``needs_plugin`` leaves these tests out of a run that does not load casework.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.extensions import db
from core.testing import bearer, enable, needs_plugin

collect_ignore_glob = needs_plugin("casework")

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def on(tree):
    """casework on for the whole district."""
    enable(tree.district, "casework")
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
def raise_one(client, on, people):
    """``raise_one(org=building, user=resident, **body)`` → the answer's JSON (201 asserted)."""

    def raise_one(org=None, user=None, **body):
        body = {"category": "facilities", "text": "路灯坏了", **body}
        answer = client.post(
            f"/api/v1/orgs/{(org or on.building).id}/cases",
            json=body,
            headers=bearer(user or people.resident),
        )
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    return raise_one
