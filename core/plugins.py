"""The plugin manager: discovery by entry point, loading, per-locality enablement.

Enablement is the row of the nearest ancestor-or-self in ``org_plugin``; no
row anywhere means off. It is answered with one query over the organization's
materialized path and cached for the request.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from flask import Blueprint, Flask, abort, current_app, g, has_app_context, request
from sqlalchemy import Integer, String, any_, case, cast, func, inspect, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from core import hookspecs
from core.extensions import db
from core.models import Organization, OrgPlugin

ENTRY_POINT_GROUP = "jindou.plugins"


@dataclasses.dataclass(frozen=True)
class SettingSpec:
    """One per-organization setting a plugin declares in its :class:`PluginMeta`.

    Core stores every plugin's settings in one table; the value in force at an
    organization is the nearest ancestor-or-self's, else ``default``.
    """

    name: str
    type: type  # bool, int or str
    default: object
    title: str  # Chinese, shown on the settings page
    title_en: str = ""
    minimum: int | None = None  # ints only
    maximum: int | None = None
    nullable: bool = False  # None is a value (e.g. "beans never expire")
    max_length: int = 200  # strs only

    def check(self, value) -> str | None:
        """Why ``value`` is not acceptable for this setting (Chinese), or None."""
        if value is None:
            return None if self.nullable else "不能为空"
        if self.type is bool:
            return None if isinstance(value, bool) else "必须是 true 或 false"
        if self.type is int:
            if type(value) is not int:
                return "必须是整数"
            low = self.minimum if self.minimum is not None else -(2**53)
            high = self.maximum if self.maximum is not None else 2**53
            return None if low <= value <= high else f"必须在 {low} 到 {high} 之间"
        if not isinstance(value, str):
            return "必须是文字"
        return None if len(value) <= self.max_length else f"最多 {self.max_length} 个字"


@dataclasses.dataclass(frozen=True)
class PluginRole:
    """A role a plugin declares; granted per organization, covering its subtree
    like staff. Stored as ``<plugin>.<name>`` (e.g. ``meals.cashier``)."""

    name: str
    title: str  # Chinese
    title_en: str = ""


@dataclasses.dataclass(frozen=True)
class PluginMeta:
    name: str
    title: str  # Chinese title, shown by default
    title_en: str
    version: str = "0.1.0"
    description: str = ""
    requires: tuple[str, ...] = ()
    # The plugin's models that carry an organization (an ``org_id`` column), by
    # the URL variable that names them: ``{"activity_id": Activity}``, or a
    # unique column to look them up by: ``{"code": Redemption.code}`` (or, for
    # an object kept elsewhere, a function from the value to the org id). Core
    # finds the owning organization of /activities/<activity_id> itself, as it
    # does for /orgs/<org_id>, and switches the route off where the plugin is.
    owners: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Settings this plugin reads per organization (stored by core, nearest ancestor wins).
    settings: tuple[SettingSpec, ...] = ()
    # Roles this plugin grants per organization (a canteen cashier, a patrol leader...).
    roles: tuple[PluginRole, ...] = ()


@dataclasses.dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    order: int = 50


@dataclasses.dataclass(frozen=True)
class Card:
    title: str
    value: str
    url: str | None = None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ReportSection:
    title: str
    rows: list[tuple[str, object]]


@dataclasses.dataclass(frozen=True)
class PluginState:
    name: str
    enabled: bool
    source_org_id: int | None  # where the effective switch is set; None: nowhere


class PluginError(RuntimeError):
    pass


def discover() -> dict[str, Callable[[], ModuleType]]:
    """Installed plugins by name, as declared in the ``jindou.plugins`` group."""
    return {ep.name: ep.load for ep in entry_points(group=ENTRY_POINT_GROUP)}


class PluginManager:
    """Lives on the app (``app.extensions['jindou_plugins']``), never module-global."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("jindou")
        self.pm.add_hookspecs(hookspecs)
        self.meta: dict[str, PluginMeta] = {}

    @property
    def hook(self):
        return self.pm.hook

    @property
    def names(self) -> list[str]:
        return list(self.meta)

    @property
    def role_titles(self) -> dict[str, str]:
        """Every loaded plugin's roles, ``"<plugin>.<name>"`` -> Chinese title."""
        return {
            f"{info.name}.{role.name}": role.title
            for info in self.meta.values()
            for role in info.roles
        }

    def load(self, modules: Iterable[object]) -> None:
        for module in modules:
            describe = getattr(module, "describe", None)
            if describe is None:
                raise PluginError(f"plugin {module!r} has no describe() hook")
            info: PluginMeta = describe()
            if info.name in self.meta:
                raise PluginError(f"two plugins are named {info.name!r}")
            _check_declarations(info)
            self.pm.register(module, name=info.name)
            self.meta[info.name] = info
        for info in self.meta.values():
            missing = [r for r in info.requires if r not in self.meta]
            if missing:
                raise PluginError(f"plugin {info.name} needs {', '.join(missing)}, not loaded")
        self.pm.check_pending()

    def call_each(self, hook_name: str, **kwargs) -> list[tuple[str, object]]:
        """Call a hook on every loaded plugin, keeping which plugin answered."""
        results = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name in self.meta:
                args = {k: v for k, v in kwargs.items() if k in impl.argnames}
                results.append((impl.plugin_name, impl.function(**args)))
        return results

    # -- enablement ---------------------------------------------------------
    # One mechanism for requests, services and jobs: ``states`` (cached in the
    # app context, so a request or a CLI job asks once per organization),
    # ``enforce`` for routes, ``require_enabled`` for services and
    # ``orgs_where_enabled`` for set-based jobs.

    def states(self, org: Organization) -> dict[str, PluginState]:
        """Effective state of every loaded plugin at ``org``: one query, cached."""
        cache = g.setdefault("_jindou_plugin_states", {}) if has_app_context() else {}
        if org.id in cache:
            return cache[org.id]
        ancestors = org.ancestor_ids
        rows = db.session.execute(
            select(OrgPlugin.org_id, OrgPlugin.plugin, OrgPlugin.enabled).where(
                OrgPlugin.org_id.in_(ancestors)
            )
        ).all()
        cache[org.id] = self._resolve(ancestors, rows)
        return cache[org.id]

    def remember_states(self, org_id: int, path: str, summary: str | None) -> None:
        """Cache the states at ``org_id`` from its ``path`` and the column
        :func:`switch_summary` read in the caller's own statement."""
        rows = []
        for item in (summary or "").split(","):
            if item:
                switched, plugin, enabled = item.split(":")
                rows.append((int(switched), plugin, enabled == "1"))
        ancestors = [int(part) for part in path.strip("/").split("/") if part]
        if has_app_context():
            g.setdefault("_jindou_plugin_states", {})[org_id] = self._resolve(ancestors, rows)

    def _resolve(self, ancestors: list[int], rows) -> dict[str, PluginState]:
        """The nearest switch of each plugin among ``rows`` (of the ancestors)."""
        depth = {org_id: i for i, org_id in enumerate(ancestors)}
        nearest: dict[str, tuple[int, bool]] = {}
        for org_id, plugin, enabled in rows:
            if plugin not in nearest or depth[org_id] > depth[nearest[plugin][0]]:
                nearest[plugin] = (org_id, enabled)
        return {
            name: PluginState(name, nearest[name][1], nearest[name][0])
            if name in nearest
            else PluginState(name, False, None)
            for name in self.meta
        }

    def enabled_names(self, org: Organization) -> list[str]:
        return [name for name, state in self.states(org).items() if state.enabled]

    def is_enabled(self, org: Organization, name: str) -> bool:
        state = self.states(org).get(name)
        return bool(state and state.enabled)

    def for_org(self, org: Organization, hook_name: str):
        """A hook caller that reaches only the plugins enabled at ``org``."""
        enabled = set(self.enabled_names(org))
        off = [self.pm.get_plugin(n) for n in self.meta if n not in enabled]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=[p for p in off if p])

    def emit(self, org: Organization, hook_name: str, **kwargs) -> list:
        """Deliver an event to the plugins enabled at ``org``; return their answers."""
        return self.for_org(org, hook_name)(org=org, **kwargs)

    # -- request enforcement ------------------------------------------------

    def owner_org_id(self, plugin: str, key: str, value) -> int | None:
        """The organization owning the object ``key=value`` names (``PluginMeta.owners``)."""
        target = self.meta[plugin].owners[key]
        if not isinstance(target, type) and not hasattr(target, "class_"):
            return target(value)  # a function
        model: Any
        column: Any
        if isinstance(target, type):  # a model: look it up by primary key
            model, column = target, inspect(target).primary_key[0]
        else:  # a unique column of a model
            model, column = target.class_, target
        return db.session.scalar(select(model.org_id).where(column == value))

    def request_org(self) -> Organization | None:
        """The organization the current request is about, if any (cached on ``g``).

        Looked for, in order: ``<org_id>`` in the URL; a URL variable naming
        an object the plugin owns; then ``org_id`` (or an owned key) in the
        query string or a JSON body. A value that names nothing is a 404.
        """
        if "_jindou_request_org" in g:
            return g._jindou_request_org
        plugin = _top_blueprint()
        keys = ["org_id", *(self.meta[plugin].owners if plugin in self.meta else ())]
        org_id = None
        for source in (request.view_args or {}, request.args, _json_object()):
            found = next((k for k in keys if k in source), None)
            if found is None:
                continue
            value = source[found] if source is request.view_args else _bounded_id(source[found])
            if found == "org_id":
                org_id = value
            elif value is not None and plugin is not None:
                org_id = self.owner_org_id(plugin, found, value)
            if org_id is None:
                abort(404)
            break
        org = None
        if org_id is not None:
            org = db.session.get(Organization, org_id) or abort(404)
        g._jindou_request_org = org
        return org

    def enforce(self) -> None:
        """``before_request``: a plugin's routes answer 404 where it is off.

        Routes about no organization (``/api/v1/me/...``, a wallet) show a
        person their own records and answer wherever the plugin is loaded.
        """
        name = _top_blueprint()
        if name not in self.meta:
            return
        org = self.request_org()
        if org is not None and not self.is_enabled(org, name):
            abort(404)


