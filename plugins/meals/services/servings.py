"""Serving at the counter: who it is, what they pay, and the subsidy transfer."""

from __future__ import annotations

from sqlalchemy import select

from core import ledger
from core.api import Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import User
from core.people.services import age_on, resolve_person_code
from core.plugins import require_enabled
from core.times import local_today
from plugins.meals.models import SLOT_TITLES, Booking, Canteen, Menu, Serving
from plugins.meals.services.bookings import take_place
from plugins.meals.services.canteens import require_counter
from plugins.meals.services.funds import canteen_account, org_account
from plugins.meals.services.policy import effective_policy, subsidy_for


def already_served(person: User, menu: Menu) -> Serving | None:
    return db.session.scalar(
        select(Serving).where(
            Serving.user_id == person.id, Serving.day == menu.day, Serving.slot == menu.slot
        )
    )


def _served_conflict(first: Serving) -> Conflict:
    canteen = db.session.get(Canteen, first.canteen_id)
    return Conflict(f"此人{SLOT_TITLES[first.slot]}已用过（{canteen.name}）", code="already_served")


def serve(actor: User, canteen: Canteen, *, person_code: str, menu_id: int) -> Serving:
    """Serve the person a code names (staff or a cashier over the canteen), on
    the menu's date only. A booking is used when there is one; a walk-in takes
    a place if one is left. The subsidy is paid from the policy's fund to the
    canteen; when the fund is short the serving is recorded ``funded=False``
    and the whole subsidy is owed (the diner still pays only ``to_pay``)."""
    require_counter(actor, canteen)
    require_enabled(canteen.org, "meals")
    menu = db.session.get(Menu, menu_id)
    if menu is None or menu.canteen_id != canteen.id:
        raise NotFound("本食堂没有这个菜单")
    if menu.day != local_today():
        raise Conflict("不是今天的菜单，不能就餐", code="not_today")
    person = resolve_person_code(person_code, within_org=canteen.org)
    policy = effective_policy(canteen.org)
    subsidy, tier = subsidy_for(
        policy,
        birth_date=person.birth_date,
        hardship=bool(person.hardship),
        day=menu.day,
        price=menu.price,
    )
    fund_org_id = policy["source_org_id"] if subsidy else None

    def work():
        first = already_served(person, menu)
        if first is not None:
            raise _served_conflict(first)
        booking = db.session.scalar(
            select(Booking).where(
                Booking.menu_id == menu.id, Booking.user_id == person.id, Booking.status == "booked"
            )
        )
        if booking is not None:
            booking.status = "served"
        else:
            take_place(menu, "walk_ins")
        row = Serving(
            org_id=canteen.org_id,
            canteen_id=canteen.id,
            menu_id=menu.id,
            user_id=person.id,
            booking_id=booking.id if booking else None,
            day=menu.day,
            slot=menu.slot,
            price=menu.price,
            subsidy=subsidy,
            to_pay=menu.price - subsidy,
            funded=True,
            tier_min_age=tier,
            fund_org_id=fund_org_id,
            served_by_id=actor.id,
        )
        db.session.add(row)
        db.session.flush()  # the unique (user, day, slot) stops a racing second meal here
        if subsidy:  # accounts made before the savepoint, which only the transfer may undo
            fund, till = org_account(fund_org_id, "fund"), canteen_account(canteen.id)
            try:
                with db.session.begin_nested():
                    posted = ledger.transfer(
                        fund,
                        till,
                        subsidy,
                        reason="餐补",
                        cause=("meals_serving", row.id),
                        key=f"meals:serving:{row.id}",
                        actor_id=actor.id,
                        short_message="餐补基金余额不足",
                    )
                row.transfer_id = posted.id
            except ledger.InsufficientFunds:
                row.funded = False
        audit(
            "meals.serve",
            actor=actor,
            org=canteen.org,
            obj=row,
            user_id=person.id,
            subsidy=subsidy,
            funded=row.funded,
        )
        return row

    return ledger.atomic(work)


def serving_dict(row: Serving) -> dict:
    person = db.session.get(User, row.user_id)
    return {
        "id": row.id,
        "user_id": person.id,
        "name": person.name,
        "age": age_on(person.birth_date, row.day) if person.birth_date else None,
        "price": row.price,
        "subsidy": row.subsidy,
        "to_pay": row.to_pay,
        "booked": row.booking_id is not None,
        "funded": row.funded,
        "subsidy_owed": 0 if row.funded else row.subsidy,
        "menu_id": row.menu_id,
        "canteen_id": row.canteen_id,
    }
