"""What the scan's hot path stands on: ``unloaded`` objects, ``identity_only``
views (a bearer user resolved without loading the User) and plugin switches
read inside the caller's own statement."""

from __future__ import annotations

import random

import pytest
from flask import Blueprint, jsonify
from flask_login import current_user, login_required
from sqlalchemy import select

from core import hookimpl
from core.api import identity_only
from core.extensions import db
from core.models import Organization, User, unloaded
from core.plugins import PluginMeta, manager, switch_summary
from core.testing import bearer, count_statements, enable, make_org
from tests.core import sample_plugin


@pytest.fixture
def seen(app):
    with count_statements(transaction_control=False) as recorded:
        yield recorded


def test_unloaded_sets_what_is_known_and_loads_the_rest_on_use(app, people, seen):
    user_id, phone = people.resident.id, people.resident.phone
    db.session.remove()
    seen.clear()
    user = unloaded(User, user_id, active=True)
    assert user.id == user_id and user.active is True and not seen
    assert isinstance(user, User) and user in db.session
    assert user.phone == phone and len(seen) == 1  # one SELECT by key, on first use
    assert unloaded(User, user_id) is user  # the session's own object
    assert db.session.get(User, user_id) is user and len(seen) == 1
    db.session.commit()  # nothing was changed: nothing is written
    assert not [s for s in seen if not s.lstrip().upper().startswith("SELECT")]


class IdentityPlugin:
    @hookimpl
    def describe(self):
        return PluginMeta(name="identity", title="身份", title_en="Identity")

    @hookimpl
    def blueprints(self):
        bp = Blueprint("identity", __name__)

        @bp.post("/api/v1/identity/light")
        @identity_only
        @login_required
        def light():
            return jsonify({"id": current_user.id})

        @bp.post("/api/v1/identity/full")
        @login_required
        def full():
            return jsonify({"id": current_user.id, "name": current_user.name})

        @bp.post("/api/v1/identity/light-name")
        @identity_only
        @login_required
        def light_name():
            return jsonify({"name": current_user.name})

        return [bp]


@pytest.fixture
def app(make_app):
    """Core's sample plugin plus the views above (the fixtures' tree uses this app)."""
    app = make_app(plugins=[sample_plugin, IdentityPlugin()])
    with app.app_context():
        yield app
        db.session.remove()


def test_identity_only_views_load_no_user_row(app, people, seen):
    client = app.test_client()
    headers = bearer(people.resident)
    user_id, name = people.resident.id, people.resident.name
    db.session.remove()
    seen.clear()
    r = client.post("/api/v1/identity/light", headers=headers)
    assert r.status_code == 200 and r.json == {"id": user_id}
    assert len(seen) == 1 and "user_account.name" not in seen[0]
    # the same person, all of the row when a view wants it (a second SELECT, by key)
    r = client.post("/api/v1/identity/light-name", headers=headers)
    assert r.status_code == 200 and r.json == {"name": name}
    # other views load the User with the token, as before
    seen.clear()
    r = client.post("/api/v1/identity/full", headers=headers)
    assert r.json == {"id": user_id, "name": name}
    assert len(seen) == 1 and "user_account.name" in seen[0]


def test_identity_only_views_refuse_what_others_refuse(app, people):
    client = app.test_client()
    r = client.post("/api/v1/identity/light", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"
    headers = bearer(people.resident)
    people.resident.active = False
    db.session.commit()
    for url in ("/api/v1/identity/light", "/api/v1/identity/full"):
        assert client.post(url, headers=headers).status_code == 401


def test_switches_read_in_ones_own_statement_match_states(app, tree):
    """Random switches over a deeper tree: the cached states made from one
    column equal what ``states`` asks for itself, at every organization."""
    rng = random.Random(15)
    orgs = [tree.district, tree.subdistrict, tree.community, tree.group, tree.building]
    orgs += [make_org(f"楼{i}", "building", tree.group) for i in range(6)]
    orgs += [tree.other_subdistrict, tree.other_community]
    for org in orgs:
        if rng.random() < 0.6:
            enable(org, "sample", enabled=rng.random() < 0.5)
    db.session.commit()
    plugins = manager()
    rows = db.session.execute(
        select(Organization.id, Organization.path, switch_summary(Organization.path))
    ).all()
    assert len(rows) == len(orgs)
    for org_id, path, summary in rows:
        expected = plugins.states(db.session.get(Organization, org_id))
        from flask import g

        g.pop("_jindou_plugin_states", None)
        plugins.remember_states(org_id, path, summary)
        assert g._jindou_plugin_states[org_id] == expected, path
        g.pop("_jindou_plugin_states", None)