def _check_declarations(info: PluginMeta) -> None:
    """A plugin's settings and roles are sound, or it does not load."""
    names = [spec.name for spec in info.settings]
    if len(set(names)) != len(names):
        raise PluginError(f"plugin {info.name} declares a setting twice")
    for spec in info.settings:
        if spec.type not in (bool, int, str):
            raise PluginError(f"setting {info.name}.{spec.name}: type must be bool, int or str")
        if not spec.name.isidentifier() or len(spec.name) > 64:
            raise PluginError(f"setting {info.name}.{spec.name}: not a valid name")
        if spec.check(spec.default) is not None:
            raise PluginError(
                f"setting {info.name}.{spec.name}: default {spec.default!r} "
                "does not fit its own type"
            )
    roles = [role.name for role in info.roles]
    if len(set(roles)) != len(roles):
        raise PluginError(f"plugin {info.name} declares a role twice")
    for role in roles:
        if not role.isidentifier() or len(f"{info.name}.{role}") > 64:
            raise PluginError(f"role {info.name}.{role}: not a valid name")


def _top_blueprint() -> str | None:
    return request.blueprints[-1] if request.blueprints else None


def _json_object() -> dict:
    data = request.get_json(silent=True) if request.is_json else None
    return data if isinstance(data, dict) else {}


