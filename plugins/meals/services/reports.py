"""关爱 (who booked and has not come) and the monthly settlement, in SQL."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, func, select

from core.access import require_role, subtree_ids
from core.extensions import db
from core.models import Organization, Role, User
from core.people.services import mask_phone, relatives_of
from plugins.meals.models import Booking, Canteen, Menu, Serving
from plugins.meals.services.canteens import require_counter

FIGURES = ("meals", "subsidised_meals", "subsidy", "subsidy_owed", "paid_by_diners")
TITLES = {
    "meals": "就餐人次",
    "subsidised_meals": "享受补贴人次",
    "subsidy": "已付补贴（分）",
    "subsidy_owed": "欠付补贴（分）",
    "paid_by_diners": "个人支付（分）",
}


def attendance(actor: User, menu: Menu) -> dict:
    """Bookings, servings and who booked but has not come, with phones to call
    (``phone`` for the staff page's tap-to-call; the API shows ``phone_masked``)."""
    require_counter(actor, menu.canteen)
    booked = db.session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(Booking.menu_id == menu.id, Booking.status.in_(("booked", "served")))
    )
    served = db.session.scalar(
        select(func.count()).select_from(Serving).where(Serving.menu_id == menu.id)
    )
    waiting = db.session.scalars(
        select(User)
        .join(Booking, Booking.user_id == User.id)
        .where(Booking.menu_id == menu.id, Booking.status == "booked")
        .order_by(User.name)
    )
    people = [
        {
            "user_id": p.id,
            "name": p.name,
            "phone": p.phone,
            "phone_masked": mask_phone(p.phone),
            "relatives": [
                {
                    "user_id": r.id,
                    "name": r.name,
                    "phone": r.phone,
                    "phone_masked": mask_phone(r.phone),
                }
                for r in relatives_of(p)
            ],
        }
        for p in waiting
    ]
    return {"booked": booked, "served": served, "not_arrived": people}


def _month_days(month: date) -> tuple[date, date]:
    nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return month, nxt


def _figures():
    subsidised = Serving.subsidy > 0
    return (
        # day, not id: every figure then comes from the (canteen, day) index alone.
        func.count(Serving.day).label("meals"),
        func.coalesce(func.sum(case((subsidised, 1), else_=0)), 0).label("subsidised_meals"),
        func.coalesce(func.sum(case((Serving.funded, Serving.subsidy), else_=0)), 0).label(
            "subsidy"
        ),
        func.coalesce(func.sum(case((Serving.funded, 0), else_=Serving.subsidy)), 0).label(
            "subsidy_owed"
        ),
        func.coalesce(func.sum(Serving.to_pay), 0).label("paid_by_diners"),
    )


def settlement_of(org: Organization, month: date) -> dict:
    """Per canteen of ``org``'s subtree and in total, for the meals served in
    ``month`` (by the menu's date): one grouped query, plus one per age tier."""
    first, after = _month_days(month)
    in_month = (Serving.canteen_id == Canteen.id) & (Serving.day >= first) & (Serving.day < after)
    rows = db.session.execute(
        select(Canteen.id, Canteen.name, *_figures())
        .select_from(Canteen)
        .outerjoin(Serving, in_month)
        .where(Canteen.org_id.in_(subtree_ids(org)))
        .group_by(Canteen.id, Canteen.name)
        .order_by(Canteen.id)
    ).all()
    tiers: dict[int, list] = {}
    for r in db.session.execute(
        select(
            Serving.canteen_id,
            Serving.tier_min_age,
            func.count(Serving.day),
            func.sum(Serving.subsidy),
        )
        .join(Canteen, Canteen.id == Serving.canteen_id)
        .where(
            Canteen.org_id.in_(subtree_ids(org)),
            Serving.day >= first,
            Serving.day < after,
            Serving.tier_min_age.is_not(None),
        )
        .group_by(Serving.canteen_id, Serving.tier_min_age)
        .order_by(Serving.canteen_id, Serving.tier_min_age)
    ):
        tiers.setdefault(r[0], []).append({"min_age": r[1], "meals": r[2], "subsidy": int(r[3])})
    canteens = [
        dict(
            {"canteen_id": r.id, "name": r.name},
            **{k: int(getattr(r, k)) for k in FIGURES},
            by_tier=tiers.get(r.id, []),
        )
        for r in rows
    ]
    total = {k: sum(c[k] for c in canteens) for k in FIGURES}
    return {"month": month.strftime("%Y-%m"), "canteens": canteens, "total": total}


def totals_of(org: Organization, month: date) -> dict:
    """The month's figures of ``org``'s whole subtree in one grouped query (the
    district report's section: no per-canteen rows, no tiers)."""
    first, after = _month_days(month)
    row = db.session.execute(
        select(*_figures())
        .select_from(Serving)
        .join(Canteen, Canteen.id == Serving.canteen_id)
        .where(Canteen.org_id.in_(subtree_ids(org)), Serving.day >= first, Serving.day < after)
    ).one()
    return {k: int(getattr(row, k)) for k in FIGURES}


def settlement(actor: User, org: Organization, month: date) -> dict:
    require_role(actor, org, Role.staff)
    return settlement_of(org, month)


def csv_rows(result: dict):
    for c in result["canteens"]:
        yield [c["name"], *(c[k] for k in FIGURES)]
    yield ["合计", *(result["total"][k] for k in FIGURES)]
