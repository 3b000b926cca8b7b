"""A plugin from another distribution joins through its entry point alone; a
plugin whose route another already answers does not load."""

from __future__ import annotations

import sys
import textwrap

import pytest

from core.plugins import PluginError, discover

HELLO = """
from flask import jsonify

from core import hookimpl
from core.plugins import PluginMeta, plugin_blueprint

bp = plugin_blueprint(__name__, "hello")


@bp.get("{route}")
def hi():
    return jsonify({{"hello": "世界"}})


@hookimpl
def describe():
    return PluginMeta(name="hello", title="你好", title_en="Hello")


@hookimpl
def blueprints():
    return [bp]
"""


def install(site, module: str, name: str, route: str) -> None:
    """Write ``module`` and the dist-info ``pip install`` would leave behind."""
    (site / module).mkdir()
    (site / module / "__init__.py").write_text(textwrap.dedent(HELLO.format(route=route)))
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[jindou.plugins]\n{name} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("jindou_hello")]:
        del sys.modules[module]


def test_an_installed_plugin_is_discovered_and_serves_its_route(site, make_app):
    install(site, "jindou_hello", "hello", "/hello/")
    assert "hello" in discover()
    app = make_app(JINDOU_PLUGINS=["hello"])
    assert app.extensions["jindou_plugins"].names == ["hello"]
    answer = app.test_client().get("/hello/")
    assert answer.status_code == 200
    assert answer.get_json() == {"hello": "世界"}


def test_a_plugin_not_named_in_jindou_plugins_stays_out(site, make_app):
    install(site, "jindou_hello", "hello", "/hello/")
    app = make_app(JINDOU_PLUGINS=[])
    assert app.extensions["jindou_plugins"].names == []
    assert app.test_client().get("/hello/").status_code == 404


def test_a_route_another_plugin_answers_refuses_to_load(site, make_app):
    from tests.core import sample_plugin

    install(site, "jindou_hello", "hello", "/sample/")  # sample_plugin's page
    from jindou_hello import bp  # noqa: F401  (imported as discovery would)

    plugin = sys.modules["jindou_hello"]
    with pytest.raises(PluginError, match="collides with"):
        make_app(plugins=[sample_plugin, plugin])


@pytest.mark.parametrize(
    "route", ["/api/v1/openapi.json", "/lang/<code>", "/login", "/api/v1/orgs/<int:id>"]
)
def test_a_route_core_answers_refuses_to_load(site, make_app, route):
    """Core's own routes, the app's (/api/v1/openapi.json, /lang/...) included."""
    install(site, "jindou_hello", "hello", route)
    with pytest.raises(PluginError, match="collides") as refused:
        make_app(JINDOU_PLUGINS=["hello"])
    assert "hello" in str(refused.value)
    assert {"core", "auth", "orgs"} & set(str(refused.value).split())