def _bounded_id(raw) -> int | None:
    """An id from a query string or body: a positive int below 2**31, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10:
        raw = int(raw)
    return raw if isinstance(raw, int) and 0 < raw < 2**31 else None


# -- the toolkit's public functions --------------------------------------------------


def manager() -> PluginManager:
    """The current app's plugin manager."""
    return current_app.extensions["jindou_plugins"]


def is_loaded(plugin: str) -> bool:
    return plugin in manager().meta


def require_enabled(org: Organization, plugin: str) -> None:
    """For services: 404 (as the routes answer) unless ``plugin`` is on at ``org``."""
    if not manager().is_enabled(org, plugin):
        from core.api import NotFound

        raise NotFound("这里没有开通该功能", code="plugin_off")


def switch_summary(path: Any) -> Any:
    """The plugin switches of every ancestor-or-self of the organization whose
    ``path`` column the caller's statement holds, as one string column
    (``org:plugin:1,...``) for :meth:`PluginManager.remember_states`: a hot path
    reads them in its own statement instead of a query of their own."""
    item = (
        cast(OrgPlugin.org_id, String)
        + ":"
        + OrgPlugin.plugin
        + case((OrgPlugin.enabled, ":1"), else_=":0")
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # The ids on the path as an array: the switches are found by their index.
        ancestors = cast(func.string_to_array(func.btrim(path, "/"), "/"), ARRAY(Integer))
        on_path = OrgPlugin.org_id == any_(ancestors)
    else:
        on_path = path.contains("/" + cast(OrgPlugin.org_id, String) + "/")
    return select(func.aggregate_strings(item, ",")).where(on_path).scalar_subquery()


def orgs_where_enabled(plugin: str):
    """A select of the ids of every organization where ``plugin`` is on, for
    set-based jobs: the nearest ancestor-or-self switch decides, in SQL."""
    switch = aliased(OrgPlugin)
    switched_org = aliased(Organization)
    # The deepest switch on the path of each organization: its path is the longest prefix.
    nearest = (
        select(switch.enabled)
        .join(switched_org, switched_org.id == switch.org_id)
        .where(
            switch.plugin == plugin, Organization.path.startswith(switched_org.path)
        )  # paths: digits and slashes
        .order_by(func.length(switched_org.path).desc())
        .limit(1)
        .correlate(Organization)
        .scalar_subquery()
    )
    return select(Organization.id).where(nearest.is_(True))


def plugin_blueprint(import_name: str, name: str | None = None) -> Blueprint:
    """The blueprint of a plugin, made in its ``views.py`` with ``__name__``:
    named after the plugin's package (or ``name``), with the package's
    ``templates/``, its ``static/`` at ``/static/<name>/`` and its CLI group
    ``jindou <name> ...`` (add jobs with ``@bp.cli.command``)."""
    root = Path(sys.modules[import_name].__file__ or ".").parent
    package = import_name.rpartition(".")[0] or import_name
    name = name or package.rpartition(".")[2]
    return Blueprint(
        name,
        import_name,
        root_path=str(root),
        template_folder="templates",
        static_folder="static" if (root / "static").is_dir() else None,
        static_url_path=f"/static/{name}",
        cli_group=name,
    )


def load_plugins(app: Flask, modules: Iterable[object] | None = None) -> PluginManager:
    """Load the plugins named by ``JINDOU_PLUGINS`` (default: all installed),
    or exactly ``modules`` when given (tests pass their own)."""
    manager = PluginManager()
    if modules is None:
        installed = discover()
        wanted = app.config.get("JINDOU_PLUGINS")
        if wanted is None:
            wanted = list(installed)
        unknown = [n for n in wanted if n not in installed]
        if unknown:
            raise PluginError(f"unknown plugin(s) in JINDOU_PLUGINS: {', '.join(unknown)}")
        modules = [installed[n]() for n in wanted]
    manager.load(modules)
    app.extensions["jindou_plugins"] = manager
    for name, bps in manager.call_each("blueprints"):
        for bp in bps or ():  # type: ignore[attr-defined]
            if bp.name != name:
                raise PluginError(
                    f"plugin {name} registers blueprint {bp.name!r}; name it {name!r}"
                )
            app.register_blueprint(bp)
    _refuse_route_collisions(app)
    for _name, commands in manager.call_each("cli_commands"):
        for command in commands or ():  # type: ignore[attr-defined]
            app.cli.add_command(command)
    app.before_request(manager.enforce)
    return manager


def _rule_key(rule) -> tuple[str, frozenset]:
    # /orgs/<int:org_id>/x and /orgs/<int:id>/x collide: compare the shape only.
    return re.sub(r"<[^>]+>", "<>", rule.rule), frozenset(rule.methods or ()) - {"HEAD", "OPTIONS"}


def _refuse_route_collisions(app: Flask) -> None:
    """Two plugins (or a plugin and core) answering the same URL and method
    would shadow each other silently; refuse to start instead."""
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        owner = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else "core"
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        shape, methods = _rule_key(rule)
        for method in methods:
            other = seen.setdefault((shape, method), owner)
            if other != owner:
                raise PluginError(f"route {method} {rule.rule} of {owner} collides with {other}")
