"""爱心食堂 /api/v1 routes (API.md "Love canteens"). Thin: parse, call a service, answer."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user, login_required

from core.access import get_visible_org, org_with_role, require_role
from core.api import BadRequest, NotFound, doc, load, month_arg, paginate
from core.export import csv_response
from core.extensions import db
from core.models import Role, User
from core.people.services import resolve_person_code
from core.plugins import plugin_blueprint
from core.times import local_today, to_local
from plugins.meals import services
from plugins.meals.models import Booking, Canteen
from plugins.meals.schemas import (
    BookingCreateSchema,
    BookingSchema,
    CanteenCreateSchema,
    CanteenSchema,
    MealAttendanceSchema,
    MealDepositSchema,
    MealFundSchema,
    MenuCreateSchema,
    MenuQuerySchema,
    MenuSchema,
    PolicySchema,
    ServingCreateSchema,
    ServingSchema,
    SettlementSchema,
)

bp = plugin_blueprint(__name__)

CSV_HEADER = [
    "食堂",
    "就餐人次",
    "享受补贴人次",
    "已付补贴（分）",
    "欠付补贴（分）",
    "个人支付（分）",
]


def menu_body(menu, booking=None) -> dict:
    body = MenuSchema().dump(menu)
    body["book_by"] = to_local(menu.book_by).isoformat()  # Asia/Shanghai, as the contract says
    body["my_booking"] = {"id": booking.id, "status": booking.status} if booking else None
    return body


# -- canteens and menus ----------------------------------------------------------------


@bp.post("/api/v1/orgs/<int:org_id>/canteens")
@login_required
@doc(body=CanteenCreateSchema, response=CanteenSchema, status=201)
def api_create_canteen(org_id):
    """Open a canteen under this organization (staff)."""
    org = org_with_role(current_user, org_id, Role.staff)
    canteen = services.create_canteen(current_user, org, **load(CanteenCreateSchema()))
    db.session.commit()
    return CanteenSchema().dump(canteen), 201


@bp.get("/api/v1/orgs/<int:org_id>/canteens")
@login_required
@doc(response=CanteenSchema, many=True)
def api_canteens(org_id):
    """The canteens of this organization and below."""
    org = get_visible_org(current_user, org_id)
    return paginate(services.canteens_under(org), [Canteen.id], CanteenSchema().dump)


@bp.post("/api/v1/canteens/<int:canteen_id>/menus")
@login_required
@doc(body=MenuCreateSchema, response=MenuSchema, status=201)
def api_create_menu(canteen_id):
    """Add a menu for a date and slot (staff over the canteen)."""
    canteen = services.get_canteen(canteen_id)
    require_role(current_user, canteen.org, Role.staff)
    menu = services.create_menu(current_user, canteen, **load(MenuCreateSchema()))
    db.session.commit()
    return menu_body(menu), 201


@bp.get("/api/v1/canteens/<int:canteen_id>/menus")
@login_required
@doc(response=MenuSchema, many=True, query=MenuQuerySchema)
def api_menus(canteen_id):
    """Menus from ``from`` to ``to`` (default: today and the next 6 days), soonest
    first, with ``places_left`` and my booking."""
    from datetime import timedelta

    from core.times import parse_day

    canteen = services.get_canteen(canteen_id)
    first = parse_day(request.args.get("from"), field="from") or local_today()
    last = parse_day(request.args.get("to"), field="to") or first + timedelta(days=6)
    if not 0 <= (last - first).days <= 62:
        raise BadRequest("日期范围应在 62 天以内", fields={"to": ["应不早于 from，且不超过 62 天"]})
    menus = services.menus_between(canteen, first, last)
    mine = services.my_bookings([current_user.id], [m.id for m in menus])
    return jsonify(
        {"items": [menu_body(m, mine.get((m.id, current_user.id))) for m in menus], "next": None}
    )


# -- subsidy policy and fund -------------------------------------------------------------


@bp.put("/api/v1/orgs/<int:org_id>/meals/subsidy-policy")
@login_required
@doc(body=PolicySchema, response=PolicySchema)
def api_put_policy(org_id):
    """Set this organization's subsidy tiers (admin of it or above); the subtree inherits."""
    org = org_with_role(current_user, org_id, Role.admin)
    policy = services.put_policy(current_user, org, **load(PolicySchema()))
    db.session.commit()
    return policy


