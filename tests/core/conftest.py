"""Core's tests run with a test-only plugin instead of the real ones."""

from __future__ import annotations

import pytest

from tests.core import sample_plugin


@pytest.fixture
def app(make_app):
    app = make_app(plugins=[sample_plugin])
    with app.app_context():
        yield app
        from core.extensions import db

        db.session.remove()
