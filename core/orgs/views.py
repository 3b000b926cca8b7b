"""Organizations: /api/v1 (tree, members, plugin switches) and the pages
(home, an organization, the plugin matrix)."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from core import settings
from core.access import effective_role, get_org, get_visible_org, has_role, require_role
from core.api import (
    BadRequest,
    NotFound,
    arg_id,
    cursor_arg,
    doc,
    encode_cursor,
    json_body,
    limit_arg,
    load,
    month_arg,
)
from core.auth.services import memberships_of
from core.extensions import db
from core.models import LEVEL_TITLES, ROLE_TITLES, Level, Organization, Role
from core.orgs import joining, services, tree
from core.orgs.schemas import (
    MemberCreateSchema,
    MemberSchema,
    OrgCreateSchema,
    OrgSchema,
    OrgSettingsSchema,
    PluginListSchema,
    PluginStateSchema,
    PluginSwitchSchema,
    SettingValuesSchema,
)
from core.pages import confirmed, form_action, message_of, safe_back
from core.people.services import dependants_of

bp = Blueprint("orgs", __name__)


def plugins():
    return current_app.extensions["jindou_plugins"]


def visible_org(org_id: int) -> Organization:
    return get_visible_org(current_user, org_id)


def role_titles() -> dict[str, str]:
    """Core roles and the loaded plugins' roles, code -> Chinese title."""
    return {**ROLE_TITLES, **plugins().role_titles}


def _state_dict(state) -> dict:
    return {
        "name": state.name,
        "title": plugins().meta[state.name].title,
        "enabled": state.enabled,
        "source_org_id": state.source_org_id,
    }


# -- API ------------------------------------------------------------------------


@bp.post("/api/v1/orgs")
@login_required
@doc(body=OrgCreateSchema, response=OrgSchema, status=201)
def api_create_org():
    """Create an organization one level below its parent (a district has none)."""
    org = services.create_org(current_user, **load(OrgCreateSchema()))
    db.session.commit()
    return OrgSchema().dump(org), 201


@bp.get("/api/v1/orgs/<int:org_id>")
@login_required
@doc(response=OrgSchema)
def api_get_org(org_id):
    """One organization."""
    return OrgSchema().dump(visible_org(org_id))


@bp.get("/api/v1/orgs/<int:org_id>/children")
@login_required
@doc(response=OrgSchema, many=True)
def api_children(org_id):
    """The organizations directly below this one."""
    org = visible_org(org_id)
    return jsonify({"items": OrgSchema(many=True).dump(services.children(org)), "next": None})


@bp.post("/api/v1/orgs/<int:org_id>/members")
@login_required
@doc(body=MemberCreateSchema, response=MemberSchema, status=201)
def api_add_member(org_id):
    """Give a registered person a role here: staff add residents, admins any role."""
    org = get_org(org_id)
    data = load(MemberCreateSchema())
    membership = services.add_member(current_user, org, **data)
    db.session.commit()
    return MemberSchema().dump(membership), 201


@bp.get("/api/v1/orgs/<int:org_id>/members")
@login_required
@doc(response=MemberSchema, many=True)
def api_members(org_id):
    """Members of this organization itself (staff or above); ``?q=`` finds a name
    or phone containing it; ``?limit=`` and ``?cursor=`` page through them."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    limit = limit_arg(50)
    after = cursor_arg([int])
    rows, more = services.member_page(
        org, request.args.get("q", ""), after[0] if after else None, limit
    )
    items = [
        {"user_id": u.id, "org_id": org.id, "role": m.role, "name": u.name, "phone": u.phone}
        for m, u in rows
    ]
    return jsonify(
        {
            "items": MemberSchema(many=True).dump(items),
            "next": encode_cursor([more]) if more else None,
        }
    )


@bp.delete("/api/v1/orgs/<int:org_id>/members/<int:user_id>")
@login_required
@doc(status=204)
def api_remove_member(org_id, user_id):
    """Remove a member (admin; staff for residents): every role they hold here, or
    only ``?role=``. Removing the last admin over an organization is 409 ``last_admin``."""
    services.remove_member(current_user, get_org(org_id), user_id, request.args.get("role"))
    db.session.commit()
    return "", 204


@bp.get("/api/v1/orgs/<int:org_id>/plugins")
@login_required
@doc(response=PluginListSchema)
def api_plugins(org_id):
    """Every loaded plugin's effective state here, and where it is set."""
    org = visible_org(org_id)
    items = [_state_dict(s) for s in plugins().states(org).values()]
    return PluginListSchema().dump({"items": items})


