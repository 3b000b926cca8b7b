"""Canteens and their menus."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.access import has_plugin_role, has_role, require_role, subtree_ids
from core.api import BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User
from core.plugins import require_enabled
from core.times import local_today, local_zone
from plugins.meals.models import SLOT_TITLES, Canteen, Menu

SLOT_STARTS = {"breakfast": time(7), "lunch": time(11), "dinner": time(17)}
CASHIER = "meals.cashier"


def create_canteen(actor: User, org: Organization, *, name: str, address: str = "") -> Canteen:
    require_role(actor, org, Role.staff)
    require_enabled(org, "meals")
    canteen = Canteen(org_id=org.id, name=name.strip(), address=(address or "").strip())
    db.session.add(canteen)
    db.session.flush()
    audit("meals.canteen_create", actor=actor, org=org, obj=canteen, name=canteen.name)
    return canteen


def canteens_under(org: Organization):
    """A select of the canteens of ``org`` and below, by name."""
    return select(Canteen).where(Canteen.org_id.in_(subtree_ids(org))).order_by(Canteen.id)


def get_canteen(canteen_id: int) -> Canteen:
    return db.session.get(Canteen, canteen_id) or _not_found("食堂")


def get_menu(menu_id: int) -> Menu:
    return db.session.get(Menu, menu_id) or _not_found("菜单")


def _not_found(what: str):
    raise NotFound(f"未找到该{what}")


def may_serve(user: User, canteen: Canteen) -> bool:
    """Staff over the canteen's organization, or a cashier (收银员) granted there."""
    return has_role(user, canteen.org, Role.staff) or has_plugin_role(user, canteen.org, CASHIER)


def require_counter(user: User, canteen: Canteen) -> None:
    if not may_serve(user, canteen):
        require_role(user, canteen.org, Role.staff)  # 404 for outsiders, else 403
        raise Forbidden("没有权限：需要食堂工作人员")


def slot_start(day: date, slot: str) -> datetime:
    return datetime.combine(day, SLOT_STARTS[slot], tzinfo=local_zone())


def create_menu(
    actor: User,
    canteen: Canteen,
    *,
    day: date,
    slot: str,
    dishes: list[str],
    price: int,
    capacity: int,
    book_by: datetime | None = None,
) -> Menu:
    """Staff over the canteen add a menu; one per canteen, date and slot."""
    require_role(actor, canteen.org, Role.staff)
    require_enabled(canteen.org, "meals")
    if day < local_today():
        raise BadRequest("不能为过去的日期排菜单", fields={"date": ["不能早于今天"]})
    if _menu_at(canteen.id, day, slot) is not None:
        raise _duplicate(day, slot)
    menu = Menu(
        org_id=canteen.org_id,
        canteen_id=canteen.id,
        day=day,
        slot=slot,
        dishes=[d.strip() for d in dishes if d.strip()],
        price=price,
        capacity=capacity,
        booked=0,
        walk_ins=0,
        book_by=book_by or slot_start(day, slot),
    )
    db.session.add(menu)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as err:  # the same menu added at the same moment
        raise _duplicate(day, slot) from err
    audit(
        "meals.menu_create", actor=actor, org=canteen.org, obj=menu, day=day.isoformat(), slot=slot
    )
    return menu


def _menu_at(canteen_id: int, day: date, slot: str) -> Menu | None:
    return db.session.scalar(
        select(Menu).where(Menu.canteen_id == canteen_id, Menu.day == day, Menu.slot == slot)
    )


def _duplicate(day: date, slot: str) -> Conflict:
    return Conflict(f"{day.isoformat()} {SLOT_TITLES[slot]}已有菜单", code="duplicate")


def menus_between(canteen: Canteen, first: date, last: date) -> list[Menu]:
    order = {slot: i for i, slot in enumerate(SLOT_STARTS)}
    rows = db.session.scalars(
        select(Menu).where(Menu.canteen_id == canteen.id, Menu.day >= first, Menu.day <= last)
    ).all()
    return sorted(rows, key=lambda m: (m.day, order[m.slot]))


def copy_week(actor: User, canteen: Canteen, week_start: date) -> list[Menu]:
    """Copy the menus of the 7 days before ``week_start`` to the week from it
    (same dishes, price, capacity; deadlines at the slots' starts). Slots that
    already have a menu, and past days, are left alone."""
    require_role(actor, canteen.org, Role.staff)
    today, made = local_today(), []
    for old in menus_between(
        canteen, week_start - timedelta(days=7), week_start - timedelta(days=1)
    ):
        day = old.day + timedelta(days=7)
        if day < today or _menu_at(canteen.id, day, old.slot) is not None:
            continue
        made.append(
            create_menu(
                actor,
                canteen,
                day=day,
                slot=old.slot,
                dishes=list(old.dishes),
                price=old.price,
                capacity=old.capacity,
            )
        )
    return made
