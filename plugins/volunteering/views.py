"""Volunteering HTTP: /api/v1 per API.md, thin over services."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask_login import current_user, login_required

from core import qr
from core.access import get_org, get_visible_org, require_role
from core.api import BadRequest, doc, json_body, load, paginate
from core.extensions import db
from core.models import Role, User
from core.people.services import resolve_person_code
from core.plugins import plugin_blueprint
from plugins.volunteering import services
from plugins.volunteering.models import Activity
from plugins.volunteering.schemas import (
    ActivityCreateSchema,
    ActivitySchema,
    AttendanceSchema,
    BackfillSchema,
    CancelActivitySchema,
    CancelledSchema,
    CheckinCodeQuerySchema,
    CheckinCodeSchema,
    CopyActivitySchema,
    PersonScanSchema,
    SettingsSchema,
    SignupSchema,
    WalkInResultSchema,
    WalkInSchema,
)

bp = plugin_blueprint(__name__)


def activity_dict(activity: Activity, user: User) -> dict:
    counts = services.counts(activity.id)
    signup = services.signup_of(user, activity.id)
    mine = None
    if signup is not None and signup.status in services.ACTIVE:
        mine = {
            "status": signup.status,
            "activity_id": activity.id,
            "position": services.waitlist_position(signup),
        }
    return ActivitySchema().dump(
        {
            **{c: getattr(activity, c) for c in ("id", "org_id", *services.EDITABLE)},
            "org_name": activity.organization.name,
            "confirmed_count": counts["confirmed"],
            "waitlist_count": counts["waitlisted"],
            "places_left": max(0, activity.capacity - counts["confirmed"]),
            "my_signup": mine,
            "status": "cancelled" if activity.cancelled_at else "open",
            "cancel_reason": activity.cancel_reason or "",
        }
    )


def staff_activity(activity_id: int) -> Activity:
    activity = services.get_activity(activity_id)
    require_role(current_user, activity.organization, Role.staff)
    return activity


def checkin_code(activity: Activity, kind: str) -> qr.Code:
    purpose = "checkin" if kind == "in" else "checkout"
    token, expires_at = qr.rotating_token(purpose, {"a": activity.id})
    return qr.Code(token, qr.scan_url(token), expires_at)


# -- activities ---------------------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/activities")
@login_required
@doc(body=ActivityCreateSchema, response=ActivitySchema, status=201)
def api_create_activity(org_id):
    """Create an activity (staff of the organization or above)."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    activity = services.create_activity(current_user, org, load(ActivityCreateSchema()))
    db.session.commit()
    return activity_dict(activity, current_user), 201


@bp.get("/api/v1/orgs/<int:org_id>/activities")
@login_required
@doc(response=ActivitySchema, many=True)
def api_list_activities(org_id):
    """Activities for people of this organization (its own and its ancestors'), soonest first."""
    org = get_visible_org(current_user, org_id)
    stmt = services.activities_query(
        current_user, org, include_past=request.args.get("past") == "1"
    )
    return paginate(
        stmt, [Activity.starts_at, Activity.id], lambda a: activity_dict(a, current_user)
    )


@bp.get("/api/v1/activities/<int:activity_id>")
@login_required
@doc(response=ActivitySchema)
def api_get_activity(activity_id):
    """One activity with its counts and my sign-up."""
    return activity_dict(services.visible_activity(current_user, activity_id), current_user)


@bp.post("/api/v1/activities/<int:activity_id>/signups")
@login_required
@doc(response=SignupSchema, status=201, also=(200,))
def api_sign_up(activity_id):
    """Sign up: confirmed while places last, then waitlisted; again answers 200, same sign-up."""
    signup, created = services.sign_up(current_user, activity_id)
    body = {
        "status": signup.status,
        "activity_id": activity_id,
        "position": services.waitlist_position(signup),
    }
    return SignupSchema().dump(body), 201 if created else 200


