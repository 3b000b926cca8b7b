"""群众诉求 pages (Chinese, phone first), on the blueprint of views.py.

Refusals follow core's one rule (core.pages): 404s and plain 403s are error
pages, the rest are flashed.
"""

from __future__ import annotations

import base64
from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import tuple_

from core import photos
from core.access import can_see, get_org, has_role, org_with_role
from core.api import ApiError, BadRequest, NotFound, cursor_arg, load, page_of
from core.extensions import db
from core.models import LEVEL_TITLES, Organization, Role, User, utcnow
from core.pages import confirmed, form_action, form_fields, safe_back
from core.people.services import dependants_of, mask_phone, may_act_for, resolve_person_code
from core.times import day_range
from plugins.casework import services
from plugins.casework.models import ACTIONS, CATEGORIES, STATUSES, Case
from plugins.casework.schemas import CaseCreateSchema, EscalateSchema, RateSchema, ResolveSchema
from plugins.casework.views import bp, date_range_args, status_arg

TITLES = {
    "person": "居民",
    "category": "类别",
    "text": "诉求内容",
    "location": "地点",
    "photo": "照片",
    "reason": "上报原因",
    "note": "办理结果",
    "comment": "评价意见",
}
LABELS = {
    "categories": CATEGORIES,
    "statuses": STATUSES,
    "actions": ACTIONS,
    "levels": LEVEL_TITLES,
}


def _photo_field() -> str | None:
    """The uploaded file as base64 for the service (which checks it is an image)."""
    data = photos.from_upload(request.files.get("photo"))
    return base64.b64encode(data).decode() if data is not None else None


def _person_field(org: Organization) -> int | None:
    """Staff recording for someone: a phone number, or a card or person code
    (elders without a phone); a typo is flashed, not an error page."""
    raw = (request.form.get("person") or "").strip()
    if not raw:
        return None
    if len(raw) == 11 and raw.isascii() and raw.isdigit():
        person = db.session.scalar(db.select(User).where(User.phone == raw))
    else:
        try:
            person = resolve_person_code(raw, within_org=org)
        except NotFound:
            person = None
    if person is None:
        raise BadRequest("没有找到这位居民", fields={"person": ["没有找到这位居民"]})
    return person.id


@bp.route("/casework/orgs/<int:org_id>/new", methods=["GET", "POST"])
@login_required
def new_page(org_id):
    org = get_org(org_id)
    if not can_see(current_user, org):
        abort(404)
    if request.method == "GET":
        return render_template(
            "casework/new.html", org=org, is_staff=has_role(current_user, org, Role.staff), **LABELS
        )
    try:
        data = load(CaseCreateSchema(), form_fields("category", "text", "location"))
        case = services.raise_case(
            current_user, org, photo=_photo_field(), user_id=_person_field(org), **data
        )
        db.session.commit()
    except (ApiError, ValidationError) as err:
        refused = err

        def refuse():
            raise refused

        # core's rule for the refusal: flashed, typed values kept, back to the form
        return form_action(refuse, "", url_for(".new_page", org_id=org.id), titles=TITLES)
    flash("诉求已提交，我们会尽快处理")
    return redirect(url_for(".case_page", case_id=case.id))


@bp.get("/casework/me")
@login_required
def my_page():
    people = [current_user, *dependants_of(current_user)]
    cases = db.session.scalars(
        db.select(Case)
        .where(Case.user_id.in_([p.id for p in people]))
        .order_by(Case.id.desc())
        .limit(50)
    ).all()
    names = {p.id: p.name for p in people}
    return render_template(
        "casework/mine.html",
        cases=cases,
        names=names,
        timelines={c.id: services.timeline(c) for c in cases},
        orgs=_org_names(cases),
        **LABELS,
    )


