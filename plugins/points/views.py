"""金豆 HTTP: /api/v1 routes (API.md "Points") and the mobile pages. Thin:
parse, call a service, answer."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from core.access import get_org, get_visible_org, has_role, require_role
from core.api import (
    ApiError,
    _decode_cursor,
    _encode_cursor,
    decode_cursor_value,
    doc,
    ledger_error_as_api,
    load,
    month_arg,
    paginate,
)
from core.extensions import db
from core.ledger import LedgerError
from core.models import Role
from plugins.points import services
from plugins.points.models import STATUS_TITLES, Award, Redemption, Reward
from plugins.points.schemas import (
    MAX_BEANS,
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

PHONE_RE = re.compile(r"1\d{10}", re.ASCII)


def small_int(raw: str, digits: int = 9) -> int | None:
    """ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails), a few of them."""
    return int(raw) if re.fullmatch(rf"\d{{1,{digits}}}", raw, re.ASCII) else None

bp = Blueprint("points", __name__, template_folder="templates")


@bp.context_processor
def _form_helpers():
    # Each rendered form carries its own idempotency key: a double tap posts once.
    return {"form_key": lambda: uuid.uuid4().hex}


def visible_org(org_id: int):
    return get_visible_org(current_user, org_id)


def staff_org(org_id: int, role: Role = Role.staff):
    org = get_org(org_id)
    require_role(current_user, org, role)
    return org


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
    cursor = request.args.get("cursor")
    before = None
    if cursor:
        values = _decode_cursor(cursor)
        try:
            if len(values) != 1 or decode_cursor_value(values[0], int) < 1:
                raise ValueError(values)
        except (ValueError, TypeError) as err:
            raise ApiError(400, "invalid", "cursor 无效", {"cursor": ["无效"]}) from err
        before = values[0]
    limit = min(max(request.args.get("limit", 50, type=int), 1), 200)
    lines = services.history(current_user, before_id=before, limit=limit + 1)
    more = len(lines) > limit
    lines = lines[:limit]
    return jsonify({"items": TransferLineSchema(many=True).dump(lines),
                    "next": _encode_cursor([lines[-1]["id"]]) if more else None})


@bp.get("/api/v1/points/redemptions")
@login_required
@doc(response=RedemptionSchema, many=True)
def api_my_redemptions():
    """My redemptions, newest first."""
    rows = db.session.scalars(select(Redemption).where(Redemption.user_id == current_user.id)
                              .order_by(Redemption.id.desc()).limit(100)).all()
    return jsonify({"items": RedemptionSchema(many=True).dump(rows), "next": None})


# -- API: fund and awards --------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/points/fund/deposits")
@login_required
@doc(body=DepositSchema, response=FundSchema, status=201)
def api_deposit(org_id):
    """Record a donation into this organization's fund (admin)."""
    org = staff_org(org_id, Role.admin)
    data = load(DepositSchema())
    services.deposit(current_user, org, amount=data["amount"], key=data["idempotency_key"],
                     donor=data["donor"], note=data["note"])
    return {"balance": services.fund_balance(org)}, 201


@bp.get("/api/v1/orgs/<int:org_id>/points/fund")
@login_required
@doc(response=FundSchema)
def api_fund(org_id):
    """This organization's fund balance (staff)."""
    return {"balance": services.fund_balance(staff_org(org_id))}


@bp.post("/api/v1/orgs/<int:org_id>/points/awards")
@login_required
@doc(body=AwardCreateSchema, response=AwardCreatedSchema, status=201)
def api_award(org_id):
    """Give beans to a member by hand (staff); 409 when the fund is short."""
    org = staff_org(org_id)
    data = load(AwardCreateSchema())
    row = services.award(current_user, org, phone=data["phone"], amount=data["amount"],
                         reason=data["reason"], key=data["idempotency_key"])
    return {"transfer_id": row.transfer_id}, 201


