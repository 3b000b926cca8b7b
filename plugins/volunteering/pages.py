"""Volunteering pages (Chinese, mobile first) on the ``volunteering`` blueprint."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

from flask import (
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
from marshmallow import ValidationError

from core import qr
from core.access import can_see, get_org, has_role, require_role
from core.api import MAX_YEAR, MIN_YEAR, ApiError, BadRequest, arg_id
from core.auth.services import memberships_of
from core.extensions import db
from core.models import Role, User, utcnow
from plugins.volunteering import services
from plugins.volunteering.models import CATEGORIES, Activity
from plugins.volunteering.schemas import ActivityCreateSchema, BackfillSchema
from plugins.volunteering.views import (
    activity_dict,
    bp,
    checkin_code,
    person_user_id,
    staff_activity,
)


@bp.app_template_filter("vol_time")
def vol_time(value: datetime | None, fmt: str = "%m月%d日 %H:%M") -> str:
    return value.astimezone(services.local_zone()).strftime(fmt) if value else ""


@bp.app_template_filter("vol_iso")
def vol_iso(value: str | None, fmt: str = "%m月%d日 %H:%M") -> str:
    return vol_time(datetime.fromisoformat(value), fmt) if value else ""


def _flash_error(err: Exception) -> None:
    if isinstance(err, ValidationError):
        flash("；".join(f"{k}: {' '.join(map(str, v))}"
                       for k, v in err.normalized_messages().items()), "error")
    else:
        flash(err.message, "error")


def _page_org():
    org_id = arg_id("org")  # bounded: ?org=10**30 is no overflow
    if request.args.get("org") and org_id is None:
        abort(404)
    if org_id:
        org = get_org(org_id)
        if not can_see(current_user, org):
            abort(404)
        return org
    rows = memberships_of(current_user)
    return rows[-1][1] if rows else None  # the deepest: activities of it and its ancestors


# -- activity list and detail -----------------------------------------------------------------


@bp.get("/volunteering/")
@login_required
def activities():
    org = _page_org()
    items = []
    if org is not None:
        if not current_app.extensions["jindou_plugins"].is_enabled(org, "volunteering"):
            abort(404)
        stmt = services.activities_query(current_user, org).order_by(Activity.starts_at,
                                                                     Activity.id).limit(100)
        items = [activity_dict(a, current_user) for a in db.session.scalars(stmt)]
    return render_template(
        "volunteering/activities.html", org=org, items=items,
        is_staff=org is not None and has_role(current_user, org, Role.staff),
        is_admin=org is not None and has_role(current_user, org, Role.admin),
        honour_points=org is not None and services.honour_hours_earn_points(org))


@bp.get("/volunteering/activities/<int:activity_id>")
@login_required
def activity(activity_id):
    act = services.visible_activity(current_user, activity_id)
    return render_template("volunteering/activity.html", act=act,
                           info=activity_dict(act, current_user),
                           is_staff=has_role(current_user, act.organization, Role.staff))


@bp.post("/volunteering/activities/<int:activity_id>/signup")
@login_required
def sign_up(activity_id):
    try:
        signup, _created = services.sign_up(current_user, activity_id)
        flash("报名成功，名额已确认" if signup.status == "confirmed" else "已进入候补名单")
    except ApiError as err:
        _flash_error(err)
    return redirect(url_for("volunteering.activity", activity_id=activity_id))


@bp.post("/volunteering/activities/<int:activity_id>/cancel")
@login_required
def cancel(activity_id):
    try:
        services.cancel_signup(current_user, activity_id)
        flash("已取消报名")
    except ApiError as err:
        _flash_error(err)
    return redirect(url_for("volunteering.activity", activity_id=activity_id))


@bp.route("/volunteering/orgs/<int:org_id>/activities/new", methods=["GET", "POST"])
@login_required
def new_activity(org_id):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    form = request.form.to_dict()
    if request.method == "POST":
        data = _activity_form(form)
        try:
            act = services.create_activity(current_user, org, ActivityCreateSchema().load(data))
            db.session.commit()
            flash("活动已发布")
            return redirect(url_for("volunteering.activity", activity_id=act.id))
        except (ValidationError, ApiError) as err:
            db.session.rollback()
            _flash_error(err)
    return render_template("volunteering/new.html", org=org, form=form, categories=CATEGORIES)


def _local_iso(value: str) -> str | None:
    """``<input type=datetime-local>`` gives local wall time; add the local offset."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=services.local_zone()).isoformat()
    except ValueError:
        return value or None


