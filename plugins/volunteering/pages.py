"""Volunteering pages (Chinese, mobile first) on the ``volunteering`` blueprint.

Refusals follow core's one rule (core.pages): 404s and plain 403s are error
pages, the rest are flashed.
"""

from __future__ import annotations

import io
from datetime import timedelta

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from core import qr
from core.access import can_see, get_org, has_role, require_role
from core.api import ApiError, BadRequest
from core.auth.services import memberships_of
from core.export import csv_response, safe_cell
from core.extensions import db
from core.models import Role, User, utcnow
from core.pages import ascii_int, form_action, form_fields, form_ints, message_of
from core.people.services import resolve_person_code
from core.plugins import manager, require_enabled
from core.times import day_range, local_input, local_today, parse_day, to_local
from plugins.volunteering import services
from plugins.volunteering.models import CATEGORIES, Activity
from plugins.volunteering.schemas import (
    ActivityCreateSchema,
    BackfillSchema,
    CancelActivitySchema,
    CopyActivitySchema,
)
from plugins.volunteering.views import (
    activity_dict,
    bp,
    checkin_code,
    person_user_id,
    staff_activity,
)

# Form fields named in a flashed refusal, in Chinese.
TITLES = {
    "category": "类别",
    "signup_deadline": "报名截止",
    "points": "完成奖励金豆",
    "points_per_hour": "每小时金豆",
    "checked_in_at": "到达时间",
    "checked_out_at": "离开时间",
    "title": "活动名称",
    "capacity": "名额",
    "person_code": "个人码",
    "reason": "取消原因",
}
INPUT_FORMAT = "%Y-%m-%dT%H:%M"
WEEKDAYS = "一二三四五六日"


def when_text(moment) -> str:
    """今天 14:30 / 明天 9:00 / 周三 14:30 / 12月8日 14:30: how people say when."""
    local = to_local(moment)
    days = (local.date() - local_today()).days
    clock = f"{local.hour}:{local.minute:02d}"
    if days == 0:
        return f"今天 {clock}"
    if days == 1:
        return f"明天 {clock}"
    if 1 < days < 7:
        return f"周{WEEKDAYS[local.weekday()]} {clock}"
    return f"{local.month}月{local.day}日 {clock}"


def _page_org():
    """``?org_id=`` (core has already checked it names an organization where
    volunteering is on), else the person's deepest organization."""
    org = manager().request_org()
    if org is not None:
        if not can_see(current_user, org):
            abort(404)
        return org
    rows = memberships_of(current_user)
    org = rows[-1][1] if rows else None  # the deepest: activities of it and its ancestors
    if org is not None:
        require_enabled(org, "volunteering")
    return org


# -- activity list and detail -----------------------------------------------------------------


@bp.get("/volunteering/")
@login_required
def activities():
    org = _page_org()
    items = []
    if org is not None:
        stmt = (
            services.activities_query(current_user, org)
            .order_by(Activity.starts_at, Activity.id)
            .limit(100)
        )
        items = [activity_dict(a, current_user) for a in db.session.scalars(stmt)]
    return render_template(
        "volunteering/activities.html",
        org=org,
        items=items,
        is_staff=org is not None and has_role(current_user, org, Role.staff),
        is_admin=org is not None and has_role(current_user, org, Role.admin),
        honour_points=org is not None and services.honour_hours_earn_points(org),
    )


@bp.get("/volunteering/activities/<int:activity_id>")
@login_required
def activity(activity_id):
    act = services.visible_activity(current_user, activity_id)
    next_week = to_local(act.starts_at + timedelta(days=7)).strftime(INPUT_FORMAT)
    return render_template(
        "volunteering/activity.html",
        act=act,
        info=activity_dict(act, current_user),
        next_week=next_week,
        is_staff=has_role(current_user, act.organization, Role.staff),
    )


@bp.post("/volunteering/activities/<int:activity_id>/signup")
@login_required
def sign_up(activity_id):
    # Not form_action: the message depends on the place taken.
    try:
        signup, _created = services.sign_up(current_user, activity_id)
        flash(_("报名成功，名额已确认") if signup.status == "confirmed" else _("已进入候补名单"))
    except ApiError as err:  # its message, not its fields: a clash names the other activity
        flash(err.message, "error")
    return redirect(url_for("volunteering.activity", activity_id=activity_id))


