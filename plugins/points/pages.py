"""金豆 pages (Chinese, mobile first) on the ``points`` blueprint. Thin: read
the form, call a service through core's ``form_action``, go back."""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from core import qr
from core.access import get_visible_org, has_role, org_with_role
from core.api import ApiError, load
from core.export import csv_response
from core.extensions import db
from core.ledger import LedgerError
from core.models import Role, utcnow
from core.pages import (
    ascii_int,
    confirmed,
    form_action,
    form_fields,
    form_ints,
    keep_form,
    message_of,
    safe_back,
    shows_error_page,
)
from core.times import local_input, parse_month, this_month
from plugins.points import services
from plugins.points.models import STATUS_TITLES, Award, Redemption, Reward
from plugins.points.schemas import (
    MAX_BEANS,
    AwardBatchSchema,
    AwardCreateSchema,
    DepositSchema,
    RedemptionCreateSchema,
    RejectSchema,
    ReverseSchema,
    RewardCreateSchema,
)
from plugins.points.views import bp, own_or_staff

PHONE_RE = re.compile(r"1\d{10}", re.ASCII)
# Field names in errors, where 金豆 says it better than core's defaults.
FIELD_TITLES = {
    "amount": "金豆数量",
    "cost": "所需金豆",
    "stock": "库存",
    "per_person_limit": "每人限兑",
    "donor": "捐赠方",
    "reason": "原因",
    "idempotency_key": "表单标识（请刷新页面重试）",
}


def staff_org(org_id: int, role: Role = Role.staff):
    return org_with_role(current_user, org_id, role)


def act(action, success: str, back: str):
    return form_action(action, success, back, titles=FIELD_TITLES)


