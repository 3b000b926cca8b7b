"""金豆 /api/v1 routes (API.md "Points"). Thin: parse, call a service, answer."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import select

from core.access import get_visible_org, has_role, org_with_role
from core.api import BadRequest, cursor_arg, doc, limit_arg, load, page_of, paginate
from core.extensions import db
from core.models import Role
from core.plugins import plugin_blueprint
from plugins.points import services
from plugins.points.models import Award, Redemption, Reward
from plugins.points.schemas import (
    AwardCreatedSchema,
    AwardCreateSchema,
    AwardSchema,
    DepositSchema,
    FundSchema,
    QueueQuerySchema,
    RedemptionCreateSchema,
    RedemptionSchema,
    RejectSchema,
    ReversedSchema,
    ReverseSchema,
    RewardCreateSchema,
    RewardSchema,
    StatusSchema,
    TransferLineSchema,
    WalletSchema,
)

bp = plugin_blueprint(__name__)


def own_or_staff(redemption_id: int) -> Redemption:
    """A redemption its owner or staff over it may see; 404 for anyone else."""
    row = db.session.get(Redemption, redemption_id) or abort(404)
    if row.user_id != current_user.id:
        return services.staff_redemption(current_user, redemption_id)
    return row


# -- API: wallet ---------------------------------------------------------------------


@bp.get("/api/v1/points/wallet")
@login_required
@doc(response=WalletSchema)
def api_wallet():
    """My 金豆: ``balance`` spendable now, ``held`` waiting for approval."""
    return services.wallet_summary(current_user)


@bp.get("/api/v1/points/transfers")
@login_required
@doc(response=TransferLineSchema, many=True)
def api_transfers():
    """My wallet's lines, newest first (+ earned, − spent)."""
    before = cursor_arg([int])
    if before and before[0] < 1:
        raise BadRequest("cursor 无效", fields={"cursor": ["无效"]})
    limit = limit_arg()
    lines = services.history(current_user, before_id=before[0] if before else None, limit=limit + 1)
    page = page_of(lines, limit, lambda last: [last["id"]])
    return jsonify(
        {"items": TransferLineSchema(many=True).dump(page["items"]), "next": page["next"]}
    )


@bp.get("/api/v1/points/redemptions")
@login_required
@doc(response=RedemptionSchema, many=True)
def api_my_redemptions():
    """My redemptions, newest first."""
    rows = db.session.scalars(
        select(Redemption)
        .where(Redemption.user_id == current_user.id)
        .order_by(Redemption.id.desc())
        .limit(100)
    ).all()
    return jsonify({"items": RedemptionSchema(many=True).dump(rows), "next": None})


# -- API: fund and awards --------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/points/fund/deposits")
@login_required
@doc(body=DepositSchema, response=FundSchema, status=201)
def api_deposit(org_id):
    """Record a donation into this organization's fund (admin)."""
    org = org_with_role(current_user, org_id, Role.admin)
    data = load(DepositSchema())
    services.deposit(
        current_user,
        org,
        amount=data["amount"],
        key=data["idempotency_key"],
        donor=data["donor"],
        note=data["note"],
    )
    return {"balance": services.fund_balance(org)}, 201


@bp.get("/api/v1/orgs/<int:org_id>/points/fund")
@login_required
@doc(response=FundSchema)
def api_fund(org_id):
    """This organization's fund balance (staff)."""
    return {"balance": services.fund_balance(org_with_role(current_user, org_id, Role.staff))}


@bp.post("/api/v1/orgs/<int:org_id>/points/awards")
@login_required
@doc(body=AwardCreateSchema, response=AwardCreatedSchema, status=201)
def api_award(org_id):
    """Give beans to a member by hand (staff); 409 when the fund is short."""
    org = org_with_role(current_user, org_id, Role.staff)
    data = load(AwardCreateSchema())
    row = services.award(
        current_user,
        org,
        phone=data["phone"],
        amount=data["amount"],
        reason=data["reason"],
        key=data["idempotency_key"],
    )
    return {"transfer_id": row.transfer_id}, 201


