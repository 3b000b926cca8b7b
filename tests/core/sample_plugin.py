"""A test-only plugin, so that core's tests name no real plugin and pass
with any subset of plugins installed (``JINDOU_PLUGINS=none`` included)."""

from __future__ import annotations

from flask import jsonify
from flask_login import login_required

from core import hookimpl
from core.plugins import Card, NavItem, PluginMeta, plugin_blueprint

bp = plugin_blueprint(__name__, "sample")


@bp.get("/api/v1/orgs/<int:org_id>/sample")
@login_required
def per_org(org_id):
    return jsonify({"org_id": org_id})


@bp.get("/sample/")
@login_required
def home():
    return "sample"


@hookimpl
def describe():
    return PluginMeta(name="sample", title="示例", title_en="Sample", description="测试用插件")


@hookimpl
def blueprints():
    return [bp]


@hookimpl
def nav_items(user, org):
    return [NavItem("示例", "/sample/", 90)]


@hookimpl
def dashboard_cards(user, org):
    return [Card("示例卡片", "7")]
