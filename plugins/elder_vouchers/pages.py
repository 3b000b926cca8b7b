"""居家养老服务券 pages (Chinese, phone first, big numbers), on the blueprint
of views.py. Thin: read the form, call one service through core's
``form_action``, go back. Refusals follow core's one rule (core.pages).

- ``/vouchers/worker``: the worker at the door (scan to start, scan to finish, cancel);
- ``/vouchers/me``: the elder or a relative (vouchers left, 满意 or a dispute);
- ``/vouchers/orgs/<org_id>/``: staff (programmes, enrolment, issuance,
  providers and workers, disputes, claims at my level), with settlement
  (CSV, XLSX) and anomaly pages.
"""

from __future__ import annotations

import io
import re

from flask import render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from core.access import org_with_role, subtree_ids
from core.api import BadRequest, NotFound, load
from core.export import csv_response, safe_cell
from core.extensions import db
from core.models import Organization, Role, User
from core.pages import form_action, form_fields, form_ints
from core.people.services import dependants_of, mask_phone
from core.times import parse_month, this_month
from plugins.elder_vouchers import services
from plugins.elder_vouchers.models import Programme, Provider, Service, Visit
from plugins.elder_vouchers.schemas import (
    ConfirmSchema,
    DisputeSchema,
    ProgrammeCreateSchema,
    ProviderCreateSchema,
    VisitFinishSchema,
    VisitStartSchema,
    VoucherDepositSchema,
    VoucherRejectSchema,
)
from plugins.elder_vouchers.views import bp

TITLES = {
    "person_code": "老人的码",
    "service_id": "服务项目",
    "programme_id": "服务券项目",
    "monthly_amount": "每月金额（分）",
    "min_age": "最低年龄",
    "expiry": "过期方式",
    "amount": "金额（分）",
    "reason": "原因",
    "rating": "评价",
    "services": "服务项目",
    "idempotency_key": "表单标识（请刷新页面重试）",
}
STATUS = {
    "open": "服务中",
    "finished": "已完成",
    "cancelled": "已取消",
    "disputed": "有异议",
    "refunded": "已退回",
    "submitted": "审核中",
    "approved": "已批准",
    "rejected": "已退回",
}
SERVICE_LINE = re.compile(r"^\s*(\S.*?)\s+(\d{1,7})\s*$")


def act(action, success: str, back: str):
    return form_action(action, success, back, titles=TITLES)


def scanned(fn):
    """Run ``fn``; a code matching nobody is a typing slip at the door, so the
    page flashes it (core would show a 404 page) and the worker scans again."""
    try:
        return fn()
    except NotFound as err:
        if err.code != "person_not_found":
            raise
        raise BadRequest(err.message, fields={"person_code": [err.message]}, code=err.code) from err


def yuan(fen: int | None) -> str:
    return f"{(fen or 0) / 100:.2f}"


@bp.app_template_filter("yuan")
def yuan_filter(fen):
    return yuan(fen)


# -- the worker at the door -------------------------------------------------------------------


@bp.get("/vouchers/worker")
@login_required
def worker_page():
    providers = services.providers_of_worker(current_user)
    visit = services.open_visit_of(current_user)
    offers = [
        {
            "provider": p,
            "services": services.services_of(p),
            "programmes": services.programmes_of(db.session.get(Organization, p.org_id)),
        }
        for p in providers
    ]
    open_info = None
    if visit is not None:
        open_info = {
            "visit": visit,
            "person": db.session.get(User, visit.person_id),
            "service": db.session.get(Service, visit.service_id),
        }
    return render_template(
        "elder_vouchers/worker.html", offers=offers, open=open_info, status=STATUS
    )


@bp.post("/vouchers/worker/visits")
@login_required
def start_visit_form():
    back = url_for(".worker_page")

    def action():
        data = form_fields("provider_id", "person_code", "service_id", "programme_id")
        form_ints(data, "provider_id", "service_id", "programme_id")
        provider_id = data.pop("provider_id")
        if not isinstance(provider_id, int):
            raise NotFound("没有这个服务商")
        body = load(VisitStartSchema(), data)
        provider = services.get_provider(provider_id)
        scanned(lambda: services.start_visit(current_user, provider, **body))

    return act(action, "服务已开始，结束时请再扫一次老人的码", back)


@bp.post("/vouchers/visits/<int:visit_id>/finish")
@login_required
def finish_visit_form(visit_id):
    def action():
        body = load(VisitFinishSchema(), form_fields("person_code"))
        visit = services.get_visit(visit_id)
        scanned(lambda: services.finish_visit(current_user, visit, **body))

    return act(action, "服务已完成，服务券已核销", url_for(".worker_page"))


