"""群众诉求 HTTP API (/api/v1), thin over services."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request
from flask_login import current_user, login_required

from core.access import get_org, org_with_role
from core.api import BadRequest, doc, load, paginate
from core.extensions import db
from core.models import Role
from core.plugins import plugin_blueprint
from core.times import day_range, local_today, parse_day
from plugins.casework import services
from plugins.casework.models import STATUSES, Case
from plugins.casework.schemas import (
    CaseCreateSchema,
    CaseDetailSchema,
    CaseSchema,
    CountsSchema,
    EscalateSchema,
    RateSchema,
    ResolveSchema,
)

bp = plugin_blueprint(__name__)


def detail(case: Case) -> dict:
    data = CaseDetailSchema(exclude=("timeline",)).dump(case)
    from plugins.casework.schemas import EventSchema

    data["timeline"] = EventSchema(many=True).dump(services.timeline(case))
    return data


@bp.post("/api/v1/orgs/<int:org_id>/cases")
@login_required
@doc(body=CaseCreateSchema, response=CaseSchema, status=201)
def raise_case(org_id):
    """Raise a case here (a member), or for a person (staff, ``user_id``)."""
    data = load(CaseCreateSchema())
    case = services.raise_case(current_user, get_org(org_id), **data)
    db.session.commit()
    return jsonify(CaseSchema().dump(case)), 201


@bp.get("/api/v1/cases/<int:case_id>")
@login_required
@doc(response=CaseDetailSchema)
def get_case(case_id):
    """A case with its timeline (the resident, a relative, staff over handler or origin)."""
    return jsonify(detail(services.get_case(current_user, case_id)))


@bp.get("/api/v1/me/cases")
@login_required
@doc(response=CaseSchema, many=True)
def my_cases():
    """My cases, newest first."""
    return paginate(services.my_cases(current_user), [Case.id], CaseSchema().dump, descending=True)


def status_arg() -> str | None:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("状态无效", fields={"status": [f"应为 {', '.join(STATUSES)} 之一"]})
    return status


@bp.get("/api/v1/orgs/<int:org_id>/cases")
@login_required
@doc(response=CaseSchema, many=True)
def org_cases(org_id):
    """Cases handled here or below, oldest due first (staff; ?status=)."""
    org = org_with_role(current_user, org_id, Role.staff)
    return paginate(
        services.cases_handled_under(org, status_arg()), [Case.due_at, Case.id], CaseSchema().dump
    )


@bp.post("/api/v1/cases/<int:case_id>/accept")
@login_required
@doc(response=CaseSchema)
def accept(case_id):
    """受理 (staff at or above the handler); repeated: 200, unchanged."""
    case = services.accept(current_user, case_id)
    db.session.commit()
    return jsonify(CaseSchema().dump(case))


@bp.post("/api/v1/cases/<int:case_id>/escalate")
@login_required
@doc(body=EscalateSchema, response=CaseSchema)
def escalate(case_id):
    """Send one level up with a reason (staff at the handler); 409 top_level at the district."""
    data = load(EscalateSchema())
    case = services.escalate(current_user, case_id, **data)
    db.session.commit()
    return jsonify(CaseSchema().dump(case))


@bp.post("/api/v1/cases/<int:case_id>/resolve")
@login_required
@doc(body=ResolveSchema, response=CaseSchema)
def resolve(case_id):
    """办结 with a note (staff at or above the handler)."""
    data = load(ResolveSchema())
    case = services.resolve(current_user, case_id, **data)
    db.session.commit()
    return jsonify(CaseSchema().dump(case))


@bp.post("/api/v1/cases/<int:case_id>/rate")
@login_required
@doc(body=RateSchema, response=CaseSchema)
def rate(case_id):
    """Rate a resolved case (the resident or a relative)."""
    data = load(RateSchema())
    case = services.rate(current_user, case_id, **data)
    db.session.commit()
    return jsonify(CaseSchema().dump(case))


def date_range_args():
    """``?from=&to=`` local days inclusive; default the last 30 days."""
    last = parse_day(request.args.get("to"), field="to") or local_today()
    first = parse_day(request.args.get("from"), field="from") or last - timedelta(days=29)
    if first > last:
        raise BadRequest("开始日期不能晚于结束日期", fields={"from": ["不能晚于结束日期"]})
    return first, last


@bp.get("/api/v1/orgs/<int:org_id>/casework/stats")
@login_required
@doc(response=CountsSchema)
def stats(org_id):
    """Counts over the subtree for cases raised in ``?from=&to=`` (staff)."""
    org = org_with_role(current_user, org_id, Role.staff)
    first, last = date_range_args()
    return jsonify(services.stats(org, *day_range(first, last)))