def _activity_form(form: dict) -> dict:
    data = {k: form.get(k, "").strip() for k in ("title", "category", "location", "description")}
    for key in ("starts_at", "ends_at", "signup_deadline"):
        data[key] = _local_iso(form.get(key, ""))
    for key in ("capacity", "points", "points_per_hour"):
        raw = form.get(key, "").strip()
        # ASCII digits only: "²".isdigit() is true but int("²") fails.
        data[key] = int(raw) if re.fullmatch(r"-?\d{1,18}", raw, re.ASCII) else raw
    return data


# -- staff screens: rotating codes and the person-code scanner ---------------------------------


@bp.get("/volunteering/activities/<int:activity_id>/screen")
@login_required
def screen(activity_id):
    act = staff_activity(activity_id)
    kind = "out" if request.args.get("kind") == "out" else "in"
    return render_template("volunteering/screen.html", act=act, kind=kind)


@bp.get("/volunteering/activities/<int:activity_id>/screen.json")
@login_required
def screen_json(activity_id):
    act = staff_activity(activity_id)
    kind = "out" if request.args.get("kind") == "out" else "in"
    code = checkin_code(act, kind)
    return jsonify({"url": code.url, "expires_at": code.expires_at.isoformat(),
                    "now": utcnow().isoformat(), "svg": qr.svg(code.url),
                    **services.presence(act.id)})


@bp.route("/volunteering/activities/<int:activity_id>/scanner", methods=["GET", "POST"])
@login_required
def scanner(activity_id):
    act = staff_activity(activity_id)
    result = None
    if request.method == "POST":
        kind = "out" if request.form.get("kind") == "out" else "in"
        try:
            data = {"kind": kind, "code": request.form.get("code") or None,
                    "token": _decode_photo(request.files.get("photo"))}
            if not data["code"] and not data["token"]:
                raise BadRequest("请扫描个人码或输入短码", code="no_code")
            user_id = person_user_id(act, data)
            scan = services.staff_scan(current_user, act, kind, user_id=user_id)
            name = db.session.get(User, user_id).name
            result = {"ok": True, "headline": f"{name} {'签到' if kind == 'in' else '签退'}成功",
                      "detail": "" if kind == "in" else
                      f"服务 {services.format_minutes(scan.minutes)}"}
        except ApiError as err:
            db.session.rollback()
            result = {"ok": False, "headline": "未能完成", "detail": err.message}
    return render_template("volunteering/scanner.html", act=act, result=result,
                           kind=request.form.get("kind", request.args.get("kind", "in")))


def _decode_photo(upload) -> str | None:
    """A photo of a person's code, for phones whose browser has no BarcodeDetector."""
    if upload is None or not upload.filename:
        return None
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(upload.stream)
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as err:
        raise BadRequest("无法读取照片", code="bad_photo") from err
    found = zxingcpp.read_barcodes(image.convert("L"))
    if not found:
        raise BadRequest("照片中没有识别到二维码", code="no_qr_found")
    return found[0].text


@bp.get("/volunteering/my-code")
@login_required
def my_code():
    code = qr.person_code(current_user.id)
    return render_template("volunteering/my_code.html", code=code,
                           svg=qr.svg(qr.scan_url(code.token)))


# -- attendance and back-fill ---------------------------------------------------------------


@bp.route("/volunteering/activities/<int:activity_id>/attendance", methods=["GET", "POST"])
@login_required
def attendance(activity_id):
    act = staff_activity(activity_id)
    if request.method == "POST":
        form = {"phone": request.form.get("phone", "").strip(),
                "checked_in_at": _local_iso(request.form.get("checked_in_at", "")),
                "checked_out_at": _local_iso(request.form.get("checked_out_at", "")),
                "reason": request.form.get("reason", "").strip()}
        try:
            data = BackfillSchema().load(form)
            user = services.user_by_phone(data.pop("phone"))
            services.backfill(current_user, act, user=user, **data)
            flash("已补录")
        except (ValidationError, ApiError) as err:
            db.session.rollback()
            _flash_error(err)
        return redirect(url_for("volunteering.attendance", activity_id=act.id))
    rows = services.attendance_list(act)
    return render_template("volunteering/attendance.html", act=act, rows=rows,
                           fmt=services.format_minutes)