@bp.get("/api/v1/orgs/<int:org_id>/points/awards")
@login_required
@doc(response=AwardSchema, many=True)
def api_awards(org_id):
    """Awards made in this subtree, oldest first (staff)."""
    org = staff_org(org_id)
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
    org = staff_org(org_id)
    reward = services.create_reward(current_user, org, **load(RewardCreateSchema()))
    db.session.commit()
    return RewardSchema().dump(reward), 201


@bp.get("/api/v1/orgs/<int:org_id>/rewards")
@login_required
@doc(response=RewardSchema, many=True)
def api_rewards(org_id):
    """Rewards offered here and above (what members here can redeem)."""
    org = visible_org(org_id)
    staff = has_role(current_user, org, Role.staff)
    return paginate(services.rewards_for(org, include_inactive=staff), [Reward.id],
                    RewardSchema().dump)


@bp.post("/api/v1/rewards/<int:reward_id>/redemptions")
@login_required
@doc(body=RedemptionCreateSchema, response=RedemptionSchema, status=201)
def api_redeem(reward_id):
    """Ask for a reward: holds the beans and the stock until staff decide."""
    data = load(RedemptionCreateSchema())
    row = services.request_redemption(current_user, reward_id, quantity=data["quantity"],
                                      key=data["idempotency_key"])
    return RedemptionSchema().dump(row), 201


@bp.get("/api/v1/orgs/<int:org_id>/redemptions")
@login_required
@doc(response=RedemptionSchema, many=True, query=QueueQuerySchema)
def api_queue(org_id):
    """The staff queue of redemptions in this subtree (``?status=pending``)."""
    org = staff_org(org_id)
    args = load(QueueQuerySchema(), {k: v for k, v in request.args.items() if k == "status"})
    return paginate(services.queue(org, args["status"]), [Redemption.id],
                    RedemptionSchema().dump)


@bp.get("/api/v1/redemptions/<int:redemption_id>")
@login_required
@doc(response=RedemptionSchema)
def api_redemption(redemption_id):
    """One redemption (its owner or staff)."""
    return RedemptionSchema().dump(own_or_staff(redemption_id))


def own_or_staff(redemption_id: int) -> Redemption:
    row = db.session.get(Redemption, redemption_id) or abort(404)
    if row.user_id != current_user.id:
        return services.staff_redemption(current_user, redemption_id)
    return row


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


# -- pages ----------------------------------------------------------------------------------


FIELD_TITLES = {"amount": "金豆数量", "quantity": "数量", "phone": "手机号", "reason": "原因",
                "name": "名称", "cost": "所需金豆", "stock": "库存", "per_person_limit": "每人限兑",
                "description": "说明", "donor": "捐赠方", "note": "备注",
                "idempotency_key": "表单", "ends_at": "结束时间", "starts_at": "开始时间"}


def explain(fields: dict) -> str:
    """Field errors as one Chinese line: 金豆数量：必须是 1 到 … 之间的整数."""
    parts = []
    for name, messages in fields.items():
        text = " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
        if "integer" in text:
            text = "请输入整数"
        parts.append(f"{FIELD_TITLES.get(name, name)}：{text}")
    return "；".join(parts)


def form_action(action, success: str, back: str):
    """Run a page action; flash its outcome (Chinese) and go back."""
    try:
        action()
        db.session.commit()
        flash(success)
    except (ApiError, LedgerError) as err:
        db.session.rollback()
        err = ledger_error_as_api(err)
        if err.status in (403, 404) and err.code != "self_award":
            raise
        flash(explain(err.fields) if err.fields else err.message, "error")
    return redirect(back)