@bp.post("/vouchers/visits/<int:visit_id>/cancel")
@login_required
def cancel_visit_form(visit_id):
    back = request.form.get("back") == "manage"
    visit = services.get_visit(visit_id)
    target = url_for(".manage_page", org_id=visit.org_id) if back else url_for(".worker_page")
    return act(lambda: services.cancel_visit(current_user, visit), "已取消，服务券已退回", target)


# -- the elder or a relative --------------------------------------------------------------------


@bp.get("/vouchers/me")
@login_required
def my_page():
    people = [current_user._get_current_object(), *dependants_of(current_user)]
    rows = []
    for person in people:
        visits = services.visits_of_person(person, 20)
        names = services.service_names(visits)
        providers = (
            dict(
                db.session.execute(
                    select(Provider.id, Provider.name).where(
                        Provider.id.in_({v.provider_id for v in visits})
                    )
                ).all()
            )
            if visits
            else {}
        )
        rows.append(
            {
                "person": person,
                "me": person.id == current_user.id,
                "wallet": services.wallet_items(person),
                "visits": visits,
                "service_names": names,
                "provider_names": providers,
            }
        )
    rows = [r for r in rows if r["me"] or r["wallet"] or r["visits"]]
    return render_template("elder_vouchers/me.html", rows=rows, status=STATUS)


@bp.post("/vouchers/visits/<int:visit_id>/confirm")
@login_required
def confirm_visit_form(visit_id):
    def action():
        data = form_fields("rating", "comment")
        form_ints(data, "rating")
        services.confirm_visit(
            current_user, services.get_visit(visit_id), **load(ConfirmSchema(), data)
        )

    return act(action, "谢谢您的评价", url_for(".my_page"))


@bp.post("/vouchers/visits/<int:visit_id>/dispute")
@login_required
def dispute_visit_form(visit_id):
    def action():
        services.dispute_visit(
            current_user,
            services.get_visit(visit_id),
            **load(DisputeSchema(), form_fields("reason")),
        )

    return act(action, "异议已提交，社区工作人员会尽快处理", url_for(".my_page"))


# -- staff ---------------------------------------------------------------------------------------