@bp.get("/api/v1/orgs/<int:org_id>/meals/subsidy-policy")
@login_required
@doc(response=PolicySchema)
def api_policy(org_id):
    """The policy in force here: the nearest ancestor-or-self's."""
    return services.effective_policy(get_visible_org(current_user, org_id))


@bp.post("/api/v1/orgs/<int:org_id>/meals/fund/deposits")
@login_required
@doc(body=MealDepositSchema, response=MealFundSchema, status=201)
def api_deposit(org_id):
    """Put money into this organization's meals fund (admin)."""
    org = org_with_role(current_user, org_id, Role.admin)
    data = load(MealDepositSchema())
    services.deposit(
        current_user, org, amount=data["amount"], key=data["idempotency_key"], note=data["note"]
    )
    return {"balance": services.fund_balance(org)}, 201


@bp.get("/api/v1/orgs/<int:org_id>/meals/fund")
@login_required
@doc(response=MealFundSchema)
def api_fund(org_id):
    """This organization's meals fund balance (staff)."""
    return {"balance": services.fund_balance(org_with_role(current_user, org_id, Role.staff))}


# -- bookings ------------------------------------------------------------------------------


@bp.post("/api/v1/menus/<int:menu_id>/bookings")
@login_required
@doc(body=BookingCreateSchema, response=BookingSchema, status=201, also=(200,))
def api_book(menu_id):
    """Book a place: myself, a person I may act for (``user_id``), or a person's
    code at the desk (``person_code``, staff). Booking again answers 200."""
    menu = services.get_menu(menu_id)
    data = load(BookingCreateSchema())
    if "user_id" in data and "person_code" in data:
        raise BadRequest(
            "user_id 和 person_code 只能给一个", fields={"person_code": ["只能给一个"]}
        )
    if "person_code" in data:
        require_role(current_user, menu.canteen.org, Role.staff)
        person = resolve_person_code(data["person_code"], within_org=menu.canteen.org)
    elif "user_id" in data:
        person = db.session.get(User, data["user_id"])
        if person is None:
            raise NotFound("未找到该用户")
    else:
        person = current_user._get_current_object()
    booking, created = services.book(current_user, menu, person)
    return services.booking_dict(booking), 201 if created else 200


@bp.delete("/api/v1/bookings/<int:booking_id>")
@login_required
@doc(status=204)
def api_cancel(booking_id):
    """Cancel a booking before ``book_by`` (the person, a relative, or staff)."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("未找到该预订")
    services.cancel(current_user, booking)
    return "", 204


# -- the counter ------------------------------------------------------------------------


@bp.post("/api/v1/canteens/<int:canteen_id>/servings")
@login_required
@doc(body=ServingCreateSchema, response=ServingSchema, status=201)
def api_serve(canteen_id):
    """Serve the person a code names (staff or cashier over the canteen), today's menu only."""
    canteen = services.get_canteen(canteen_id)
    data = load(ServingCreateSchema())
    row = services.serve(current_user, canteen, **data)
    return services.serving_dict(row), 201


@bp.get("/api/v1/menus/<int:menu_id>/attendance")
@login_required
@doc(response=MealAttendanceSchema)
def api_attendance(menu_id):
    """Who booked and has not come yet, with masked phones (staff)."""
    return MealAttendanceSchema().dump(
        services.attendance(current_user, services.get_menu(menu_id))
    )


@bp.get("/api/v1/orgs/<int:org_id>/meals/settlement")
@login_required
@doc(response=SettlementSchema)
def api_settlement(org_id):
    """Per canteen of this subtree in a month: meals, subsidy paid and owed (staff);
    ``&format=csv`` as a spreadsheet."""
    org = org_with_role(current_user, org_id, Role.staff)
    result = services.settlement(current_user, org, month_arg())
    if request.args.get("format") == "csv":
        return csv_response(
            f"食堂结算-{result['month']}.csv", CSV_HEADER, services.csv_rows(result)
        )
    return SettlementSchema().dump(result)