@bp.put("/api/v1/orgs/<int:org_id>/plugins/<name>")
@login_required
@doc(body=PluginSwitchSchema, response=PluginStateSchema)
def api_set_plugin(org_id, name):
    """Switch a plugin on or off here and below (admin of this organization or above)."""
    org = get_org(org_id)
    if name not in plugins().meta:
        raise NotFound("没有这个插件", code="unknown_plugin")
    data = load(PluginSwitchSchema())
    state = services.set_plugin(current_user, plugins(), org, name, data["enabled"])
    db.session.commit()
    return {"name": state.name, "enabled": state.enabled, "source_org_id": state.source_org_id}


@bp.delete("/api/v1/orgs/<int:org_id>/plugins/<name>")
@login_required
@doc(status=204)
def api_inherit_plugin(org_id, name):
    """Remove this organization's own switch: it inherits again."""
    services.set_plugin(current_user, plugins(), get_org(org_id), name, None)
    db.session.commit()
    return "", 204


def _settings_answer(org: Organization, plugin: str) -> dict:
    return {"settings": settings.effective(org, plugin), "sources": settings.sources(org, plugin)}


@bp.get("/api/v1/orgs/<int:org_id>/settings/<plugin>")
@login_required
@doc(response=OrgSettingsSchema)
def api_settings(org_id, plugin):
    """A plugin's settings in force here and where each comes from (null: its default).
    Readable whether or not the plugin is switched on here."""
    org = visible_org(org_id)
    settings.specs(plugin)
    return _settings_answer(org, plugin)


@bp.put("/api/v1/orgs/<int:org_id>/settings/<plugin>")
@login_required
@doc(body=SettingValuesSchema, response=OrgSettingsSchema)
def api_put_settings(org_id, plugin):
    """Set some of a plugin's settings here (admin of this organization or above);
    they apply below too unless set there. Allowed while the plugin is off."""
    org = get_org(org_id)
    settings.specs(plugin)
    settings.put(current_user, org, plugin, json_body())
    db.session.commit()
    return _settings_answer(org, plugin)


@bp.delete("/api/v1/orgs/<int:org_id>/settings/<plugin>/<name>")
@login_required
@doc(status=204)
def api_clear_setting(org_id, plugin, name):
    """Remove this organization's own value of a setting: it inherits again (admin)."""
    settings.clear(current_user, get_org(org_id), plugin, name)
    db.session.commit()
    return "", 204


# -- pages ------------------------------------------------------------------------


@bp.get("/")
@login_required
def home():
    rows = memberships_of(current_user)
    org = None
    if arg_id("org"):
        org = visible_org(arg_id("org"))
    elif rows:
        org = rows[0][1]
    cards = []
    if org is not None:
        for answer in plugins().for_org(org, "dashboard_cards")(user=current_user, org=org):
            cards.extend(answer or ())
    districts = []
    if current_user.is_platform_admin:
        districts = db.session.scalars(
            db.select(Organization)
            .where(Organization.level == Level.district.value)
            .order_by(Organization.name)
        ).all()
    return render_template(
        "orgs/home.html",
        memberships=rows,
        org=org,
        cards=cards,
        role_titles=role_titles(),
        districts=districts,
        has_family=bool(dependants_of(current_user)),
        waiting=joining.my_pending(current_user),
    )


@bp.post("/orgs/districts")
@login_required
def add_district():
    """Platform administrators create districts from the home page."""
    form = {"name": request.form.get("name", ""), "level": "district", "parent_id": None}
    try:
        org = services.create_org(current_user, **OrgCreateSchema().load(form))
        db.session.commit()
    except ValidationError as err:
        flash(message_of(err, FORM_TITLES), "error")
        return redirect(url_for("orgs.home"))
    flash(_("Organization created"))
    return redirect(url_for("orgs.org_page", org_id=org.id))


@bp.get("/orgs/<int:org_id>")
@login_required
def org_page(org_id):
    org = visible_org(org_id)
    role = effective_role(current_user, org)
    is_staff = has_role(current_user, org, Role.staff)
    only = None
    if role is None and not current_user.is_platform_admin:
        # A resident looking at an organization above them sees only the branch
        # that leads to their own: siblings' pages would answer 404 anyway.
        only = tree.branches_towards(current_user, org)
    children, more_children = tree.children_page(org, arg_id("children_after"), only=only)
    q = request.args.get("q", "").strip()[:50]
    members, more = services.member_page(org, q, arg_id("after")) if is_staff else ([], None)
    grantable = services.grantable_roles(current_user, org) if is_staff else []
    return render_template(
        "orgs/org.html",
        org=org,
        role=role,
        ancestors=tree.ancestors(org),
        children=children,
        # what each child holds one level further down: cheap at any size
        below=tree.child_counts([c.id for c in children]),
        grandchild_title=_level_title(Level(org.level).child, 2),
        more_children=more_children,
        members=members,
        more=more,
        q=q,
        grantable=grantable,
        pending=joining.pending_count(org) if is_staff else 0,
        is_staff=is_staff,
        is_admin=has_role(current_user, org, Role.admin),
        states=plugins().states(org),
        meta=plugins().meta,
        child_level=Level(org.level).child,
        level_titles=LEVEL_TITLES,
        role_titles=role_titles(),
    )


