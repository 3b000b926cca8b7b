"""居家养老服务券 /api/v1 routes (API.md "Home-care vouchers"). Thin: parse, call a
service, commit, answer. The CLI group is ``jindou vouchers`` (``bp.cli_group``),
as API.md names the scheduler's jobs."""

from __future__ import annotations

from flask import request
from flask_login import current_user, login_required

from core.access import org_with_role
from core.api import arg_id, doc, load, month_arg
from core.extensions import db
from core.models import Role
from core.plugins import plugin_blueprint
from core.times import parse_month
from plugins.elder_vouchers import services
from plugins.elder_vouchers.schemas import (
    AnomaliesSchema,
    BudgetSchema,
    ClaimCreateSchema,
    ClaimSchema,
    ConfirmSchema,
    DisputeSchema,
    EnrolmentSchema,
    EnrolSchema,
    IssuanceSchema,
    IssueSchema,
    ProgrammeCreateSchema,
    ProgrammeSchema,
    ProviderCreateSchema,
    ProviderSchema,
    ResolveSchema,
    SettlementSchema,
    VisitFinishSchema,
    VisitSchema,
    VisitStartSchema,
    VoucherDepositSchema,
    VoucherRejectSchema,
    VoucherStatusSchema,
    VoucherWalletSchema,
    WorkerCreateSchema,
    WorkerSchema,
)
from plugins.elder_vouchers.services.visits import is_worker

bp = plugin_blueprint(__name__)
bp.cli_group = "vouchers"  # `jindou vouchers issue|expire`, the names API.md gives the jobs


def visit_dict(visit) -> dict:
    return VisitSchema().dump(visit)


# -- programmes, budgets, enrolment, issuance -------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/voucher-programmes")
@login_required
@doc(body=ProgrammeCreateSchema, response=ProgrammeSchema, status=201)
def api_create_programme(org_id):
    """Set up a programme covering this organization's subtree (admin)."""
    org = org_with_role(current_user, org_id, Role.admin)
    data = load(ProgrammeCreateSchema())
    row = services.create_programme(current_user, org, **data)
    db.session.commit()
    return services.programme_dict(row), 201


@bp.get("/api/v1/voucher-programmes/<int:programme_id>")
@login_required
@doc(response=ProgrammeSchema)
def api_programme(programme_id):
    """A programme with its budget and how many are enrolled (staff)."""
    row = services.get_programme(programme_id)
    org_with_role(current_user, row.org_id, Role.staff)
    return services.programme_dict(row)


@bp.post("/api/v1/voucher-programmes/<int:programme_id>/budget/deposits")
@login_required
@doc(body=VoucherDepositSchema, response=BudgetSchema, status=201)
def api_deposit(programme_id):
    """Fund the programme's budget (admin); idempotent by ``idempotency_key``."""
    row = services.get_programme(programme_id)
    org_with_role(current_user, row.org_id, Role.admin)
    data = load(VoucherDepositSchema())
    budget = services.deposit(
        current_user, row, amount=data["amount"], key=data["idempotency_key"], note=data["note"]
    )
    return {"budget": budget}, 201


@bp.post("/api/v1/voucher-programmes/<int:programme_id>/enrolments")
@login_required
@doc(body=EnrolSchema, response=EnrolmentSchema, status=201)
def api_enrol(programme_id):
    """Enrol a person (staff over them); 409 ``not_eligible`` with the reason; again → 200."""
    row = services.get_programme(programme_id)
    data = load(EnrolSchema())
    enrolment, created = services.enrol(current_user, row, data["user_id"])
    db.session.commit()
    return {"user_id": enrolment.user_id, "programme_id": row.id}, 201 if created else 200


@bp.delete("/api/v1/voucher-programmes/<int:programme_id>/enrolments/<int:user_id>")
@login_required
@doc(status=204)
def api_unenrol(programme_id, user_id):
    """End an enrolment: no further issuance (staff)."""
    services.unenrol(current_user, services.get_programme(programme_id), user_id)
    db.session.commit()
    return "", 204


@bp.post("/api/v1/voucher-programmes/<int:programme_id>/issuances")
@login_required
@doc(body=IssueSchema, response=IssuanceSchema, status=201)
def api_issue(programme_id):
    """Issue a month's vouchers (admin): once per person-month; all or nothing."""
    row = services.get_programme(programme_id)
    org_with_role(current_user, row.org_id, Role.admin)
    data = load(IssueSchema())
    return services.issue(current_user, row, parse_month(data["month"])), 201


@bp.get("/api/v1/vouchers/wallet")
@login_required
@doc(response=VoucherWalletSchema)
def api_wallet():
    """Vouchers left per programme: mine, or (``?user_id=``) a person I act for or serve."""
    raw = request.args.get("user_id")
    person_id = arg_id("user_id")
    if raw and person_id is None:
        from core.api import BadRequest

        raise BadRequest("user_id 无效", fields={"user_id": ["无效的编号"]})
    return {"items": services.wallet_of(current_user, person_id)}


# -- providers, workers, visits ----------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/providers")
@login_required
@doc(body=ProviderCreateSchema, response=ProviderSchema, status=201)
def api_create_provider(org_id):
    """Approve a provider with its priced services (admin)."""
    org = org_with_role(current_user, org_id, Role.admin)
    data = load(ProviderCreateSchema())
    row = services.create_provider(current_user, org, **data)
    db.session.commit()
    return services.provider_dict(row), 201