@bp.delete("/api/v1/activities/<int:activity_id>/signups/me")
@login_required
@doc(status=204)
def api_cancel_signup(activity_id):
    """Cancel my sign-up; the first on the waitlist is confirmed."""
    services.cancel_signup(current_user, activity_id)
    return "", 204


def load_edit(activity: Activity, body: dict) -> tuple[dict, list[str]]:
    """An edit's body merged into the activity and validated whole: ``(data, changed)``."""
    unknown = [k for k in body if k not in services.EDITABLE]
    if unknown:
        raise BadRequest("输入有误", fields={k: ["不能修改此项"] for k in unknown})
    return load(ActivityCreateSchema(), {**services.current_fields(activity), **body}), list(body)


@bp.patch("/api/v1/activities/<int:activity_id>")
@login_required
@doc(body=ActivityCreateSchema, response=ActivitySchema)
def api_update_activity(activity_id):
    """Change any field of an activity (staff); a capacity below the confirmed count is 409."""
    activity = staff_activity(activity_id)
    data, changed = load_edit(activity, json_body())
    activity = services.update_activity(current_user, activity_id, data, changed)
    return activity_dict(activity, current_user)


@bp.post("/api/v1/activities/<int:activity_id>/cancel")
@login_required
@doc(body=CancelActivitySchema, response=CancelledSchema)
def api_cancel_activity(activity_id):
    """Call an activity off with a reason (staff); signed-up volunteers see it."""
    activity = staff_activity(activity_id)
    data = load(CancelActivitySchema())
    services.cancel_activity(current_user, activity, data["reason"])
    db.session.commit()
    return {"status": "cancelled"}


@bp.post("/api/v1/activities/<int:activity_id>/copy")
@login_required
@doc(body=CopyActivitySchema, response=ActivitySchema, status=201)
def api_copy_activity(activity_id):
    """A new activity of the same length and fields from ``starts_at`` (staff)."""
    activity = staff_activity(activity_id)
    data = load(CopyActivitySchema())
    copy = services.copy_activity(current_user, activity, data["starts_at"])
    db.session.commit()
    return activity_dict(copy, current_user), 201


@bp.post("/api/v1/activities/<int:activity_id>/walk-ins")
@login_required
@doc(body=WalkInSchema, response=WalkInResultSchema, status=201, also=(200,))
def api_walk_in(activity_id):
    """Sign up and check in a person at the door while places are left (staff)."""
    activity = staff_activity(activity_id)
    data = load(WalkInSchema())
    person = resolve_person_code(data["person_code"], within_org=activity.organization)
    attendance, created = services.walk_in(current_user, activity_id, person)
    return WalkInResultSchema().dump(
        {
            "status": "confirmed",
            "user_id": person.id,
            "name": person.name,
            "checked_in_at": attendance.checked_in_at,
        }
    ), 201 if created else 200


# -- codes and scans ------------------------------------------------------------------------


@bp.get("/api/v1/activities/<int:activity_id>/checkin-code")
@login_required
@doc(query=CheckinCodeQuerySchema, response=CheckinCodeSchema)
def api_checkin_code(activity_id):
    """The current rotating check-in (kind=in) or check-out (kind=out) code (staff)."""
    kind = load(CheckinCodeQuerySchema(), request.args.to_dict())["kind"]
    code = checkin_code(staff_activity(activity_id), kind)
    return CheckinCodeSchema().dump(code.__dict__)