def local_to_aware(value: str) -> str | None:
    """A ``datetime-local`` input (local wall time) as ISO 8601 with the offset."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema names it
    zone = ZoneInfo(current_app.config.get("JINDOU_TIMEZONE", "Asia/Shanghai"))
    return moment.replace(tzinfo=moment.tzinfo or zone).isoformat()


def form(*names: str) -> dict:
    return {n: request.form.get(n, "").strip() for n in names}


def as_int(data: dict, *names: str) -> dict:
    """Form text to int where it is one (the schema names what is not)."""
    for name in names:
        value = data.get(name, "")
        if value == "":
            data.pop(name, None)
            continue
        with contextlib.suppress(ValueError):
            data[name] = int(value)
    return data


@bp.get("/points/wallet")
@login_required
def wallet_page():
    summary = services.wallet_summary(current_user)
    lines = services.history(current_user, limit=100)
    mine = db.session.scalars(select(Redemption).where(Redemption.user_id == current_user.id)
                              .order_by(Redemption.id.desc()).limit(20)).all()
    return render_template("points/wallet.html", summary=summary, lines=lines, redemptions=mine,
                           tz=ZoneInfo(current_app.config.get("JINDOU_TIMEZONE", "Asia/Shanghai")))


@bp.get("/points/orgs/<int:org_id>")
@login_required
def manage_page(org_id):
    org = staff_org(org_id)
    payer = services.funding_org(org)
    recent = db.session.scalars(services.awards_in(org).where(Award.status == "paid")
                                .order_by(Award.id.desc()).limit(20)).all()
    return render_template(
        "points/manage.html", org=org, fund=services.fund_balance(org), payer=payer,
        payer_balance=services.fund_balance(payer) if payer else 0,
        is_admin=has_role(current_user, org, Role.admin),
        expiry=services.expiry_months(org), unfunded=services.unfunded_awards(org),
        pending=services.pending_count(org), recent=recent,
        reversed_ids=services.reversed_transfer_ids(a.transfer_id for a in recent))


@bp.post("/points/orgs/<int:org_id>/deposits")
@login_required
def deposit_form(org_id):
    org = staff_org(org_id, Role.admin)
    data = as_int(form("amount", "donor", "note", "idempotency_key"), "amount")

    def action():
        d = load(DepositSchema(), data)
        services.deposit(current_user, org, amount=d["amount"], key=d["idempotency_key"],
                         donor=d["donor"], note=d["note"])

    return form_action(action, "已存入金豆基金", url_for("points.manage_page", org_id=org_id))


@bp.post("/points/orgs/<int:org_id>/awards")
@login_required
def award_form(org_id):
    org = staff_org(org_id)
    data = as_int(form("phone", "amount", "reason", "idempotency_key"), "amount")

    def action():
        d = load(AwardCreateSchema(), data)
        services.award(current_user, org, phone=d["phone"], amount=d["amount"],
                       reason=d["reason"], key=d["idempotency_key"])

    return form_action(action, "金豆已发放", url_for("points.manage_page", org_id=org_id))


@bp.post("/points/orgs/<int:org_id>/awards/batch")
@login_required
def award_batch_form(org_id):
    """批量发放: one "phone amount" per line, one reason for all."""
    org = staff_org(org_id)
    reason = request.form.get("reason", "").strip()
    key = request.form.get("idempotency_key", "").strip()
    lines, bad = [], []
    for raw in request.form.get("lines", "").splitlines():
        parts = raw.replace("，", " ").replace(",", " ").split()
        if not parts:
            continue
        amount = small_int(parts[1]) if len(parts) == 2 else None
        if amount is not None and PHONE_RE.fullmatch(parts[0]) and 0 < amount <= MAX_BEANS:
            lines.append((parts[0], amount))
        else:
            bad.append(raw.strip())
    back = url_for("points.manage_page", org_id=org_id)
    if bad or not lines or not reason or len(reason) > 100 or not key:
        flash("请检查：每行写“手机号 金豆数”，并填写原因" +
              (f"（有误的行：{'；'.join(bad[:3])}）" if bad else ""), "error")
        return redirect(back)
    return form_action(lambda: services.award_batch(current_user, org, lines=lines,
                                                    reason=reason, key=key),
                       f"已向 {len(lines)} 人发放金豆", back)


@bp.post("/points/awards/<int:award_id>/pay")
@login_required
def pay_award_form(award_id):
    row = db.session.get(Award, award_id) or abort(404)
    return form_action(lambda: services.pay_unfunded(current_user, award_id), "已补发",
                       url_for("points.manage_page", org_id=row.org_id))


@bp.post("/points/awards/<int:award_id>/reverse")
@login_required
def reverse_award_form(award_id):
    row = db.session.get(Award, award_id) or abort(404)
    reason = request.form.get("reason", "").strip()[:100] or "发放有误"
    return form_action(lambda: services.reverse_award(current_user, award_id, reason=reason),
                       "已冲正，金豆已退回基金", url_for("points.manage_page", org_id=row.org_id))


@bp.post("/points/orgs/<int:org_id>/settings")
@login_required
def settings_form(org_id):
    org = staff_org(org_id, Role.admin)
    raw = request.form.get("expiry_months", "").strip()
    months = small_int(raw)
    if raw and not (months is not None and 1 <= months <= 120):
        flash("有效期须为 1 到 120 个月，留空表示不过期", "error")
    else:
        services.set_expiry(current_user, org, months)
        db.session.commit()
        flash("已保存")
    return redirect(url_for("points.manage_page", org_id=org_id))


@bp.get("/points/orgs/<int:org_id>/rewards")
@login_required
def rewards_page(org_id):
    org = visible_org(org_id)
    staff = has_role(current_user, org, Role.staff)
    rewards = db.session.scalars(services.rewards_for(org, include_inactive=staff)
                                 .order_by(Reward.cost, Reward.id)).all()
    return render_template("points/rewards.html", org=org, rewards=rewards, staff=staff,
                           summary=services.wallet_summary(current_user),
                           now=services.utcnow(), is_open=services.is_open,
                           tz=ZoneInfo(current_app.config.get("JINDOU_TIMEZONE", "Asia/Shanghai")))


@bp.post("/points/orgs/<int:org_id>/rewards")
@login_required
def create_reward_form(org_id):
    org = staff_org(org_id)
    data = as_int(form("name", "cost", "stock", "description", "per_person_limit", "starts_at",
                       "ends_at"), "cost", "stock", "per_person_limit")
    for name in ("starts_at", "ends_at"):
        data[name] = local_to_aware(data.pop(name, ""))
    return form_action(lambda: services.create_reward(current_user, org,
                                                      **load(RewardCreateSchema(), data)),
                       "已上架", url_for("points.rewards_page", org_id=org_id))


@bp.post("/points/rewards/<int:reward_id>/update")
@login_required
def update_reward_form(reward_id):
    reward = db.session.get(Reward, reward_id) or abort(404)
    raw = request.form.get("add_stock", "").strip() or "0"
    active = {"on": True, "off": False}.get(request.form.get("active", ""))
    add_stock = small_int(raw)
    if add_stock is None or add_stock > 100_000:
        flash("补充库存须为 0 到 100000 的整数", "error")
    else:
        services.update_reward(current_user, reward, add_stock=add_stock, active=active)
        db.session.commit()
        flash("已更新")
    return redirect(url_for("points.rewards_page", org_id=reward.org_id))


@bp.post("/points/rewards/<int:reward_id>/redeem")
@login_required
def redeem_form(reward_id):
    reward = services.visible_reward(current_user, reward_id)
    data = as_int(form("quantity", "idempotency_key"), "quantity")
    try:
        d = load(RedemptionCreateSchema(), data)
        row = services.request_redemption(current_user, reward_id, quantity=d["quantity"],
                                          key=d["idempotency_key"])
    except (ApiError, LedgerError) as err:
        err = ledger_error_as_api(err)
        if err.status in (403, 404):
            raise
        flash(explain(err.fields) if err.fields else err.message, "error")
        return redirect(url_for("points.rewards_page", org_id=reward.org_id))
    flash("已提交兑换申请，请等待工作人员审核")
    return redirect(url_for("points.redemption_page", redemption_id=row.id))


def qr_svg(data: str) -> Markup:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    return Markup(image.to_string(encoding="unicode"))


@bp.get("/points/redemptions/<int:redemption_id>")
@login_required
def redemption_page(redemption_id):
    row = own_or_staff(redemption_id)
    pickup_url = url_for("points.pickup_page", code=row.code, _external=True)
    return render_template("points/redemption.html", row=row, pickup_url=pickup_url,
                           qr=qr_svg(pickup_url) if row.status == "approved" else None,
                           mine=row.user_id == current_user.id)


@bp.post("/points/redemptions/<int:redemption_id>/<any(approve, reject, fulfil, cancel):verb>")
@login_required
def decide_form(redemption_id, verb):
    actions = {
        "approve": lambda: services.approve(current_user, redemption_id),
        "reject": lambda: services.reject(current_user, redemption_id,
                                          reason=request.form.get("reason", "")[:200]),
        "fulfil": lambda: services.fulfil(current_user, redemption_id),
        "cancel": lambda: services.cancel(current_user, redemption_id),
    }
    done = {"approve": "已通过", "reject": "已拒绝，金豆已退回", "fulfil": "已核销领取",
            "cancel": "已取消，金豆已退回"}
    back = request.form.get("back", "")
    if not (back.startswith("/") and not back.startswith("//")):
        back = url_for("points.redemption_page", redemption_id=redemption_id)
    return form_action(actions[verb], done[verb], back)


@bp.get("/points/orgs/<int:org_id>/redemptions")
@login_required
def queue_page(org_id):
    org = staff_org(org_id)
    status = request.args.get("status", "pending")
    if status not in STATUS_TITLES:
        status = "pending"
    rows = db.session.scalars(services.queue(org, status).order_by(Redemption.id).limit(200)).all()
    return render_template("points/queue.html", org=org, rows=rows, status=status,
                           titles=STATUS_TITLES)


@bp.post("/points/orgs/<int:org_id>/pickup")
@login_required
def pickup_lookup(org_id):
    staff_org(org_id)
    row = services.by_code(request.form.get("code", ""))
    if row is None:
        flash("没有这个领取码，请核对", "error")
        return redirect(url_for("points.queue_page", org_id=org_id, status="approved"))
    return redirect(url_for("points.pickup_page", code=row.code))


@bp.get("/points/p/<code>")
@login_required
def pickup_page(code):
    """Where the QR code leads: staff see a 核销 button, the owner their redemption."""
    row = services.by_code(code) or abort(404)
    if row.user_id == current_user.id and not has_role(current_user, row.reward.org, Role.staff):
        return redirect(url_for("points.redemption_page", redemption_id=row.id))
    services.staff_redemption(current_user, row.id)
    return render_template("points/pickup.html", row=row)


def query_month():
    """``?month=YYYY-MM`` (400 when bad or outside 2000–2100); this month by default."""
    return month_arg() if request.args.get("month") else services.parse_month(None)


@bp.get("/points/orgs/<int:org_id>/leaderboard")
@login_required
def leaderboard_page(org_id):
    org = visible_org(org_id)
    month = query_month()
    return render_template("points/leaderboard.html", org=org, month=month,
                           rows=services.leaderboard(org, month))


@bp.get("/points/orgs/<int:org_id>/report")
@login_required
def report_page(org_id):
    org = staff_org(org_id)
    month = query_month()
    return render_template("points/report.html", org=org, month=month,
                           figures=services.report(org, month), titles=services.REPORT_TITLES)


@bp.get("/points/orgs/<int:org_id>/report.csv")
@login_required
def report_csv(org_id):
    org = staff_org(org_id)
    month = query_month()
    figures = services.report(org, month)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["组织", "月份", *services.REPORT_TITLES.values()])
    writer.writerow([org.name, month.strftime("%Y-%m"),
                     *(figures[k] for k in services.REPORT_TITLES)])
    name = f"jindou-points-{org.id}-{month:%Y-%m}.csv"
    # A BOM so that Excel opens the Chinese headers correctly.
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
