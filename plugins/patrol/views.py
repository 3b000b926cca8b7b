"""治安巡逻 HTTP API (/api/v1, API.md "Patrols"), thin over services.

Scanning a checkpoint is core's ``POST /api/v1/scan`` (and ``/c/<token>``),
which hands patrol tokens to this plugin's ``scan_token`` hook.
"""

from __future__ import annotations

from flask import Response, jsonify, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from core import qr
from core.access import get_org, require_role
from core.api import NotFound, doc, load, paginate
from core.extensions import db
from core.models import Role
from core.plugins import plugin_blueprint
from plugins.patrol import services
from plugins.patrol.models import Checkpoint, Incident, Route, Shift
from plugins.patrol.schemas import (
    ClosingSchema,
    IncidentCreateSchema,
    IncidentListQuerySchema,
    IncidentSchema,
    ResolveSchema,
    RouteCreateSchema,
    RouteSchema,
    ShiftCreateSchema,
    ShiftListQuerySchema,
    ShiftSchema,
)

bp = plugin_blueprint(__name__)


def route_dict(route: Route) -> dict:
    points = []
    for c in services.checkpoints_of(route.id):
        token = services.checkpoint_token(c)
        points.append(
            {
                "id": c.id,
                "name": c.name,
                "position": c.position,
                "lat": c.lat,
                "lng": c.lng,
                "token": token,
                "url": qr.scan_url(token),
            }
        )
    return RouteSchema().dump(
        {"id": route.id, "org_id": route.org_id, "name": route.name, "checkpoints": points}
    )


def shift_dict(shift: Shift) -> dict:
    """A shift as the API shows it."""
    return shift_dicts([shift])[0]


def _dump_shift(shift: Shift, team: list, checkpoints: list[dict]) -> dict:
    return ShiftSchema().dump(
        {
            **{
                c: getattr(shift, c)
                for c in (
                    "id",
                    "org_id",
                    "route_id",
                    "starts_at",
                    "ends_at",
                    "grace_minutes",
                    "points",
                    "minutes",
                )
            },
            "route_name": shift.route.name,
            "status": services.status_of(shift),
            "team": [{"user_id": u.id, "name": u.name} for u in team],
            "checkpoints": checkpoints,
        }
    )


def shift_dicts(shifts: list[Shift]) -> list[dict]:
    """A page of shifts: routes, teams and checkpoint progress in a few queries."""
    ids = [s.id for s in shifts]
    routes = {
        r.id: r
        for r in db.session.scalars(select(Route).where(Route.id.in_({s.route_id for s in shifts})))
    }
    for shift in shifts:
        set_committed_value(shift, "route", routes[shift.route_id])
    teams = services.teams_of(ids)
    progress = services.progress_many(shifts)
    return [_dump_shift(s, teams[s.id], progress[s.id]) for s in shifts]


def incident_dict(incident: Incident) -> dict:
    photo_url = (
        url_for("patrol.incident_photo", incident_id=incident.id) if incident.has_photo else None
    )
    return IncidentSchema().dump(
        {
            **{
                c: getattr(incident, c)
                for c in (
                    "id",
                    "org_id",
                    "shift_id",
                    "checkpoint_id",
                    "user_id",
                    "kind",
                    "text",
                    "has_photo",
                    "status",
                    "note",
                    "created_at",
                    "resolved_at",
                )
            },
            "photo_url": photo_url,
        }
    )