def _org_names(cases) -> dict[int, str]:
    ids = {c.org_id for c in cases} | {c.handler_org_id for c in cases}
    return (
        dict(
            db.session.execute(
                db.select(Organization.id, Organization.name).where(Organization.id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )


@bp.get("/casework/cases/<int:case_id>")
@login_required
def case_page(case_id):
    case = services.get_case(current_user, case_id)
    handler = db.session.get(Organization, case.handler_org_id)
    person = db.session.get(User, case.user_id)
    events = services.timeline(case)
    orgs = _org_names([case]) | {
        e.org_id: db.session.get(Organization, e.org_id).name for e in events
    }
    return render_template(
        "casework/case.html",
        case=case,
        handler=handler,
        person=person,
        events=events,
        orgs=orgs,
        now=utcnow(),
        phone=mask_phone(person.phone),
        is_staff=has_role(current_user, handler, Role.staff),
        can_escalate=services.cases._staff_at_handler(current_user, handler)
        and handler.parent_id is not None,
        can_rate=case.status == "resolved" and may_act_for(current_user, person),
        **LABELS,
    )


@bp.get("/casework/cases/<int:case_id>/photo")
@login_required
def photo(case_id):
    data, kind = services.photo_of(current_user, case_id)
    return Response(
        data,
        mimetype=kind,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def _back(case_id: int) -> str:
    return safe_back(request.form.get("back"), url_for(".case_page", case_id=case_id))


@bp.post("/casework/cases/<int:case_id>/accept")
@login_required
def accept_form(case_id):
    return form_action(lambda: services.accept(current_user, case_id), "已受理", _back(case_id))


@bp.post("/casework/cases/<int:case_id>/escalate")
@login_required
def escalate_form(case_id):
    if not confirmed():
        abort(400)

    def action():
        services.escalate(current_user, case_id, **load(EscalateSchema(), form_fields("reason")))

    return form_action(action, "已上报上级", _back(case_id), titles=TITLES)


@bp.post("/casework/cases/<int:case_id>/resolve")
@login_required
def resolve_form(case_id):
    if not confirmed():
        abort(400)

    def action():
        services.resolve(current_user, case_id, **load(ResolveSchema(), form_fields("note")))

    return form_action(action, "已办结", _back(case_id), titles=TITLES)


@bp.post("/casework/cases/<int:case_id>/rate")
@login_required
def rate_form(case_id):
    satisfied = request.form.get("satisfied")
    if satisfied not in ("yes", "no"):
        abort(400)

    def action():
        data = load(RateSchema(), {"satisfied": satisfied == "yes", **form_fields("comment")})
        services.rate(current_user, case_id, **data)

    return form_action(action, "谢谢您的评价", _back(case_id), titles=TITLES)


QUEUE_PAGE = 50


@bp.get("/casework/orgs/<int:org_id>/queue")
@login_required
def queue_page(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    status = status_arg()
    stmt = services.cases_handled_under(org, status)
    after = cursor_arg([datetime, int])  # keyset: a forged cursor is a 400
    if after is not None:
        stmt = stmt.where(tuple_(Case.due_at, Case.id) > tuple_(*after))
    page = page_of(
        db.session.scalars(stmt.order_by(Case.due_at, Case.id).limit(QUEUE_PAGE + 1)).all(),
        QUEUE_PAGE,
        lambda last: [last.due_at.isoformat(), last.id],
    )
    cases = page["items"]
    return render_template(
        "casework/queue.html",
        org=org,
        cases=cases,
        next=page["next"],
        status=status,
        now=utcnow(),
        orgs=_org_names(cases),
        **LABELS,
    )


@bp.get("/casework/orgs/<int:org_id>/stats")
@login_required
def stats_page(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    first, last = date_range_args()
    bounds = day_range(first, last)
    return render_template(
        "casework/stats.html",
        org=org,
        s=services.stats(org, *bounds),
        children=services.stats_by_child(org, *bounds),
        first=first,
        last=last,
        **LABELS,
    )


@bp.get("/casework/orgs/<int:org_id>/board")
def board_page(org_id):
    """公示: public, no log-in; no names, phones or the residents' own words."""
    org = get_org(org_id)
    return render_template("casework/board.html", org=org, rows=services.board(org), **LABELS)