@bp.get("/api/v1/activities/<int:activity_id>/checkin-code.svg")
@login_required
def api_checkin_code_svg(activity_id):
    """The current code drawn as SVG (staff)."""
    kind = load(CheckinCodeQuerySchema(), request.args.to_dict())["kind"]
    code = checkin_code(staff_activity(activity_id), kind)
    return Response(
        qr.svg(code.url), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@bp.get("/api/v1/activities/<int:activity_id>/checkin-code.png")
@login_required
def api_checkin_code_png(activity_id):
    """The current code as PNG (staff)."""
    kind = load(CheckinCodeQuerySchema(), request.args.to_dict())["kind"]
    code = checkin_code(staff_activity(activity_id), kind)
    return Response(qr.png(code.url), mimetype="image/png", headers={"Cache-Control": "no-store"})


def person_user_id(activity: Activity, data: dict) -> int:
    """Who the staff scanned: core resolves the code (token, card, short code); a
    typed short code is matched against the people expected at this desk."""
    person = resolve_person_code(
        data.get("token") or data["code"],
        candidates=services.short_code_candidates(activity, data["kind"]),
    )
    return person.id


@bp.post("/api/v1/activities/<int:activity_id>/person-scans")
@login_required
@doc(body=PersonScanSchema)
def api_person_scan(activity_id):
    """Staff check a volunteer in or out with the volunteer's own code or its short code."""
    activity = staff_activity(activity_id)
    data = load(PersonScanSchema())
    user_id = person_user_id(activity, data)
    body = services.staff_scan(current_user, activity, data["kind"], user_id=user_id).data()
    body["name"] = db.session.get(User, user_id).name
    return jsonify(body)


# -- attendance, back-fill, record, settings ----------------------------------------------------


@bp.get("/api/v1/activities/<int:activity_id>/attendance")
@login_required
@doc(response=AttendanceSchema, many=True)
def api_attendance(activity_id):
    """Who checked in and out (staff)."""
    activity = staff_activity(activity_id)
    rows = services.attendance_list(activity)
    items = [
        {
            **{
                c: getattr(a, c)
                for c in (
                    "user_id",
                    "status",
                    "checked_in_at",
                    "checked_out_at",
                    "minutes",
                    "verified",
                )
            },
            "name": u.name,
            "points": a.points_awarded or 0,
        }
        for a, u in rows
    ]
    return jsonify({"items": AttendanceSchema(many=True).dump(items), "next": None})


@bp.post("/api/v1/activities/<int:activity_id>/backfills")
@login_required
@doc(body=BackfillSchema, response=AttendanceSchema, status=201)
def api_backfill(activity_id):
    """Staff record hours that were not scanned (荣誉时数), with a reason."""
    activity = staff_activity(activity_id)
    data = load(BackfillSchema())
    user = services.user_by_phone(data.pop("phone"))
    attendance = services.backfill(current_user, activity, user=user, **data)
    return AttendanceSchema().dump(
        {
            **{
                c: getattr(attendance, c)
                for c in (
                    "user_id",
                    "status",
                    "checked_in_at",
                    "checked_out_at",
                    "minutes",
                    "verified",
                )
            },
            "name": user.name,
            "points": attendance.points_awarded or 0,
        }
    ), 201


@bp.get("/api/v1/me/service-record")
@login_required
def api_service_record():
    """My verified and honour hours, star level and activities."""
    record = services.service_record(current_user)
    return {
        "verified_minutes": record["verified_minutes"],
        "honour_minutes": record["honour_minutes"],
        "stars": record["stars"],
        "items": [
            {
                "activity_id": act.id,
                "title": act.title,
                "date": act.starts_at.isoformat(),
                "minutes": a.minutes,
                "verified": a.verified,
            }
            for a, act in record["rows"]
        ],
    }


@bp.put("/api/v1/orgs/<int:org_id>/volunteering/settings")
@login_required
@doc(body=SettingsSchema, response=SettingsSchema)
def api_settings(org_id):
    """Whether honour hours earn 金豆 here and below (admin)."""
    org = get_org(org_id)
    data = load(SettingsSchema())
    services.set_honour_hours_earn_points(current_user, org, data["honour_hours_earn_points"])
    db.session.commit()
    return {"honour_hours_earn_points": services.honour_hours_earn_points(org)}
