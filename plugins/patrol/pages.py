"""治安巡逻 pages (Chinese, phone first, big targets), on the blueprint of views.py.

Refusals follow core's one rule (core.pages): 404s and plain 403s are error
pages, the rest are flashed and the form comes back as typed.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select

from core import photos, qr
from core.access import get_org, get_visible_org, has_role, require_role, subtree_ids
from core.api import ApiError
from core.extensions import db
from core.models import Membership, Role, User, utcnow
from core.pages import form_action, form_fields, form_ints, message_of, shows_error_page
from core.people.services import mask_phone
from core.times import local_input, local_today, parse_day, start_of_day, to_local
from plugins.patrol import services
from plugins.patrol.models import KIND_TITLES, STATUS_TITLES, Incident, Shift
from plugins.patrol.schemas import (
    CheckpointInSchema,
    IncidentCreateSchema,
    ResolveSchema,
    RouteCreateSchema,
    ShiftCreateSchema,
)
from plugins.patrol.views import bp

TITLES = {
    "route_id": "路线",
    "team": "队员",
    "grace_minutes": "宽限分钟",
    "points": "完成奖励金豆",
    "checkpoints": "巡逻点",
    "kind": "类别",
    "text": "情况说明",
    "photo": "照片",
    "checkpoint_id": "巡逻点",
    "note": "处理结果",
    "name": "名称",
}


def _shift_view(shift: Shift, walk: list[dict] | None = None) -> dict:
    walk = services.progress(shift) if walk is None else walk
    return {
        "shift": shift,
        "status": services.status_of(shift),
        "walk": walk,
        "scanned": sum(1 for p in walk if p["scanned_at"]),
        "missed": [p for p in walk if p["scanned_at"] is None],
    }


def _shift_views(shifts) -> list[dict]:
    walks = services.progress_many(list(shifts))  # two queries, not two per shift
    return [_shift_view(s, walks[s.id]) for s in shifts]


# -- the community's page -----------------------------------------------------------------


@bp.get("/patrol/orgs/<int:org_id>/")
@login_required
def index_page(org_id):
    """Routes, shifts on now and coming, closed shifts with missed checkpoints flagged."""
    org = get_visible_org(current_user, org_id)
    is_staff = has_role(current_user, org, Role.staff)
    now = utcnow()
    upcoming = db.session.scalars(
        services.shifts_query(org)
        .where(Shift.status == "scheduled")
        .order_by(Shift.starts_at)
        .limit(20)
    ).all()
    closed = db.session.scalars(
        services.shifts_query(org)
        .where(Shift.status != "scheduled", Shift.ends_at > now - timedelta(days=14))
        .order_by(Shift.ends_at.desc())
        .limit(20)
    ).all()
    open_incidents = (
        db.session.query(Incident)
        .filter(Incident.org_id.in_(subtree_ids(org)), Incident.status == "open")
        .count()
        if is_staff
        else 0
    )
    return render_template(
        "patrol/index.html",
        org=org,
        is_staff=is_staff,
        routes=services.routes_of(org),
        upcoming=_shift_views(upcoming),
        closed=_shift_views(closed),
        open_incidents=open_incidents,
        titles=STATUS_TITLES,
    )


# -- routes ---------------------------------------------------------------------------------


@bp.route("/patrol/orgs/<int:org_id>/routes/new", methods=["GET", "POST"])
@login_required
def new_route(org_id):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    if request.method == "POST":
        data = form_fields("name", "checkpoints")
        names = [line.strip() for line in data["checkpoints"].splitlines() if line.strip()]
        try:
            route = services.create_route(
                current_user,
                org,
                **RouteCreateSchema().load(
                    {"name": data["name"], "checkpoints": [{"name": n} for n in names]}
                ),
            )
            db.session.commit()
            flash("路线已创建，请打印巡逻点码张贴到位")
            return redirect(url_for(".route_page", route_id=route.id))
        except (ValidationError, ApiError) as err:
            db.session.rollback()
            if shows_error_page(err):
                raise
            flash(message_of(err, TITLES), "error")  # and the form again, as typed
    return render_template("patrol/route_new.html", org=org, form=request.form)


@bp.get("/patrol/routes/<int:route_id>")
@login_required
def route_page(route_id):
    route = services.staff_route(current_user, route_id)
    return render_template(
        "patrol/route.html", route=route, checkpoints=services.checkpoints_of(route.id)
    )


@bp.post("/patrol/routes/<int:route_id>/checkpoints")
@login_required
def add_checkpoint(route_id):
    def action():
        services.add_checkpoint(
            current_user, route_id, **CheckpointInSchema().load(form_fields("name"))
        )

    return form_action(
        action, "巡逻点已添加", url_for(".route_page", route_id=route_id), titles=TITLES
    )


@bp.post("/patrol/checkpoints/<int:checkpoint_id>/move")
@login_required
def move_checkpoint(checkpoint_id):
    from plugins.patrol.models import Checkpoint

    checkpoint = db.session.get(Checkpoint, checkpoint_id)
    back = url_for(".route_page", route_id=checkpoint.route_id) if checkpoint else "/"
    step = -1 if request.form.get("step") == "up" else 1
    return form_action(
        lambda: services.move_checkpoint(current_user, checkpoint_id, step), "顺序已调整", back
    )


@bp.get("/patrol/routes/<int:route_id>/print")
@login_required
def print_route(route_id):
    """One A6 card per checkpoint (four to an A4 sheet): its name and its code."""
    route = services.staff_route(current_user, route_id)
    cards = [
        {"checkpoint": c, "svg": qr.svg(qr.scan_url(services.checkpoint_token(c)))}
        for c in services.checkpoints_of(route.id)
    ]
    return render_template("patrol/print.html", route=route, cards=cards)


# -- shifts ---------------------------------------------------------------------------------


def _people_of(org) -> list[tuple[User, str]]:
    users = db.session.scalars(
        select(User)
        .where(
            User.id.in_(select(Membership.user_id).where(Membership.org_id.in_(subtree_ids(org))))
        )
        .order_by(User.name, User.id)
        .limit(300)
    )
    return [(u, mask_phone(u.phone) or "") for u in users]


@bp.route("/patrol/orgs/<int:org_id>/shifts/new", methods=["GET", "POST"])
@login_required
def new_shift(org_id):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    if request.method == "GET":
        return render_template(
            "patrol/shift_new.html",
            org=org,
            routes=services.routes_of(org),
            people=_people_of(org),
            route_id=request.args.get("route_id"),
        )

    def action():
        data = form_fields("route_id", "starts_at", "ends_at", "points", "grace_minutes")
        data = {k: v for k, v in data.items() if v != ""}
        for key in ("starts_at", "ends_at"):
            if key in data:
                data[key] = local_input(data[key])
        form_ints(data, "route_id", "points", "grace_minutes")
        team = [int(v) for v in request.form.getlist("team") if v.isascii() and v.isdigit()]
        loaded = ShiftCreateSchema().load({**data, "team": team})
        services.create_shift(current_user, org, **loaded)

    return form_action(action, "班次已排好", url_for(".roster", org_id=org.id), titles=TITLES)


@bp.get("/patrol/orgs/<int:org_id>/roster")
@login_required
def roster(org_id):
    """A week of shifts, day by day (?week=YYYY-MM-DD: any day of that week)."""
    org = get_org(org_id)
    if not services.may_manage(current_user, org):
        require_role(current_user, org, Role.staff)
    day = parse_day(request.args.get("week"), field="week") or local_today()
    monday = day - timedelta(days=day.weekday())
    start, end = start_of_day(monday), start_of_day(monday + timedelta(days=7))
    shifts = db.session.scalars(
        services.shifts_query(org)
        .where(Shift.starts_at >= start, Shift.starts_at < end)
        .order_by(Shift.starts_at)
    ).all()
    days: list[tuple[date, list]] = [(monday + timedelta(days=n), []) for n in range(7)]
    teams = services.teams_of([s.id for s in shifts])
    for view in _shift_views(shifts):
        shift = view["shift"]
        days[(to_local(shift.starts_at).date() - monday).days][1].append(
            {**view, "team": teams[shift.id]}
        )
    return render_template(
        "patrol/roster.html",
        org=org,
        days=days,
        monday=monday,
        prev=monday - timedelta(days=7),
        next=monday + timedelta(days=7),
        titles=STATUS_TITLES,
    )


@bp.get("/patrol/me")
@login_required
def my_shifts():
    """My next shifts (volunteers)."""
    shifts = services.my_next_shifts(current_user)
    return render_template(
        "patrol/my_shifts.html", items=_shift_views(shifts), titles=STATUS_TITLES
    )


@bp.get("/patrol/shifts/<int:shift_id>")
@login_required
def shift_page(shift_id):
    """Progress, what is left (in walking order), missed checkpoints, the team."""
    shift = services.visible_shift(current_user, shift_id)
    return render_template(
        "patrol/shift.html",
        **_shift_view(shift),
        team=services.team_of(shift.id),
        can_close=services.may_manage(current_user, shift.organization),
        is_member=services.is_member(current_user, shift.id),
        titles=STATUS_TITLES,
    )


@bp.post("/patrol/shifts/<int:shift_id>/close")
@login_required
def close_shift(shift_id):
    return form_action(
        lambda: services.close_shift(current_user, shift_id),
        "班次已结束",
        url_for(".shift_page", shift_id=shift_id),
    )


@bp.get("/patrol/scan")
@login_required
def scanner():
    """Scan checkpoint codes with the camera without leaving the page."""
    return render_template("patrol/scanner.html")


# -- incidents ------------------------------------------------------------------------------


@bp.route("/patrol/shifts/<int:shift_id>/incidents/new", methods=["GET", "POST"])
@login_required
def new_incident(shift_id):
    shift = services.visible_shift(current_user, shift_id)
    if request.method == "GET":
        return render_template(
            "patrol/incident_new.html",
            shift=shift,
            kinds=KIND_TITLES,
            checkpoints=services.checkpoints_of(shift.route_id),
        )

    def action():
        data = form_fields("kind", "text", "checkpoint_id")
        data["checkpoint_id"] = data["checkpoint_id"] or None
        form_ints(data, "checkpoint_id")
        loaded = IncidentCreateSchema().load(data)
        loaded.pop("photo")
        raw = photos.from_upload(request.files.get("photo"))
        services.report_incident(current_user, shift.id, photo=raw or None, **loaded)

    return form_action(
        action,
        "已上报，社区工作人员会尽快处理",
        url_for(".shift_page", shift_id=shift.id),
        titles=TITLES,
    )


@bp.get("/patrol/orgs/<int:org_id>/incidents")
@login_required
def incidents_page(org_id):
    """The staff queue: open incidents first, then the recently resolved."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    status = (
        request.args.get("status") if request.args.get("status") in ("open", "resolved") else "open"
    )
    items = db.session.scalars(
        services.incidents_query(org, status).order_by(Incident.id.desc()).limit(100)
    ).all()
    return render_template(
        "patrol/incidents.html", org=org, items=items, status=status, kinds=KIND_TITLES
    )


@bp.post("/patrol/incidents/<int:incident_id>/resolve")
@login_required
def resolve_incident(incident_id):
    incident = services.get_incident(incident_id)

    def action():
        services.resolve_incident(
            current_user, incident_id, **ResolveSchema().load(form_fields("note"))
        )

    return form_action(
        action, "已处理", url_for(".incidents_page", org_id=incident.org_id), titles=TITLES
    )