@bp.post("/volunteering/activities/<int:activity_id>/cancel")
@login_required
def cancel(activity_id):
    return form_action(
        lambda: services.cancel_signup(current_user, activity_id),
        _("已取消报名"),
        url_for("volunteering.activity", activity_id=activity_id),
    )


@bp.route("/volunteering/orgs/<int:org_id>/activities/new", methods=["GET", "POST"])
@login_required
def new_activity(org_id):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    form = request.form.to_dict()
    if request.method == "POST":
        try:
            act = services.create_activity(
                current_user, org, ActivityCreateSchema().load(_activity_form())
            )
            db.session.commit()
            flash(_("活动已发布"))
            return redirect(url_for("volunteering.activity", activity_id=act.id))
        except (ValidationError, ApiError) as err:
            db.session.rollback()
            flash(message_of(err, TITLES), "error")  # and the form again, as typed
    return render_template("volunteering/new.html", org=org, form=form, categories=CATEGORIES)


@bp.route("/volunteering/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit_activity(activity_id):
    act = staff_activity(activity_id)
    form = {
        **{k: ("" if v is None else v) for k, v in services.current_fields(act).items()},
        **{
            k: to_local(getattr(act, k)).strftime(INPUT_FORMAT) if getattr(act, k) else ""
            for k in ("starts_at", "ends_at", "signup_deadline")
        },
    }
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            data = ActivityCreateSchema().load(_activity_form())
            changed = [k for k in services.EDITABLE if data.get(k) != getattr(act, k)]
            services.update_activity(current_user, act.id, data, changed)
            flash(_("活动已修改"))
            return redirect(url_for("volunteering.activity", activity_id=act.id))
        except (ValidationError, ApiError) as err:
            db.session.rollback()
            flash(message_of(err, TITLES), "error")  # and the form again, as typed
    return render_template(
        "volunteering/new.html", org=act.organization, form=form, act=act, categories=CATEGORIES
    ), 400 if request.method == "POST" else 200


@bp.post("/volunteering/activities/<int:activity_id>/cancel-activity")
@login_required
def cancel_activity(activity_id):
    act = staff_activity(activity_id)
    return form_action(
        lambda: services.cancel_activity(
            current_user, act, CancelActivitySchema().load(form_fields("reason"))["reason"]
        ),
        _("活动已取消，已报名的志愿者会看到取消原因"),
        url_for("volunteering.activity", activity_id=act.id),
        titles=TITLES,
    )


@bp.post("/volunteering/activities/<int:activity_id>/copy")
@login_required
def copy_activity(activity_id):
    act = staff_activity(activity_id)
    try:
        data = CopyActivitySchema().load(
            {"starts_at": local_input(request.form.get("starts_at", "").strip()) or ""}
        )
        copy = services.copy_activity(current_user, act, data["starts_at"])
        db.session.commit()
    except (ValidationError, ApiError) as err:
        db.session.rollback()
        flash(message_of(err, {**TITLES, "starts_at": "新活动开始时间"}), "error")
        return redirect(url_for("volunteering.activity", activity_id=act.id))
    flash(_("已复制为新活动，可以再修改"))
    return redirect(url_for("volunteering.activity", activity_id=copy.id))


def _activity_form() -> dict:
    data = form_fields(*services.EDITABLE)
    for key in ("starts_at", "ends_at", "signup_deadline"):
        data[key] = local_input(data[key])
    return form_ints(data, "capacity", "points", "points_per_hour")


# -- staff screens: rotating codes and the person-code scanner ---------------------------------


@bp.get("/volunteering/activities/<int:activity_id>/screen")
@login_required
def screen(activity_id):
    act = staff_activity(activity_id)
    kind = "out" if request.args.get("kind") == "out" else "in"
    return render_template(
        "volunteering/screen.html", act=act, kind=kind, closed=screen_closed(act, kind)
    )


def screen_closed(act: Activity, kind: str) -> str | None:
    """Why the screen shows no code (not open yet, over, cancelled), else None."""
    now = utcnow()
    if act.cancelled_at is not None:
        return _("活动已取消：%(reason)s", reason=act.cancel_reason)
    opens = act.starts_at - services.CHECKIN_OPENS_BEFORE
    if now < opens:
        return (
            _("签到将于 %(when)s 开放", when=when_text(opens))
            if kind == "in"
            else _("签退将于 %(when)s 开放", when=when_text(act.starts_at))
        )
    if kind == "in" and now >= act.ends_at:
        return _("活动已结束，签到已关闭")
    if kind == "out" and now > act.ends_at + services.grace():
        return _("签退时间已过")
    return None


@bp.get("/volunteering/activities/<int:activity_id>/screen.json")
@login_required
def screen_json(activity_id):
    act = staff_activity(activity_id)
    kind = "out" if request.args.get("kind") == "out" else "in"
    code = checkin_code(act, kind)
    return jsonify(
        {
            "url": code.url,
            "expires_at": code.expires_at.isoformat(),
            "now": utcnow().isoformat(),
            "svg": qr.svg(code.url),
            **services.presence(act.id),
        }
    )


@bp.route("/volunteering/activities/<int:activity_id>/scanner", methods=["GET", "POST"])
@login_required
def scanner(activity_id):
    act = staff_activity(activity_id)
    result = None
    if request.method == "POST":
        kind = "out" if request.form.get("kind") == "out" else "in"
        try:
            data = {
                "kind": kind,
                "code": request.form.get("code") or None,
                "token": qr.read_photo(request.files.get("photo")),
            }
            if not data["code"] and not data["token"]:
                raise BadRequest(_("请扫描个人码或输入短码"), code="no_code")
            user_id = person_user_id(act, data)
            scan = services.staff_scan(current_user, act, kind, user_id=user_id)
            name = db.session.get(User, user_id).name
            result = {
                "ok": True,
                "headline": _("%(name)s 签到成功", name=name)
                if kind == "in"
                else _("%(name)s 签退成功", name=name),
                "detail": ""
                if kind == "in"
                else _("服务 %(time)s", time=services.format_minutes(scan.minutes)),
            }
        except ApiError as err:
            db.session.rollback()
            result = {"ok": False, "headline": _("未能完成"), "detail": err.message}
    return render_template(
        "volunteering/scanner.html",
        act=act,
        result=result,
        kind=request.form.get("kind", request.args.get("kind", "in")),
    )


@bp.post("/volunteering/activities/<int:activity_id>/walk-in")
@login_required
def walk_in(activity_id):
    """ "报名并签到": someone who had not signed up, at the door, while places last."""
    act = staff_activity(activity_id)
    try:
        code = request.form.get("person_code", "").strip() or qr.read_photo(
            request.files.get("photo")
        )
        if not code:
            raise BadRequest(_("请扫描个人码或输入短码"), code="no_code")
        person = resolve_person_code(code, within_org=act.organization)
        attendance, created = services.walk_in(current_user, act.id, person)
        result = {
            "ok": True,
            "headline": _("%(name)s 报名并签到成功", name=person.name)
            if created
            else _("%(name)s 已签到", name=person.name),
            "detail": _(
                "签到时间 %(time)s", time=to_local(attendance.checked_in_at).strftime("%H:%M")
            ),
        }
    except ApiError as err:
        db.session.rollback()
        result = {"ok": False, "headline": _("未能完成"), "detail": message_of(err, TITLES)}
    return render_template(
        "volunteering/scanner.html", act=act, result=result, kind="in", walk_in=True
    ), 200 if result["ok"] else 400


@bp.get("/volunteering/my-code")
@login_required
def my_code():
    code = qr.person_code(current_user.id)
    return render_template(
        "volunteering/my_code.html", code=code, svg=qr.svg(qr.scan_url(code.token))
    )


# -- attendance and back-fill ---------------------------------------------------------------


@bp.route("/volunteering/activities/<int:activity_id>/attendance", methods=["GET", "POST"])
@login_required
def attendance(activity_id):
    act = staff_activity(activity_id)
    if request.method == "POST":
        # Not form_action: an unknown phone (a 404 in the API) is a typo to flash here.
        try:
            data = BackfillSchema().load(_backfill_form())
            user = services.user_by_phone(data.pop("phone"))
            services.backfill(current_user, act, user=user, **data)
            flash(_("已补录"))
        except (ValidationError, ApiError) as err:
            db.session.rollback()
            flash(message_of(err, TITLES), "error")
        return redirect(url_for("volunteering.attendance", activity_id=act.id))
    rows = services.attendance_list(act)
    q = request.args.get("q", "").strip()[:50]
    page = min(max(1, ascii_int(request.args.get("page", ""), 5) or 1), 10_000)
    roster, more = services.roster(act, q, page)
    return render_template(
        "volunteering/attendance.html",
        act=act,
        rows=rows,
        fmt=services.format_minutes,
        roster=roster,
        q=q,
        page=page,
        more=more,
    )


def _backfill_form() -> dict:
    data = form_fields("phone", "checked_in_at", "checked_out_at", "reason")
    for key in ("checked_in_at", "checked_out_at"):
        data[key] = local_input(data[key])
    return data


# -- service record, certificate, verification, export ----------------------------------------


@bp.get("/volunteering/record")
@login_required
def record():
    return render_template(
        "volunteering/record.html",
        record=services.service_record(current_user),
        fmt=services.format_minutes,
    )


@bp.get("/volunteering/record/certificate")
@login_required
def certificate():
    rec = services.service_totals(current_user)
    issued = local_today()
    token = qr.sign(
        "certificate",
        {
            "u": current_user.id,
            "v": rec["verified_minutes"],
            "h": rec["honour_minutes"],
            "d": issued.isoformat(),
        },
    )
    verify_url = url_for("volunteering.verify", token=token, _external=True)
    return render_template(
        "volunteering/certificate.html",
        record=rec,
        issued=issued,
        svg=qr.svg(verify_url),
        verify_url=verify_url,
        fmt=services.format_minutes,
    )


@bp.get("/volunteering/verify/<path:token>")
def verify(token):
    """Public: anyone holding a printed certificate can check it is genuine."""
    try:
        _purpose, payload = qr.verify(token, "certificate")
        user = db.session.get(User, payload["u"]) or abort(404)
    except ApiError:
        return render_template("volunteering/verify.html", ok=False), 400
    return render_template(
        "volunteering/verify.html",
        ok=True,
        payload=payload,
        user=user,
        fmt=services.format_minutes,
        current=services.service_totals(user),
    )


def _export_rows(org_id: int):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    start, end = (
        parse_day(request.args.get("from"), field="from"),
        parse_day(request.args.get("to"), field="to"),
    )
    end = end or local_today()
    start = start or end.replace(day=1)
    return org, start, end, services.export_rows(org, *day_range(start, end))


@bp.get("/volunteering/orgs/<int:org_id>/export.csv")
@login_required
def export_csv(org_id):
    org, start, end, table = _export_rows(org_id)
    return csv_response(f"service-{org.id}-{start}-{end}.csv", services.EXPORT_HEADER, table)


@bp.get("/volunteering/orgs/<int:org_id>/export.xlsx")
@login_required
def export_xlsx(org_id):
    from openpyxl import Workbook

    org, start, end, table = _export_rows(org_id)
    book = Workbook()
    sheet = book.active
    sheet.title = "志愿服务记录"
    # Excel runs formulas here too (openpyxl stores "=..." as one): text is
    # defused like the CSV's; numbers stay numbers.
    for row in [services.EXPORT_HEADER, *table]:
        sheet.append([safe_cell(v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        headers={
            "Content-Disposition": f"attachment; filename=service-{org.id}-{start}-{end}.xlsx"
        },
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@bp.post("/volunteering/orgs/<int:org_id>/settings")
@login_required
def settings(org_id):
    org = get_org(org_id)
    return form_action(
        lambda: services.set_honour_hours_earn_points(
            current_user, org, request.form.get("honour") == "on"
        ),
        _("设置已保存"),
        url_for("volunteering.activities", org_id=org.id),
    )
