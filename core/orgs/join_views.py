"""Joining: /api/v1 join requests, the resident's building picker and the
staff pages (pending requests, a building's printable join code)."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import qr
from core.access import get_org, require_role
from core.api import BadRequest, arg_id, cursor_arg, doc, encode_cursor, limit_arg
from core.extensions import db
from core.models import LEVEL_TITLES, Level, Organization, Role
from core.orgs import joining
from core.orgs.schemas import JoinChoiceSchema, JoinRequestSchema, PendingJoinSchema
from core.pages import form_action, safe_back

bp = Blueprint("join", __name__)


def _pending_dict(req, user, org) -> dict:
    return {
        "id": req.id,
        "status": req.status,
        "user_id": req.user_id,
        "org_id": req.org_id,
        "created_at": req.created_at,
        "name": user.name,
        "phone": user.phone,
        "org_name": org.name,
    }


# -- API ------------------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/join-requests")
@login_required
@doc(response=JoinRequestSchema, status=201)
def api_ask(org_id):
    """Ask to become a resident here (any logged-in person); asking again answers
    the pending request with 200; 409 ``already_member``."""
    req, created = joining.ask_to_join(current_user, get_org(org_id))
    db.session.commit()
    return JoinRequestSchema().dump(req), 201 if created else 200


@bp.get("/api/v1/orgs/<int:org_id>/join-requests")
@login_required
@doc(response=PendingJoinSchema, many=True)
def api_pending(org_id):
    """Pending requests of this organization and below (staff), oldest first."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    limit, after = limit_arg(50), cursor_arg([int])
    rows, more = joining.pending_page(org, after[0] if after else None, limit)
    return jsonify(
        {
            "items": PendingJoinSchema(many=True).dump([_pending_dict(*r) for r in rows]),
            "next": encode_cursor([more]) if more else None,
        }
    )


@bp.post("/api/v1/join-requests/<int:request_id>/approve")
@login_required
@doc(response=JoinRequestSchema)
def api_approve(request_id):
    """Approve (staff over it): the person becomes a resident there."""
    req = joining.approve(current_user, request_id)
    db.session.commit()
    return JoinRequestSchema().dump(req)


@bp.post("/api/v1/join-requests/<int:request_id>/reject")
@login_required
@doc(response=JoinRequestSchema)
def api_reject(request_id):
    """Reject (staff over it); the person may ask again."""
    req = joining.reject(current_user, request_id)
    db.session.commit()
    return JoinRequestSchema().dump(req)


@bp.get("/api/v1/join-choices")
@login_required
@doc(response=JoinChoiceSchema, many=True)
def api_choices():
    """What a person picks from to find their building: the districts, or the
    organizations directly below ``?parent_id=``."""
    parent = None
    if request.args.get("parent_id"):
        if arg_id("parent_id") is None:
            raise BadRequest("parent_id 必须是组织编号", fields={"parent_id": ["必须是整数"]})
        parent = get_org(arg_id("parent_id"))
    items = JoinChoiceSchema(many=True).dump(joining.choices(parent))
    return jsonify({"items": items, "next": None})


# -- the resident's pages -------------------------------------------------------------


@bp.get("/join")
@login_required
def pick_start():
    """Start of the picker: the districts (straight to the only one, if so)."""
    districts = joining.choices(None)
    if len(districts) == 1:
        return redirect(url_for("join.pick", org_id=districts[0].id))
    return render_template(
        "orgs/join_pick.html",
        org=None,
        lineage=[],
        choices=districts,
        child_title=LEVEL_TITLES["district"],
        can_join=False,
    )


@bp.get("/join/<int:org_id>")
@login_required
def pick(org_id):
    """One level of the picker: the places below, big buttons; below a district,
    a button to ask to join this place."""
    org = get_org(org_id)
    child = Level(org.level).child
    return render_template(
        "orgs/join_pick.html",
        org=org,
        lineage=joining.lineage(org),
        choices=joining.choices(org),
        child_title=LEVEL_TITLES[child.value] if child else "",
        can_join=org.level != Level.district.value,
        via_qr=request.args.get("via") == "qr",
    )


@bp.post("/join/<int:org_id>")
@login_required
def ask(org_id):
    org = get_org(org_id)
    return form_action(
        lambda: joining.ask_to_join(current_user, org),
        _("Request sent. Staff of %(name)s will confirm it.", name=org.name),
        url_for("orgs.home"),
    )


# -- staff pages ----------------------------------------------------------------------


@bp.get("/orgs/<int:org_id>/join-requests")
@login_required
def pending_page(org_id):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    rows, more = joining.pending_page(org, arg_id("after"))
    return render_template("orgs/join_requests.html", org=org, rows=rows, more=more)


def _decide(request_id: int, action, success: str):
    back = safe_back(request.form.get("back"), url_for("orgs.home"))
    return form_action(lambda: action(current_user, request_id), success, back)


@bp.post("/join-requests/<int:request_id>/approve")
@login_required
def approve(request_id):
    return _decide(request_id, joining.approve, _("Approved: now a resident"))


@bp.post("/join-requests/<int:request_id>/reject")
@login_required
def reject(request_id):
    return _decide(request_id, joining.reject, _("Request rejected"))


@bp.get("/orgs/<int:org_id>/join-code")
@login_required
def join_code(org_id):
    """A printable join code for this place (staff): scanning it opens the join page."""
    org: Organization = get_org(org_id)
    require_role(current_user, org, Role.staff)
    url = qr.scan_url(qr.join_token(org.id))
    return render_template(
        "orgs/join_code.html", org=org, svg=qr.svg(url), url=url, lineage=joining.lineage(org)
    )
