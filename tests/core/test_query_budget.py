"""Authorization and plugin enablement cost a fixed, small number of statements,
however deep the organization sits in the tree."""

from __future__ import annotations

import pytest
from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from core import hookimpl
from core.access import require_role
from core.extensions import db
from core.models import Role
from core.plugins import PluginMeta
from core.testing import add_member, bearer, count_statements, enable, make_org


class GuardedPlugin:
    @hookimpl
    def describe(self):
        return PluginMeta(name="guarded", title="受保护", title_en="Guarded")

    @hookimpl
    def blueprints(self):
        bp = Blueprint("guarded", __name__)

        @bp.get("/api/v1/orgs/<int:org_id>/guarded")
        @login_required
        def view(org_id):
            from flask import current_app

            org = current_app.extensions["jindou_plugins"].request_org()
            require_role(current_user, org, Role.staff)
            return jsonify({"ok": True})

        return [bp]


@pytest.fixture
def guarded_app(make_app):
    app = make_app(plugins=[GuardedPlugin()])
    with app.app_context():
        yield app


def test_statements_per_request_do_not_grow_with_depth(guarded_app, tree, people):
    # a deeper tree than the five levels' minimum: many siblings and memberships around
    for i in range(30):
        make_org(f"楼{i}", "building", tree.group)
    district_admin = people.district_admin
    add_member(district_admin, tree.building, "staff")
    enable(tree.district, "guarded")
    db.session.commit()
    client = guarded_app.test_client()
    headers = bearer(district_admin)
    counts = {}
    targets = [
        (org.level, f"/api/v1/orgs/{org.id}/guarded")
        for org in (tree.district, tree.community, tree.building)
    ]
    for level, url in targets:
        client.get(url, headers=headers)  # warm up (engine, pool)
        db.session.remove()
        with count_statements() as statements:
            assert client.get(url, headers=headers).status_code == 200
        counts[level] = len(statements)
    assert counts["district"] == counts["community"] == counts["building"]
    # token+user, organization, plugin switches, role: four
    assert counts["building"] <= 4, counts