@bp.get("/api/v1/orgs/<int:org_id>/points/awards")
@login_required
@doc(response=AwardSchema, many=True)
def api_awards(org_id):
    """Awards made in this subtree, oldest first (staff)."""
    org = org_with_role(current_user, org_id, Role.staff)
    return paginate(services.awards_in(org), [Award.id], AwardSchema().dump)


@bp.post("/api/v1/points/awards/<int:award_id>/reverse")
@login_required
@doc(body=ReverseSchema, response=ReversedSchema)
def api_reverse_award(award_id):
    """Undo a mistaken award with a reversing transfer (staff); 409 if already spent."""
    data = load(ReverseSchema())
    posted = services.reverse_award(current_user, award_id, reason=data["reason"])
    return {"transfer_id": posted.id}


# -- API: rewards and redemptions -------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/rewards")
@login_required
@doc(body=RewardCreateSchema, response=RewardSchema, status=201)
def api_create_reward(org_id):
    """Add a reward to this organization's catalog (staff)."""
    org = org_with_role(current_user, org_id, Role.staff)
    reward = services.create_reward(current_user, org, **load(RewardCreateSchema()))
    db.session.commit()
    return RewardSchema().dump(reward), 201


@bp.get("/api/v1/orgs/<int:org_id>/rewards")
@login_required
@doc(response=RewardSchema, many=True)
def api_rewards(org_id):
    """Rewards offered here and above (what members here can redeem)."""
    org = get_visible_org(current_user, org_id)
    staff = has_role(current_user, org, Role.staff)
    return paginate(
        services.rewards_for(org, include_inactive=staff), [Reward.id], RewardSchema().dump
    )


@bp.post("/api/v1/rewards/<int:reward_id>/redemptions")
@login_required
@doc(body=RedemptionCreateSchema, response=RedemptionSchema, status=201)
def api_redeem(reward_id):
    """Ask for a reward: holds the beans and the stock until staff decide."""
    data = load(RedemptionCreateSchema())
    row = services.request_redemption(
        current_user, reward_id, quantity=data["quantity"], key=data["idempotency_key"]
    )
    return RedemptionSchema().dump(row), 201


@bp.get("/api/v1/orgs/<int:org_id>/redemptions")
@login_required
@doc(response=RedemptionSchema, many=True, query=QueueQuerySchema)
def api_queue(org_id):
    """The staff queue of redemptions in this subtree (``?status=pending``)."""
    org = org_with_role(current_user, org_id, Role.staff)
    args = load(QueueQuerySchema(), {k: v for k, v in request.args.items() if k == "status"})
    return paginate(services.queue(org, args["status"]), [Redemption.id], RedemptionSchema().dump)


@bp.get("/api/v1/redemptions/<int:redemption_id>")
@login_required
@doc(response=RedemptionSchema)
def api_redemption(redemption_id):
    """One redemption (its owner or staff)."""
    return RedemptionSchema().dump(own_or_staff(redemption_id))


@bp.post("/api/v1/redemptions/<int:redemption_id>/approve")
@login_required
@doc(response=StatusSchema)
def api_approve(redemption_id):
    """Approve: the held beans are spent (staff)."""
    return {"status": services.approve(current_user, redemption_id).status}


@bp.post("/api/v1/redemptions/<int:redemption_id>/reject")
@login_required
@doc(body=RejectSchema, response=StatusSchema)
def api_reject(redemption_id):
    """Reject: held beans and stock come back (staff)."""
    data = load(RejectSchema(), request.get_json(silent=True) or {})
    return {"status": services.reject(current_user, redemption_id, reason=data["reason"]).status}


@bp.post("/api/v1/redemptions/<int:redemption_id>/cancel")
@login_required
@doc(response=StatusSchema)
def api_cancel(redemption_id):
    """Withdraw my own request while it waits: beans and stock come back."""
    return {"status": services.cancel(current_user, redemption_id).status}


@bp.post("/api/v1/redemptions/<int:redemption_id>/fulfil")
@login_required
@doc(response=StatusSchema)
def api_fulfil(redemption_id):
    """The reward was handed over (staff)."""
    return {"status": services.fulfil(current_user, redemption_id).status}