@bp.get("/vouchers/orgs/<int:org_id>/")
@login_required
def manage_page(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    programmes = [
        services.programme_dict(p)
        for p in db.session.scalars(
            select(Programme)
            .where(Programme.org_id.in_(subtree_ids(org)) | Programme.org_id.in_(org.ancestor_ids))
            .order_by(Programme.id)
        )
    ]
    providers = [
        {
            "provider": p,
            "services": services.services_of(p),
            "workers": [(w.name, mask_phone(w.phone)) for w in services.workers_of(p)],
        }
        for p in db.session.scalars(
            select(Provider).where(Provider.org_id.in_(subtree_ids(org))).order_by(Provider.id)
        )
    ]
    disputes = db.session.scalars(
        select(Visit)
        .where(Visit.org_id.in_(subtree_ids(org)), Visit.status == "disputed")
        .order_by(Visit.id)
    ).all()
    claims = services.claims_at_my_level(current_user, org)
    names = dict(
        db.session.execute(
            select(Provider.id, Provider.name).where(Provider.org_id.in_(subtree_ids(org)))
        ).all()
    )
    return render_template(
        "elder_vouchers/manage.html",
        org=org,
        programmes=programmes,
        providers=providers,
        disputes=disputes,
        claims=claims,
        provider_names=names,
        month=this_month(),
        status=STATUS,
        can_admin=org_with_role_ok(org, Role.admin),
    )


def org_with_role_ok(org, role) -> bool:
    from core.access import has_role

    return has_role(current_user, org, role)


@bp.post("/vouchers/orgs/<int:org_id>/programmes")
@login_required
def create_programme_form(org_id):
    def action():
        data = form_fields("name", "monthly_amount", "min_age", "expiry")
        form_ints(data, "monthly_amount", "min_age")
        data["hardship_only"] = request.form.get("hardship_only") == "on"
        services.create_programme(
            current_user,
            org_with_role(current_user, org_id, Role.admin),
            **load(ProgrammeCreateSchema(), data),
        )

    return act(action, "项目已设立", url_for(".manage_page", org_id=org_id))


@bp.post("/vouchers/orgs/<int:org_id>/programmes/<int:programme_id>/deposits")
@login_required
def deposit_form(org_id, programme_id):
    def action():
        data = form_fields("amount", "note", "idempotency_key")
        form_ints(data, "amount")
        body = load(VoucherDepositSchema(), data)
        services.deposit(
            current_user,
            services.get_programme(programme_id),
            amount=body["amount"],
            key=body["idempotency_key"],
            note=body["note"],
        )

    return act(action, "预算已拨入", url_for(".manage_page", org_id=org_id))


@bp.post("/vouchers/orgs/<int:org_id>/programmes/<int:programme_id>/issuances")
@login_required
def issue_form(org_id, programme_id):
    def action():
        month = parse_month(request.form.get("month"))
        return services.issue(current_user, services.get_programme(programme_id), month)

    return act(
        action, "本月服务券已发放（已发过的不会重复发放）", url_for(".manage_page", org_id=org_id)
    )


@bp.post("/vouchers/orgs/<int:org_id>/programmes/<int:programme_id>/enrolments")
@login_required
def enrol_form(org_id, programme_id):
    def action():
        phone = (request.form.get("phone") or "").strip()
        person = db.session.scalar(select(User).where(User.phone == phone)) if phone else None
        if person is None:
            raise NotFound("没有找到这个手机号的老人", code="user_not_found")
        services.enrol(current_user, services.get_programme(programme_id), person.id)

    return act(action, "已登记参加", url_for(".manage_page", org_id=org_id))


@bp.post("/vouchers/orgs/<int:org_id>/providers")
@login_required
def create_provider_form(org_id):
    def action():
        lines = []
        for raw in (request.form.get("services") or "").splitlines():
            if raw.strip():
                match = SERVICE_LINE.match(raw)
                lines.append(
                    {"name": match.group(1), "price": int(match.group(2))}
                    if match
                    else {"name": raw.strip()}
                )
        body = load(
            ProviderCreateSchema(),
            {"name": request.form.get("name", "").strip(), "services": lines},
        )
        services.create_provider(
            current_user, org_with_role(current_user, org_id, Role.admin), **body
        )

    return act(action, "服务商已添加", url_for(".manage_page", org_id=org_id))


@bp.post("/vouchers/orgs/<int:org_id>/providers/<int:provider_id>/workers")
@login_required
def add_worker_form(org_id, provider_id):
    def action():
        phone = (request.form.get("phone") or "").strip()
        services.add_worker(current_user, services.get_provider(provider_id), phone)

    return act(action, "服务人员已添加", url_for(".manage_page", org_id=org_id))


@bp.post("/vouchers/orgs/<int:org_id>/visits/<int:visit_id>/resolve")
@login_required
def resolve_form(org_id, visit_id):
    upheld = request.form.get("upheld") == "yes"
    return act(
        lambda: services.resolve_dispute(current_user, services.get_visit(visit_id), upheld=upheld),
        "异议成立，服务券已退回" if upheld else "异议不成立，可以结算",
        url_for(".manage_page", org_id=org_id),
    )


@bp.post("/vouchers/orgs/<int:org_id>/claims/<int:claim_id>/approve")
@login_required
def approve_form(org_id, claim_id):
    return act(
        lambda: services.approve_claim(current_user, services.get_claim(claim_id)),
        "已签批",
        url_for(".manage_page", org_id=org_id),
    )


@bp.post("/vouchers/orgs/<int:org_id>/claims/<int:claim_id>/reject")
@login_required
def reject_form(org_id, claim_id):
    def action():
        body = load(VoucherRejectSchema(), form_fields("reason"))
        services.reject_claim(current_user, services.get_claim(claim_id), **body)

    return act(action, "已退回，服务商可重新申报", url_for(".manage_page", org_id=org_id))


@bp.get("/vouchers/orgs/<int:org_id>/settlement")
@login_required
def settlement_page(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    month = parse_month(request.args.get("month"))
    report = services.settlement(current_user, org, month)
    fmt = request.args.get("format")
    name = f"服务券结算-{org.name}-{report['month']}"
    if fmt == "csv":
        return csv_response(
            f"{name}.csv", services.SETTLEMENT_HEADER, services.settlement_rows(report)
        )
    if fmt == "xlsx":
        return _xlsx(f"{name}.xlsx", services.SETTLEMENT_HEADER, services.settlement_rows(report))
    return render_template("elder_vouchers/settlement.html", org=org, report=report)


def _xlsx(filename: str, header: list, rows: list):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "结算"
    sheet.append(header)
    for row in rows:
        # Text cells defused as in CSV; numbers stay numbers.
        sheet.append([safe_cell(c) if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return send_file(
        out,
        as_attachment=True,
        download_name=filename,
        mimetype=("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )


@bp.get("/vouchers/orgs/<int:org_id>/anomalies")
@login_required
def anomalies_page(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    month = parse_month(request.args.get("month"))
    flags = services.anomalies(current_user, org, month)
    return render_template(
        "elder_vouchers/anomalies.html",
        org=org,
        flags=flags,
        month=month,
        titles={
            "too_short": "时间过短",
            "too_long": "时间过长",
            "overlap": "同时两人上门",
            "same_minute": "同一分钟结束",
        },
    )