@bp.post("/api/v1/providers/<int:provider_id>/workers")
@login_required
@doc(body=WorkerCreateSchema, response=WorkerSchema, status=201)
def api_add_worker(provider_id):
    """Link a registered user as the provider's worker (admin over the provider)."""
    provider = services.get_provider(provider_id)
    org_with_role(current_user, provider.org_id, Role.admin)
    data = load(WorkerCreateSchema())
    user, created = services.add_worker(current_user, provider, data["phone"])
    db.session.commit()
    return {
        "user_id": user.id,
        "provider_id": provider.id,
        "name": user.name,
    }, 201 if created else 200


@bp.post("/api/v1/providers/<int:provider_id>/visits")
@login_required
@doc(body=VisitStartSchema, response=VisitSchema, status=201)
def api_start_visit(provider_id):
    """At the elder's door: open a visit and hold the price on their vouchers."""
    provider = services.get_provider(provider_id)
    data = load(VisitStartSchema())
    visit = services.start_visit(current_user, provider, **data)
    return visit_dict(visit), 201


@bp.post("/api/v1/visits/<int:visit_id>/finish")
@login_required
@doc(body=VisitFinishSchema, response=VisitSchema)
def api_finish_visit(visit_id):
    """Scan the same person at the end: the held vouchers are spent."""
    data = load(VisitFinishSchema())
    return visit_dict(services.finish_visit(current_user, services.get_visit(visit_id), **data))


@bp.post("/api/v1/visits/<int:visit_id>/cancel")
@login_required
@doc(response=VoucherStatusSchema)
def api_cancel_visit(visit_id):
    """The worker or staff cancel an open visit: the hold is released."""
    visit = services.cancel_visit(current_user, services.get_visit(visit_id))
    return {"status": visit.status}


@bp.post("/api/v1/visits/<int:visit_id>/confirm")
@login_required
@doc(body=ConfirmSchema, response=VisitSchema)
def api_confirm_visit(visit_id):
    """The elder or a relative rates the visit (满意 = 5)."""
    data = load(ConfirmSchema())
    visit = services.confirm_visit(current_user, services.get_visit(visit_id), **data)
    db.session.commit()
    return visit_dict(visit)


@bp.post("/api/v1/visits/<int:visit_id>/dispute")
@login_required
@doc(body=DisputeSchema, response=VoucherStatusSchema)
def api_dispute_visit(visit_id):
    """The elder or a relative disputes the visit: left out of claims until resolved."""
    data = load(DisputeSchema())
    visit = services.dispute_visit(current_user, services.get_visit(visit_id), **data)
    db.session.commit()
    return {"status": visit.status}


@bp.post("/api/v1/visits/<int:visit_id>/resolve")
@login_required
@doc(body=ResolveSchema, response=VoucherStatusSchema)
def api_resolve_visit(visit_id):
    """Staff over the provider resolve a dispute; upheld gives the vouchers back."""
    data = load(ResolveSchema())
    visit = services.resolve_dispute(current_user, services.get_visit(visit_id), **data)
    return {"status": visit.status}


# -- claims, settlement, anomalies ---------------------------------------------------------------


@bp.post("/api/v1/providers/<int:provider_id>/claims")
@login_required
@doc(body=ClaimCreateSchema, response=ClaimSchema, status=201)
def api_submit_claim(provider_id):
    """Claim a month's finished, undisputed, unclaimed visits (a worker or an admin)."""
    provider = services.get_provider(provider_id)
    data = load(ClaimCreateSchema())
    claim = services.submit_claim(current_user, provider, parse_month(data["month"]))
    return services.claim_dict(claim), 201


@bp.get("/api/v1/claims/<int:claim_id>")
@login_required
@doc(response=ClaimSchema)
def api_claim(claim_id):
    """A claim with its sign-offs (staff over the provider, or its workers)."""
    claim = services.get_claim(claim_id)
    provider = services.get_provider(claim.provider_id)
    if not is_worker(current_user, provider):
        org_with_role(current_user, claim.org_id, Role.staff)
    return services.claim_dict(claim)


@bp.post("/api/v1/claims/<int:claim_id>/approve")
@login_required
@doc(response=ClaimSchema)
def api_approve_claim(claim_id):
    """Sign off at my level; the district's sign-off approves it."""
    return services.claim_dict(services.approve_claim(current_user, services.get_claim(claim_id)))


@bp.post("/api/v1/claims/<int:claim_id>/reject")
@login_required
@doc(body=VoucherRejectSchema, response=ClaimSchema)
def api_reject_claim(claim_id):
    """Reject at my level with a reason; its visits become claimable again."""
    data = load(VoucherRejectSchema())
    return services.claim_dict(
        services.reject_claim(current_user, services.get_claim(claim_id), reason=data["reason"])
    )


@bp.get("/api/v1/orgs/<int:org_id>/vouchers/settlement")
@login_required
@doc(response=SettlementSchema)
def api_settlement(org_id):
    """Per provider and month: visits, amount, claimed, approved (staff)."""
    org = org_with_role(current_user, org_id, Role.staff)
    return services.settlement(current_user, org, month_arg())


@bp.get("/api/v1/orgs/<int:org_id>/vouchers/anomalies")
@login_required
@doc(response=AnomaliesSchema)
def api_anomalies(org_id):
    """Anomaly flags of the month (an addition to API.md): too short, too long,
    two workers at one elder at once, many visits ending at the same minute (staff)."""
    org = org_with_role(current_user, org_id, Role.staff)
    month = month_arg()
    return {"month": month.strftime("%Y-%m"), "items": services.anomalies(current_user, org, month)}