# -- routes and codes -------------------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/patrol/routes")
@login_required
@doc(body=RouteCreateSchema, response=RouteSchema, status=201)
def api_create_route(org_id):
    """A route with its checkpoints in walking order (staff)."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    data = load(RouteCreateSchema())
    route = services.create_route(current_user, org, **data)
    db.session.commit()
    return jsonify(route_dict(route)), 201


@bp.get("/api/v1/patrol/routes/<int:route_id>")
@login_required
@doc(response=RouteSchema)
def api_get_route(route_id):
    """A route with its checkpoints and their codes (staff)."""
    return jsonify(route_dict(services.staff_route(current_user, route_id)))


def _staff_checkpoint(checkpoint_id: int) -> Checkpoint:
    checkpoint = db.session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise NotFound("未找到该巡逻点")
    services.staff_route(current_user, checkpoint.route_id)
    return checkpoint


@bp.get("/api/v1/checkpoints/<int:checkpoint_id>/code.svg")
@login_required
def api_checkpoint_svg(checkpoint_id):
    """The printable static code of a checkpoint (staff)."""
    checkpoint = _staff_checkpoint(checkpoint_id)
    return Response(
        qr.svg(qr.scan_url(services.checkpoint_token(checkpoint))), mimetype="image/svg+xml"
    )


# -- shifts -----------------------------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/patrol/shifts")
@login_required
@doc(body=ShiftCreateSchema, response=ShiftSchema, status=201)
def api_create_shift(org_id):
    """Schedule a team on a route (staff); the team are people of this organization."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    shift = services.create_shift(current_user, org, **load(ShiftCreateSchema()))
    db.session.commit()
    return jsonify(shift_dict(shift)), 201


@bp.get("/api/v1/orgs/<int:org_id>/patrol/shifts")
@login_required
@doc(query=ShiftListQuerySchema, response=ShiftSchema, many=True)
def api_list_shifts(org_id):
    """Shifts of this organization and below, soonest first (staff or a patrol leader)."""
    org = get_org(org_id)
    if not services.may_manage(current_user, org):
        require_role(current_user, org, Role.staff)
    status = load(ShiftListQuerySchema(), request.args.to_dict())["status"]
    return paginate(
        services.shifts_query(org, status),
        [Shift.starts_at, Shift.id],
        shift_dict,
        dump_page=shift_dicts,
    )


@bp.get("/api/v1/shifts/<int:shift_id>")
@login_required
@doc(response=ShiftSchema)
def api_get_shift(shift_id):
    """A shift with its team and each checkpoint's scan (the team, staff, leaders)."""
    return jsonify(shift_dict(services.visible_shift(current_user, shift_id)))


@bp.post("/api/v1/shifts/<int:shift_id>/close")
@login_required
@doc(response=ClosingSchema)
def api_close_shift(shift_id):
    """Close: completed when every checkpoint was scanned, else incomplete; again: the same."""
    closing = services.close_shift(current_user, shift_id)
    return jsonify(ClosingSchema().dump(closing.__dict__))


# -- incidents --------------------------------------------------------------------------------


@bp.post("/api/v1/shifts/<int:shift_id>/incidents")
@login_required
@doc(body=IncidentCreateSchema, response=IncidentSchema, status=201)
def api_report_incident(shift_id):
    """A team member reports an incident, optionally with a base64 JPEG/PNG photo."""
    data = load(IncidentCreateSchema())
    services.visible_shift(current_user, shift_id)  # 404 before decoding anything
    photo = data.pop("photo")
    raw = services.decode_photo(photo) if photo else None
    incident = services.report_incident(current_user, shift_id, photo=raw, **data)
    db.session.commit()
    return jsonify(incident_dict(incident)), 201


@bp.get("/api/v1/orgs/<int:org_id>/patrol/incidents")
@login_required
@doc(query=IncidentListQuerySchema, response=IncidentSchema, many=True)
def api_list_incidents(org_id):
    """Incidents of this organization and below, newest first (staff)."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    status = load(IncidentListQuerySchema(), request.args.to_dict())["status"]
    return paginate(
        services.incidents_query(org, status), [Incident.id], incident_dict, descending=True
    )


@bp.post("/api/v1/incidents/<int:incident_id>/resolve")
@login_required
@doc(body=ResolveSchema, response=IncidentSchema)
def api_resolve_incident(incident_id):
    """Staff resolve an incident with a note."""
    data = load(ResolveSchema())
    incident = services.resolve_incident(current_user, incident_id, **data)
    db.session.commit()
    return jsonify(incident_dict(incident))


@bp.get("/patrol/incidents/<int:incident_id>/photo.jpg")
@login_required
def incident_photo(incident_id):
    """The incident's photo (the reporter, staff)."""
    incident = services.visible_incident(current_user, incident_id)
    if not incident.has_photo:
        raise NotFound("没有照片")
    return Response(
        incident.photo, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )
