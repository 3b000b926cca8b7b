"""Booking a place on a menu, and cancelling it until the deadline.

Places are counted by conditional UPDATEs on the menu row (``booked +
walk_ins < capacity``), so racing bookings never overfill it: the database
re-checks the condition on the locked row."""

from __future__ import annotations

from sqlalchemy import select, update

from core import ledger
from core.access import has_role
from core.api import Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Role, User
from core.people.services import may_act_for
from core.plugins import require_enabled
from core.times import local_now
from plugins.meals.models import Booking, Menu
from plugins.meals.services.policy import effective_policy, subsidy_for

LIVE = ("booked", "served")


def take_place(menu: Menu, column: str) -> None:
    """One more booking (or walk-in) on ``menu`` if a place is left, else 409 ``full``."""
    done = db.session.execute(
        update(Menu)
        .where(Menu.id == menu.id, Menu.booked + Menu.walk_ins < Menu.capacity)
        .values({column: getattr(Menu, column) + 1})
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict("名额已满", code="full")


def give_back_place(menu: Menu) -> None:
    db.session.execute(
        update(Menu)
        .where(Menu.id == menu.id)
        .values(booked=Menu.booked - 1)
        .execution_options(synchronize_session=False)
    )


def is_closed(menu: Menu) -> bool:
    return local_now() > menu.book_by


def book(actor: User, menu: Menu, person: User) -> tuple[Booking, bool]:
    """Book ``person`` on ``menu``: themselves, a relative, or staff over the
    person or the canteen. Answers ``(booking, created)``; booking again
    answers the same booking."""
    if not (
        may_act_for(actor, person, staff_ok=True) or has_role(actor, menu.canteen.org, Role.staff)
    ):
        raise Forbidden("只能为本人或家人订餐")
    require_enabled(menu.canteen.org, "meals")

    def work():
        row = db.session.scalar(
            select(Booking).where(Booking.menu_id == menu.id, Booking.user_id == person.id)
        )
        if row is not None and row.status in LIVE:
            return row, False
        if is_closed(menu):
            raise Conflict("已过订餐截止时间", code="booking_closed")
        take_place(menu, "booked")
        if row is None:
            row = Booking(org_id=menu.org_id, menu_id=menu.id, user_id=person.id)
            db.session.add(row)
        row.status, row.booked_by_id = "booked", actor.id
        db.session.flush()
        audit("meals.book", actor=actor, org=menu.canteen.org, obj=row, user_id=person.id)
        return row, True

    row, created = ledger.atomic(work)
    db.session.refresh(menu)
    return row, created


def cancel(actor: User, booking: Booking) -> None:
    """The person, a relative or staff cancel before the deadline (409 after)."""
    menu = booking.menu
    if not (
        may_act_for(actor, booking.user, staff_ok=True)
        or has_role(actor, menu.canteen.org, Role.staff)
    ):
        raise NotFound("未找到该预订")

    def work():
        db.session.refresh(booking)
        if booking.status == "cancelled":
            return
        if booking.status == "served" or is_closed(menu):
            raise Conflict("已过订餐截止时间，不能取消", code="booking_closed")
        booking.status = "cancelled"
        give_back_place(menu)
        audit("meals.cancel", actor=actor, org=menu.canteen.org, obj=booking)

    ledger.atomic(work)


def booking_dict(booking: Booking) -> dict:
    """What a booking answers, with the subsidy expected for this person on that day."""
    menu, person = booking.menu, booking.user
    subsidy, _tier = subsidy_for(
        effective_policy(menu.canteen.org),
        birth_date=person.birth_date,
        hardship=bool(person.hardship),
        day=menu.day,
        price=menu.price,
    )
    return {
        "id": booking.id,
        "menu_id": menu.id,
        "user_id": person.id,
        "price": menu.price,
        "subsidy": subsidy,
        "to_pay": menu.price - subsidy,
        "status": booking.status,
    }


def my_bookings(user_ids: list[int], menu_ids: list[int]) -> dict[tuple[int, int], Booking]:
    if not user_ids or not menu_ids:
        return {}
    rows = db.session.scalars(
        select(Booking).where(Booking.user_id.in_(user_ids), Booking.menu_id.in_(menu_ids))
    )
    return {(b.menu_id, b.user_id): b for b in rows}