# -- service record, certificate, verification, export ----------------------------------------


@bp.get("/volunteering/record")
@login_required
def record():
    return render_template("volunteering/record.html", record=services.service_record(current_user),
                           fmt=services.format_minutes)


@bp.get("/volunteering/record/certificate")
@login_required
def certificate():
    rec = services.service_record(current_user)
    issued = utcnow().astimezone(services.local_zone()).date()
    token = qr.sign("certificate", {"u": current_user.id, "v": rec["verified_minutes"],
                                    "h": rec["honour_minutes"], "d": issued.isoformat()})
    verify_url = url_for("volunteering.verify", token=token, _external=True)
    return render_template("volunteering/certificate.html", record=rec, issued=issued,
                           svg=qr.svg(verify_url), verify_url=verify_url,
                           fmt=services.format_minutes)


@bp.get("/volunteering/verify/<path:token>")
def verify(token):
    """Public: anyone holding a printed certificate can check it is genuine."""
    try:
        _purpose, payload = qr.verify(token, "certificate")
        user = db.session.get(User, payload["u"]) or abort(404)
    except ApiError:
        return render_template("volunteering/verify.html", ok=False), 400
    return render_template("volunteering/verify.html", ok=True, payload=payload, user=user,
                           fmt=services.format_minutes, current=services.service_record(user))


EXPORT_HEADER = ["姓名", "手机号", "组织", "活动", "日期", "时长（小时）", "类型", "记录人"]


def _cell(text: str) -> str:
    """Names typed by people must not become spreadsheet formulas."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _query_date(name: str) -> date | None:
    """``?from=`` / ``?to=`` as a date in 2000–2100; 400 when bad."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError as err:
        raise BadRequest("日期格式应为 YYYY-MM-DD", fields={name: ["无效"]}) from err
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise BadRequest(f"日期须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间",
                         fields={name: [f"须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间"]})
    return day


def _export_rows(org_id: int):
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    start, end = _query_date("from"), _query_date("to")
    zone = services.local_zone()
    end = end or utcnow().astimezone(zone).date()
    start = start or end.replace(day=1)
    rows = services.service_rows(org, datetime(start.year, start.month, start.day, tzinfo=zone),
                                 datetime(end.year, end.month, end.day, tzinfo=zone)
                                 + timedelta(days=1))
    table = []
    for att, act, act_org, user in rows:
        recorder = db.session.get(User, att.recorded_by_id).name if att.recorded_by_id else "扫码"
        table.append([_cell(user.name), services.mask_phone(user.phone), _cell(act_org.name),
                      _cell(act.title), vol_time(act.starts_at, "%Y-%m-%d"),
                      round(att.minutes / 60, 2), "信用时数" if att.verified else "荣誉时数",
                      _cell(recorder)])
    return org, start, end, table


@bp.get("/volunteering/orgs/<int:org_id>/export.csv")
@login_required
def export_csv(org_id):
    org, start, end, table = _export_rows(org_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(table)
    # A BOM so Excel opens the Chinese text correctly.
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=service-{org.id}-{start}-{end}.csv"})


@bp.get("/volunteering/orgs/<int:org_id>/export.xlsx")
@login_required
def export_xlsx(org_id):
    from openpyxl import Workbook

    org, start, end, table = _export_rows(org_id)
    book = Workbook()
    sheet = book.active
    sheet.title = "志愿服务记录"
    sheet.append(EXPORT_HEADER)
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), headers={
        "Content-Disposition": f"attachment; filename=service-{org.id}-{start}-{end}.xlsx"},
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.post("/volunteering/orgs/<int:org_id>/settings")
@login_required
def settings(org_id):
    org = get_org(org_id)
    try:
        services.set_honour_hours_earn_points(current_user, org, request.form.get("honour") == "on")
        db.session.commit()
        flash("设置已保存")
    except ApiError as err:
        db.session.rollback()
        _flash_error(err)
    return redirect(url_for("volunteering.activities", org=org.id))