def _level_title(level: Level | None, down: int) -> str:
    """The Chinese name of the level ``down`` steps below ``level`` ("" if none)."""
    for _step in range(down - 1):
        level = level.child if level else None
    return LEVEL_TITLES[level.value] if level else ""


def _form_action(org_id: int, action, success: str):
    """Core's page rule (core.pages.form_action): refusals flashed with the field
    named in Chinese, the typed values kept; back to the form's page."""
    back = safe_back(request.form.get("back"), url_for("orgs.org_page", org_id=org_id))
    return form_action(action, success, back, titles=FORM_TITLES)


FORM_TITLES = {"name": "名称", "parent_id": "上级组织", "level": "层级"}


@bp.post("/orgs/<int:org_id>/children")
@login_required
def add_child(org_id):
    org = get_org(org_id)
    child = Level(org.level).child
    form = {
        "name": request.form.get("name", ""),
        "level": child.value if child else "",
        "parent_id": org.id,
    }
    return _form_action(
        org_id,
        lambda: services.create_org(current_user, **OrgCreateSchema().load(form)),
        _("Organization created"),
    )


@bp.post("/orgs/<int:org_id>/members")
@login_required
def add_member(org_id):
    org = get_org(org_id)
    form = {"phone": request.form.get("phone", "").strip(), "role": request.form.get("role", "")}

    def action():
        try:
            services.add_member(current_user, org, **MemberCreateSchema().load(form))
        except NotFound as err:  # a phone nobody registered is a mistake in the form
            if err.code != "user_not_found":
                raise
            raise BadRequest(err.message, fields={"phone": [err.message]}) from err

    return _form_action(org_id, action, _("Member added"))


@bp.post("/orgs/<int:org_id>/members/<int:user_id>/remove")
@login_required
def remove_member(org_id, user_id):
    org = get_org(org_id)
    role = request.form.get("role") or None
    if not confirmed():  # the page's two-tap step (confirm_button) was skipped
        flash(_("Please confirm the removal"), "error")
        return redirect(
            safe_back(request.form.get("back"), url_for("orgs.org_page", org_id=org_id))
        )
    return _form_action(
        org_id,
        lambda: services.remove_member(current_user, org, user_id, role),
        _("Member removed"),
    )


@bp.post("/orgs/<int:org_id>/plugins/<name>")
@login_required
def switch_plugin(org_id, name):
    org = get_org(org_id)
    choice = {"on": True, "off": False, "inherit": None}.get(request.form.get("state"), "bad")
    if choice == "bad":
        abort(400)
    if choice is False and not confirmed():
        return redirect(
            url_for(
                "orgs.confirm_plugin_off", org_id=org_id, name=name, back=request.form.get("back")
            )
        )
    return _form_action(
        org_id,
        lambda: services.set_plugin(current_user, plugins(), org, name, choice),
        _("Plugin setting saved"),
    )


@bp.get("/orgs/<int:org_id>/plugins/<name>/off")
@login_required
def confirm_plugin_off(org_id, name):
    """The confirmation step before switching a plugin off: says how many
    organizations below follow this switch and would lose it too."""
    org = get_org(org_id)
    require_role(current_user, org, Role.admin)
    if name not in plugins().meta:
        abort(404)
    below = services.inheriting_below(org, name)
    title = plugins().meta[name].title
    return render_template(
        "confirm.html",
        title=_("Turn off %(plugin)s?", plugin=title),
        question=_("Turn off %(plugin)s at %(org)s?", plugin=title, org=org.name),
        detail=_(
            "%(count)d organizations below follow this switch and will lose it too. "
            "Nothing is deleted; switching it on again brings everything back.",
            count=below,
        ),
        action=url_for("orgs.switch_plugin", org_id=org.id, name=name),
        fields={
            "state": "off",
            "back": safe_back(
                request.args.get("back"), url_for("orgs.plugin_matrix", org_id=org_id)
            ),
        },
        confirm_label=_("Yes, turn it off"),
        cancel_url=safe_back(
            request.args.get("back"), url_for("orgs.plugin_matrix", org_id=org_id)
        ),
        count=below,
    )


