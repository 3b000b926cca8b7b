"""Plugins' per-organization settings, stored by core in ``org_setting``.

A plugin declares its settings (``SettingSpec``) in its ``PluginMeta``; the
value in force at an organization is the nearest ancestor-or-self's row, else
the declared default. All of a plugin's settings at an organization come from
one query over the materialized path, cached for the request.

Settings are readable and writable whether or not the plugin is switched on
at the organization, so an admin can prepare them before switching it on.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.access import require_role
from core.api import BadRequest, Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, OrgSetting, Role, User
from core.plugins import SettingSpec

_CACHE = "_jindou_settings"


def specs(plugin: str) -> dict[str, SettingSpec]:
    """The settings ``plugin`` declares, by name; 404 for a plugin not loaded."""
    meta = current_app.extensions["jindou_plugins"].meta.get(plugin)
    if meta is None:
        raise NotFound("没有这个插件", code="unknown_plugin")
    return {spec.name: spec for spec in meta.settings}


def _resolved(org: Organization, plugin: str) -> dict[str, tuple[object, int | None]]:
    """name -> (effective value, org id it comes from or None for the default)."""
    cache = g.setdefault(_CACHE, {}) if has_request_context() else {}
    key = (org.id, plugin)
    if key in cache:
        return cache[key]
    declared = specs(plugin)
    ancestors = org.ancestor_ids
    depth = {org_id: i for i, org_id in enumerate(ancestors)}
    rows = db.session.execute(
        select(OrgSetting.org_id, OrgSetting.name, OrgSetting.value).where(
            OrgSetting.plugin == plugin, OrgSetting.org_id.in_(ancestors)
        )
    ).all()
    nearest: dict[str, tuple[object, int]] = {}
    for org_id, name, value in rows:
        if name in declared and (name not in nearest or depth[org_id] > depth[nearest[name][1]]):
            nearest[name] = (value, org_id)
    result: dict[str, tuple[object, int | None]] = {
        name: nearest.get(name, (spec.default, None)) for name, spec in declared.items()
    }
    cache[key] = result
    return result


def effective(org: Organization, plugin: str) -> dict[str, object]:
    """Every declared setting of ``plugin`` as in force at ``org``."""
    return {name: value for name, (value, _source) in _resolved(org, plugin).items()}


def sources(org: Organization, plugin: str) -> dict[str, int | None]:
    """Where each setting's value comes from: an organization id, or None (the default)."""
    return {name: source for name, (_value, source) in _resolved(org, plugin).items()}


def get(org: Organization, plugin: str, name: str):
    """One setting's value at ``org``; KeyError for a name the plugin does not declare."""
    return _resolved(org, plugin)[name][0]


def forget_cache() -> None:
    if has_request_context():
        g.pop(_CACHE, None)


def validate(plugin: str, values: dict) -> dict[str, object]:
    """``values`` checked against the plugin's specs; 400 naming every bad field."""
    declared = specs(plugin)
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        spec = declared.get(name)
        problem = "没有这个设置项" if spec is None else spec.check(value)
        if problem:
            errors[str(name)] = [problem]
    if errors:
        raise BadRequest("设置有误", fields=errors)
    return values


def put(actor: User, org: Organization, plugin: str, values: dict) -> dict[str, object]:
    """Set ``values`` at ``org`` (admin of it or above); one audit row per change.
    Answers the effective settings afterwards."""
    specs(plugin)
    require_role(actor, org, Role.admin)
    validate(plugin, values)
    own = {
        row.name: row
        for row in db.session.scalars(
            select(OrgSetting).where(
                OrgSetting.org_id == org.id,
                OrgSetting.plugin == plugin,
                OrgSetting.name.in_(values),
            )
        )
    }
    for name, value in values.items():
        row = own.get(name)
        if row is not None and row.value == value and type(row.value) is type(value):
            continue  # unchanged: no write, no audit row
        audit(
            "setting.set",
            actor=actor,
            org=org,
            plugin=plugin,
            name=name,
            before=None if row is None else row.value,
            had_own=row is not None,
            after=value,
        )
        if row is None:
            db.session.add(
                OrgSetting(
                    org_id=org.id, plugin=plugin, name=name, value=value, updated_by_id=actor.id
                )
            )
        else:
            row.value, row.updated_by_id = value, actor.id
    try:
        db.session.flush()
    except IntegrityError as err:  # someone set the same setting at the same moment
        db.session.rollback()
        raise Conflict("设置已被他人修改，请重试", code="write_conflict") from err
    forget_cache()
    return effective(org, plugin)


def clear(actor: User, org: Organization, plugin: str, name: str) -> None:
    """Remove ``org``'s own value of ``name``: it inherits again. Audited when
    there was one; 404 for a name the plugin does not declare."""
    if name not in specs(plugin):
        raise NotFound("没有这个设置项", code="unknown_setting")
    require_role(actor, org, Role.admin)
    row = db.session.get(OrgSetting, (org.id, plugin, name))
    if row is not None:
        audit("setting.clear", actor=actor, org=org, plugin=plugin, name=name, before=row.value)
        db.session.execute(
            delete(OrgSetting).where(
                OrgSetting.org_id == org.id, OrgSetting.plugin == plugin, OrgSetting.name == name
            )
        )
        db.session.flush()
    forget_cache()