@bp.get("/points/wallet")
@login_required
def wallet_page():
    summary = services.wallet_summary(current_user)
    lines = services.history(current_user, limit=100)
    mine = db.session.scalars(
        select(Redemption)
        .where(Redemption.user_id == current_user.id)
        .order_by(Redemption.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "points/wallet.html",
        summary=summary,
        lines=lines,
        redemptions=mine,
        earned=services.earned_in_month(current_user, this_month()),
    )


@bp.get("/points/orgs/<int:org_id>")
@login_required
def manage_page(org_id):
    org = staff_org(org_id)
    payer = services.funding_org(org)
    recent = services.recent_awards(org)
    return render_template(
        "points/manage.html",
        org=org,
        fund=services.fund_balance(org),
        payer=payer,
        payer_balance=services.fund_balance(payer) if payer else 0,
        is_admin=has_role(current_user, org, Role.admin),
        expiry=services.expiry_months(org),
        unfunded=services.unfunded_awards(org),
        pending=services.pending_count(org),
        recent=recent,
        reversed_ids=services.reversed_transfer_ids(a.transfer_id for a in recent),
    )


@bp.post("/points/orgs/<int:org_id>/deposits")
@login_required
def deposit_form(org_id):
    org = staff_org(org_id, Role.admin)
    data = form_ints(form_fields("amount", "donor", "note", "idempotency_key"), "amount")

    def action():
        d = load(DepositSchema(), data)
        services.deposit(
            current_user,
            org,
            amount=d["amount"],
            key=d["idempotency_key"],
            donor=d["donor"],
            note=d["note"],
        )

    return act(action, _("已存入金豆基金"), url_for("points.manage_page", org_id=org_id))


@bp.post("/points/orgs/<int:org_id>/awards")
@login_required
def award_form(org_id):
    org = staff_org(org_id)
    data = form_ints(form_fields("phone", "amount", "reason", "idempotency_key"), "amount")

    def action():
        d = load(AwardCreateSchema(), data)
        services.award(
            current_user,
            org,
            phone=d["phone"],
            amount=d["amount"],
            reason=d["reason"],
            key=d["idempotency_key"],
        )

    return act(action, _("金豆已发放"), url_for("points.manage_page", org_id=org_id))


@bp.post("/points/orgs/<int:org_id>/awards/batch")
@login_required
def award_batch_form(org_id):
    """批量发放: one "phone amount" per line, one reason for all."""
    org = staff_org(org_id)
    back = url_for("points.manage_page", org_id=org_id)
    lines, bad = [], []
    for raw in request.form.get("lines", "").splitlines():
        parts = raw.replace("，", " ").replace(",", " ").split()
        if not parts:
            continue
        amount = ascii_int(parts[1]) if len(parts) == 2 else None
        if amount is not None and PHONE_RE.fullmatch(parts[0]) and 0 < amount <= MAX_BEANS:
            lines.append((parts[0], amount))
        else:
            bad.append(raw.strip()[:40])
    if bad or not lines:
        keep_form()
        flash(
            _("请检查：每行写“手机号 金豆数”，并填写原因")
            + (_("（有误的行：%(lines)s）", lines="；".join(bad[:3])) if bad else ""),
            "error",
        )
        return redirect(back)

    def action():
        d = load(AwardBatchSchema(), form_fields("reason", "idempotency_key"))
        services.award_batch(
            current_user, org, lines=lines, reason=d["reason"], key=d["idempotency_key"]
        )

    return act(action, _("已向 %(n)s 人发放金豆", n=len(lines)), back)


@bp.post("/points/awards/<int:award_id>/pay")
@login_required
def pay_award_form(award_id):
    row = db.session.get(Award, award_id) or abort(404)
    return act(
        lambda: services.pay_unfunded(current_user, award_id),
        _("已补发"),
        url_for("points.manage_page", org_id=row.org_id),
    )


@bp.post("/points/awards/<int:award_id>/reverse")
@login_required
def reverse_award_form(award_id):
    row = db.session.get(Award, award_id) or abort(404)
    back = url_for("points.manage_page", org_id=row.org_id)
    if not confirmed():
        flash(_("请先确认再撤回"), "error")
        return redirect(back)

    def action():
        reason = load(
            ReverseSchema(), {"reason": request.form.get("reason", "").strip() or "发放有误"}
        )["reason"]
        services.reverse_award(current_user, award_id, reason=reason)

    return act(action, _("已撤回发放，金豆已退回基金"), back)


@bp.post("/points/orgs/<int:org_id>/settings")
@login_required
def settings_form(org_id):
    org = staff_org(org_id, Role.admin)
    raw = request.form.get("expiry_months", "").strip()
    months = ascii_int(raw)
    if raw and not (months is not None and 1 <= months <= 120):
        flash(_("有效期须为 1 到 120 个月，留空表示不过期"), "error")
    else:
        services.set_expiry(current_user, org, months)
        db.session.commit()
        flash(_("已保存"))
    return redirect(url_for("points.manage_page", org_id=org_id))


@bp.get("/points/orgs/<int:org_id>/rewards")
@login_required
def rewards_page(org_id):
    org = get_visible_org(current_user, org_id)
    staff = has_role(current_user, org, Role.staff)
    rewards = db.session.scalars(
        services.rewards_for(org, include_inactive=staff).order_by(Reward.cost, Reward.id)
    ).all()
    return render_template(
        "points/rewards.html",
        org=org,
        rewards=rewards,
        staff=staff,
        summary=services.wallet_summary(current_user),
        now=utcnow(),
        is_open=services.is_open,
    )


@bp.post("/points/orgs/<int:org_id>/rewards")
@login_required
def create_reward_form(org_id):
    org = staff_org(org_id)
    data = form_ints(
        form_fields(
            "name", "cost", "stock", "description", "per_person_limit", "starts_at", "ends_at"
        ),
        "cost",
        "stock",
        "per_person_limit",
    )
    for name in ("starts_at", "ends_at"):
        data[name] = local_input(data.pop(name, ""))
    return act(
        lambda: services.create_reward(current_user, org, **load(RewardCreateSchema(), data)),
        _("已上架"),
        url_for("points.rewards_page", org_id=org_id),
    )


@bp.post("/points/rewards/<int:reward_id>/update")
@login_required
def update_reward_form(reward_id):
    reward = db.session.get(Reward, reward_id) or abort(404)
    raw = request.form.get("add_stock", "").strip() or "0"
    active = {"on": True, "off": False}.get(request.form.get("active", ""))
    add_stock = ascii_int(raw)
    if add_stock is None or add_stock > 100_000:
        flash(_("补充库存须为 0 到 100000 的整数"), "error")
    else:
        services.update_reward(current_user, reward, add_stock=add_stock, active=active)
        db.session.commit()
        flash(_("已更新"))
    return redirect(url_for("points.rewards_page", org_id=reward.org_id))


@bp.post("/points/rewards/<int:reward_id>/redeem")
@login_required
def redeem_form(reward_id):
    reward = services.visible_reward(current_user, reward_id)
    data = form_ints(form_fields("quantity", "idempotency_key"), "quantity")
    try:
        d = load(RedemptionCreateSchema(), data)
        row = services.request_redemption(
            current_user, reward_id, quantity=d["quantity"], key=d["idempotency_key"]
        )
    except (ApiError, LedgerError) as err:
        if shows_error_page(err):
            raise
        flash(message_of(err, FIELD_TITLES), "error")
        # Back to the catalog the request came from (a building's catalog lists its
        # community's rewards): never to another organization's catalog.
        return redirect(
            safe_back(
                request.form.get("back"), url_for("points.rewards_page", org_id=reward.org_id)
            )
        )
    flash(_("已提交兑换申请，请等待工作人员审核"))
    return redirect(url_for("points.redemption_page", redemption_id=row.id))


@bp.get("/points/redemptions/<int:redemption_id>")
@login_required
def redemption_page(redemption_id):
    row = own_or_staff(redemption_id)
    pickup_url = url_for("points.pickup_page", code=row.code, _external=True)
    return render_template(
        "points/redemption.html",
        row=row,
        pickup_url=pickup_url,
        qr=Markup(qr.svg(pickup_url)) if row.status == "approved" else None,
        mine=row.user_id == current_user.id,
    )


@bp.post("/points/redemptions/<int:redemption_id>/<any(approve, reject, fulfil, cancel):verb>")
@login_required
def decide_form(redemption_id, verb):
    actions = {
        "approve": lambda: services.approve(current_user, redemption_id),
        "reject": lambda: services.reject(
            current_user,
            redemption_id,
            reason=load(RejectSchema(), form_fields("reason"))["reason"],
        ),
        "fulfil": lambda: services.fulfil(current_user, redemption_id),
        "cancel": lambda: services.cancel(current_user, redemption_id),
    }
    done = {
        "approve": _("已通过"),
        "reject": _("已拒绝，金豆已退回"),
        "fulfil": _("已确认领取"),
        "cancel": _("已取消，金豆已退回"),
    }
    back = safe_back(
        request.form.get("back"), url_for("points.redemption_page", redemption_id=redemption_id)
    )
    if verb in ("reject", "cancel") and not confirmed():  # they give the beans back: ask first
        flash(_("请先确认"), "error")
        return redirect(back)
    return act(actions[verb], done[verb], back)


@bp.get("/points/orgs/<int:org_id>/redemptions")
@login_required
def queue_page(org_id):
    org = staff_org(org_id)
    status = request.args.get("status", "pending")
    if status not in STATUS_TITLES:
        status = "pending"
    rows = db.session.scalars(services.queue(org, status).order_by(Redemption.id).limit(200)).all()
    return render_template(
        "points/queue.html", org=org, rows=rows, status=status, titles=STATUS_TITLES
    )


@bp.post("/points/orgs/<int:org_id>/pickup")
@login_required
def pickup_lookup(org_id):
    staff_org(org_id)
    row = services.by_code(request.form.get("code", ""))
    if row is None:
        flash(_("没有这个领取码，请核对"), "error")
        return redirect(url_for("points.queue_page", org_id=org_id, status="approved"))
    return redirect(url_for("points.pickup_page", code=row.code))


@bp.get("/points/p/<code>")
@login_required
def pickup_page(code):
    """Where the QR code leads: staff see a 确认领取 button, the owner their redemption."""
    row = services.by_code(code) or abort(404)
    if row.user_id == current_user.id and not has_role(current_user, row.reward.org, Role.staff):
        return redirect(url_for("points.redemption_page", redemption_id=row.id))
    services.staff_redemption(current_user, row.id)
    return render_template("points/pickup.html", row=row)


@bp.get("/points/orgs/<int:org_id>/leaderboard")
@login_required
def leaderboard_page(org_id):
    org = get_visible_org(current_user, org_id)
    month = parse_month(request.args.get("month"))
    return render_template(
        "points/leaderboard.html", org=org, month=month, rows=services.leaderboard(org, month)
    )


@bp.get("/points/orgs/<int:org_id>/report")
@login_required
def report_page(org_id):
    org = staff_org(org_id)
    month = parse_month(request.args.get("month"))
    return render_template(
        "points/report.html",
        org=org,
        month=month,
        figures=services.report(org, month),
        titles=services.REPORT_TITLES,
    )


@bp.get("/points/orgs/<int:org_id>/report.csv")
@login_required
def report_csv(org_id):
    org = staff_org(org_id)
    month = parse_month(request.args.get("month"))
    figures = services.report(org, month)
    return csv_response(
        f"jindou-points-{org.id}-{month:%Y-%m}.csv",
        ["组织", "月份", *services.REPORT_TITLES.values()],
        [[org.name, month.strftime("%Y-%m"), *(figures[k] for k in services.REPORT_TITLES)]],
    )
