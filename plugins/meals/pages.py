"""爱心食堂 pages (Chinese, mobile first, big targets) on the ``meals`` blueprint.
Thin: read the form, call a service through core's ``form_action``, go back."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from flask import Response, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from core import qr
from core.access import get_visible_org, has_role, org_with_role, require_role
from core.api import ApiError, BadRequest, NotFound
from core.export import csv_response, safe_cell
from core.extensions import db
from core.models import Role, User
from core.pages import ascii_int, form_action, form_fields
from core.people.services import dependants_of
from core.times import local_today, parse_day, parse_month
from plugins.meals import services
from plugins.meals.models import SLOT_TITLES, SLOTS, Booking
from plugins.meals.schemas import CanteenCreateSchema, MealDepositSchema, MenuCreateSchema
from plugins.meals.views import CSV_HEADER, bp

TITLES = {
    "date": "日期",
    "slot": "餐次",
    "dishes": "菜品",
    "price": "价格",
    "capacity": "名额",
    "tiers": "年龄段",
    "hardship_extra": "困难老人加补",
    "amount": "金额",
    "note": "备注",
}


@bp.app_template_filter("meals_yuan")
def yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen // 100}.{fen % 100:02d}"


def fen_of(raw: str | None, field: str) -> int:
    """``"12"``, ``"12.5"`` yuan → fen; 400 naming ``field`` for anything else."""
    try:
        value = Decimal((raw or "").strip())
    except InvalidOperation:
        value = None
    if (
        value is None
        or not value.is_finite()
        or value < 0
        or value > 1_000_000
        or value * 100 != int(value * 100)
    ):
        raise BadRequest("金额应为不超过两位小数的元数", fields={field: ["应为元，如 3 或 2.50"]})
    return int(value * 100)


# -- elders and relatives: canteens and the week's menus ---------------------------------


@bp.get("/meals/orgs/<int:org_id>/")
@login_required
def index_page(org_id):
    org = get_visible_org(current_user, org_id)
    canteens = db.session.scalars(services.canteens_under(org)).all()
    return render_template(
        "meals/index.html",
        org=org,
        canteens=canteens,
        is_staff=has_role(current_user, org, Role.staff),
        is_admin=has_role(current_user, org, Role.admin),
    )


@bp.post("/meals/orgs/<int:org_id>/canteens")
@login_required
def add_canteen(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    return form_action(
        lambda: services.create_canteen(
            current_user, org, **CanteenCreateSchema().load(form_fields("name", "address"))
        ),
        "食堂已添加",
        url_for(".index_page", org_id=org.id),
        titles={"name": "名称"},
    )


@bp.get("/meals/canteens/<int:canteen_id>/")
@login_required
def week_page(canteen_id):
    canteen = services.get_canteen(canteen_id)
    first = parse_day(request.args.get("from"), field="from") or local_today()
    menus = services.menus_between(canteen, first, first + timedelta(days=6))
    family = [current_user._get_current_object(), *dependants_of(current_user)]
    booked = services.my_bookings([p.id for p in family], [m.id for m in menus])
    policy = services.effective_policy(canteen.org)
    rows = []
    for menu in menus:
        people = []
        for person in family:
            subsidy, _tier = services.subsidy_for(
                policy,
                birth_date=person.birth_date,
                hardship=bool(person.hardship),
                day=menu.day,
                price=menu.price,
            )
            people.append(
                {
                    "person": person,
                    "booking": booked.get((menu.id, person.id)),
                    "to_pay": menu.price - subsidy,
                    "subsidy": subsidy,
                }
            )
        rows.append({"menu": menu, "people": people, "closed": services.is_closed(menu)})
    is_staff = has_role(current_user, canteen.org, Role.staff)
    return render_template(
        "meals/week.html",
        canteen=canteen,
        rows=rows,
        first=first,
        slot_titles=SLOT_TITLES,
        slots=SLOTS,
        is_staff=is_staff,
        may_serve=services.may_serve(current_user, canteen),
        prev=first - timedelta(days=7),
        next=first + timedelta(days=7),
    )


@bp.post("/meals/menus/<int:menu_id>/book")
@login_required
def book_form(menu_id):
    menu = services.get_menu(menu_id)
    user_id = ascii_int(request.form.get("user_id", ""))
    person = db.session.get(User, user_id) if user_id else current_user._get_current_object()
    if person is None:
        raise NotFound("未找到该用户")
    return form_action(
        lambda: services.book(current_user, menu, person),
        f"已为{person.name}订好{SLOT_TITLES[menu.slot]}",
        url_for(".week_page", canteen_id=menu.canteen_id),
    )


@bp.post("/meals/bookings/<int:booking_id>/cancel")
@login_required
def cancel_form(booking_id):
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("未找到该预订")
    back = url_for(".week_page", canteen_id=booking.menu.canteen_id)
    return form_action(lambda: services.cancel(current_user, booking), "已取消", back)


# -- staff: menus ---------------------------------------------------------------------


@bp.post("/meals/canteens/<int:canteen_id>/menus")
@login_required
def add_menu(canteen_id):
    canteen = services.get_canteen(canteen_id)
    require_role(current_user, canteen.org, Role.staff)

    def action():
        data = form_fields("date", "slot", "dishes", "price", "capacity")
        body = {
            "date": data["date"],
            "slot": data["slot"],
            "dishes": [d for d in data["dishes"].replace("，", ",").split(",") if d.strip()],
            "price": fen_of(data["price"], "price"),
            "capacity": ascii_int(data["capacity"], 6) or 0,
        }
        services.create_menu(current_user, canteen, **MenuCreateSchema().load(body))

    return form_action(
        action, "菜单已添加", url_for(".week_page", canteen_id=canteen.id), titles=TITLES
    )


@bp.post("/meals/canteens/<int:canteen_id>/copy-week")
@login_required
def copy_week_form(canteen_id):
    canteen = services.get_canteen(canteen_id)
    require_role(current_user, canteen.org, Role.staff)
    first = parse_day(request.form.get("from"), field="from") or local_today()
    return form_action(
        lambda: services.copy_week(current_user, canteen, first),
        "已复制上周菜单",
        url_for(".week_page", canteen_id=canteen.id, **{"from": first.isoformat()}),
    )


# -- the counter and the 关爱 list ------------------------------------------------------


@bp.route("/meals/canteens/<int:canteen_id>/counter", methods=["GET", "POST"])
@login_required
def counter_page(canteen_id):
    canteen = services.get_canteen(canteen_id)
    services.require_counter(current_user, canteen)
    today = services.menus_between(canteen, local_today(), local_today())
    menu_id = ascii_int(request.values.get("menu_id", "")) or (today[0].id if today else None)
    result = None
    if request.method == "POST":
        try:
            code = (request.form.get("code") or "").strip() or qr.read_photo(
                request.files.get("photo")
            )
            if not code:
                raise BadRequest("请扫码或输入 8 位数字", code="no_code")
            row = services.serve(current_user, canteen, person_code=code, menu_id=menu_id or 0)
            result = {"ok": True, **services.serving_dict(row)}
        except ApiError as err:
            db.session.rollback()
            result = {"ok": False, "message": err.message, "code": err.code}
    return render_template(
        "meals/counter.html",
        canteen=canteen,
        menus=today,
        menu_id=menu_id,
        result=result,
        slot_titles=SLOT_TITLES,
    )


@bp.get("/meals/menus/<int:menu_id>/care")
@login_required
def care_page(menu_id):
    menu = services.get_menu(menu_id)
    data = services.attendance(current_user, menu)
    return render_template("meals/care.html", menu=menu, data=data, slot_titles=SLOT_TITLES)


# -- settlement, policy, fund ------------------------------------------------------------


@bp.get("/meals/orgs/<int:org_id>/settlement")
@login_required
def settlement_page(org_id):
    org = org_with_role(current_user, org_id, Role.staff)
    month = parse_month(request.args.get("month"))
    result = services.settlement(current_user, org, month)
    fmt = request.args.get("format")
    if fmt == "csv":
        return csv_response(
            f"食堂结算-{result['month']}.csv", CSV_HEADER, services.csv_rows(result)
        )
    if fmt == "xlsx":
        return _xlsx(result)
    top = max([c["meals"] for c in result["canteens"]] + [1])
    return render_template(
        "meals/settlement.html", org=org, result=result, top=top, month_value=result["month"]
    )


def _xlsx(result: dict) -> Response:
    from urllib.parse import quote

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = result["month"]
    sheet.append(CSV_HEADER)
    for row in services.csv_rows(result):
        sheet.append([safe_cell(row[0]), *row[1:]])
    out = io.BytesIO()
    book.save(out)
    name = quote(f"食堂结算-{result['month']}.xlsx")
    return Response(
        out.getvalue(),
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@bp.route("/meals/orgs/<int:org_id>/policy", methods=["GET", "POST"])
@login_required
def policy_page(org_id):
    org = org_with_role(current_user, org_id, Role.admin)
    back = url_for(".policy_page", org_id=org.id)
    if request.method == "POST":

        def action():
            tiers = []
            for i in range(8):
                age = (request.form.get(f"age{i}") or "").strip()
                if age:
                    min_age = ascii_int(age, 3)
                    if min_age is None or min_age > 150:
                        raise BadRequest("年龄应为 0 到 150 的整数", fields={"tiers": ["年龄无效"]})
                    tiers.append(
                        {
                            "min_age": min_age,
                            "subsidy": fen_of(request.form.get(f"subsidy{i}"), "tiers"),
                        }
                    )
            services.put_policy(
                current_user,
                org,
                tiers=tiers,
                hardship_extra=fen_of(request.form.get("hardship_extra"), "hardship_extra"),
            )

        return form_action(action, "补贴标准已保存", back, titles=TITLES)
    policy = services.effective_policy(org)
    source = db.session.get(type(org), policy["source_org_id"]) if policy["source_org_id"] else None
    rows = policy["tiers"] + [{"min_age": "", "subsidy": None}] * (8 - len(policy["tiers"]))
    return render_template(
        "meals/policy.html", org=org, policy=policy, source=source, rows=rows[:8]
    )


@bp.route("/meals/orgs/<int:org_id>/fund", methods=["GET", "POST"])
@login_required
def fund_page(org_id):
    org = org_with_role(current_user, org_id, Role.admin)
    back = url_for(".fund_page", org_id=org.id)
    if request.method == "POST":

        def action():
            data = MealDepositSchema().load(
                {
                    "amount": fen_of(request.form.get("amount"), "amount"),
                    "note": (request.form.get("note") or "").strip(),
                    "idempotency_key": request.form.get("idempotency_key") or "",
                }
            )
            services.deposit(
                current_user,
                org,
                amount=data["amount"],
                key=data["idempotency_key"],
                note=data["note"],
            )

        return form_action(action, "已入账", back, titles=TITLES)
    from plugins.meals.models import Deposit

    deposits = db.session.scalars(
        select(Deposit).where(Deposit.org_id == org.id).order_by(Deposit.id.desc()).limit(20)
    ).all()
    return render_template(
        "meals/fund.html", org=org, balance=services.fund_balance(org), deposits=deposits
    )