@bp.get("/orgs/<int:org_id>/plugins")
@login_required
def plugin_matrix(org_id):
    """The plugin switches of one organization and its direct children, each
    child with what lies below it; a child's own page opens the next level."""
    org = get_org(org_id)
    require_role(current_user, org, Role.admin)
    lineage = tree.ancestors(org)
    reach = tree.admin_reach(current_user, org)
    return render_template(
        "orgs/matrix.html",
        org=org,
        level=tree.level_matrix(plugins(), org, arg_id("after")),
        lineage=lineage,
        admin_from=org.ancestor_ids.index(reach) if reach else len(lineage),
        # where an inherited switch comes from: this organization or one above
        from_names={o.id: _("from %(name)s", name=o.name) for o in [*lineage, org]},
        meta=plugins().meta,
    )


# -- monthly report: sections come from the plugins enabled here --------------------


def _report(org: Organization):
    require_role(current_user, org, Role.staff)
    first = month_arg()
    sections = [s for s in plugins().for_org(org, "org_report")(org=org, month=first) if s]
    return first, sections


@bp.get("/api/v1/orgs/<int:org_id>/report")
@login_required
@doc(summary="Monthly report: one section per plugin enabled here (staff)")
def api_report(org_id):
    first, sections = _report(get_org(org_id))
    return {
        "month": first.strftime("%Y-%m"),
        "sections": [
            {"title": s.title, "rows": [[label, value] for label, value in s.rows]}
            for s in sections
        ],
    }


@bp.get("/orgs/<int:org_id>/report")
@login_required
def report_page(org_id):
    org = get_org(org_id)
    first, sections = _report(org)
    return render_template("orgs/report.html", org=org, month=first, sections=sections)


# -- plugin settings page --------------------------------------------------------------


def _parse_setting(spec, raw: str | None):
    """A form field as the setting's type: a checkbox, a number or a text box."""
    if spec.type is bool:
        return raw is not None
    raw = (raw or "").strip()
    if raw == "" and (spec.nullable or spec.type is int):
        if not spec.nullable:
            raise BadRequest(f"{spec.title}：不能为空")
        return None
    if spec.type is int:
        if not re.fullmatch(r"-?\d{1,16}", raw):
            raise BadRequest(f"{spec.title}：必须是整数")
        return int(raw)
    return raw


def _changed_settings(org: Organization, plugin: str) -> dict:
    """The form's values that differ from what is in force here: saving the page
    must not pin the settings nobody touched (they keep inheriting)."""
    current = settings.effective(org, plugin)
    values = {}
    for spec in settings.specs(plugin).values():
        value = _parse_setting(spec, request.form.get(spec.name))
        problem = spec.check(value)
        if problem:
            raise BadRequest(f"{spec.title}：{problem}")
        if value != current[spec.name] or type(value) is not type(current[spec.name]):
            values[spec.name] = value
    return values


@bp.get("/orgs/<int:org_id>/settings/<plugin>")
@login_required
def settings_page(org_id, plugin):
    org = get_org(org_id)
    specs = settings.specs(plugin)
    require_role(current_user, org, Role.admin)
    names = dict(
        db.session.execute(
            db.select(Organization.id, Organization.name).where(
                Organization.id.in_(org.ancestor_ids)
            )
        ).all()
    )
    values, sources = settings.effective(org, plugin), settings.sources(org, plugin)
    rows = [(spec, values[name], sources[name]) for name, spec in specs.items()]
    return render_template(
        "orgs/settings.html",
        org=org,
        plugin=plugin,
        meta=plugins().meta[plugin],
        rows=rows,
        names=names,
        enabled=plugins().is_enabled(org, plugin),
    )


@bp.post("/orgs/<int:org_id>/settings/<plugin>")
@login_required
def save_settings(org_id, plugin):
    org = get_org(org_id)
    settings.specs(plugin)
    return _form_action(
        org_id,
        lambda: settings.put(current_user, org, plugin, _changed_settings(org, plugin)),
        _("Settings saved"),
    )


@bp.post("/orgs/<int:org_id>/settings/<plugin>/<name>/inherit")
@login_required
def inherit_setting(org_id, plugin, name):
    org = get_org(org_id)
    return _form_action(
        org_id,
        lambda: settings.clear(current_user, org, plugin, name),
        _("The setting inherits again"),
    )
