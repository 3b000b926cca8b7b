"""The subsidy as a property, racing bookings and servings, settlement = ledger, hooks."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import ledger
from core.extensions import db
from core.people.services import card_token, issue_card
from core.testing import make_user, race
from core.times import local_today
from plugins.meals import services
from plugins.meals.models import Booking, Menu, Serving
from tests.plugins.meals.conftest import KUNMING, elder

tiers = st.lists(
    st.tuples(st.integers(0, 120), st.integers(0, 2000)), max_size=6, unique_by=lambda t: t[0]
).map(
    lambda ts: [
        {"min_age": a, "subsidy": s}
        for a, s in zip(sorted(a for a, _ in ts), sorted(s for _, s in ts), strict=True)
    ]
)


@given(
    tiers=tiers,
    extra=st.integers(0, 1000),
    hardship=st.booleans(),
    price=st.integers(0, 5000),
    age=st.integers(0, 119),
    older=st.integers(0, 10),
)
def test_subsidy_is_within_the_price_and_grows_with_age(tiers, extra, hardship, price, age, older):
    policy = {"tiers": tiers, "hardship_extra": extra}
    day = date(2026, 6, 1)

    def subsidy(years):
        return services.subsidy_for(
            policy, birth_date=date(day.year - years, 1, 1), hardship=hardship, day=day, price=price
        )[0]

    assert 0 <= subsidy(age) <= price
    assert subsidy(age) <= subsidy(age + older)
    assert services.subsidy_for(
        policy, birth_date=None, hardship=hardship, day=day, price=price
    ) == (0, None)


def test_subsidy_uses_the_age_on_the_menus_date():
    policy = {"tiers": KUNMING, "hardship_extra": 300}
    birthday = date(1946, 12, 2)  # 80 on 2026-12-02

    def on(day, hardship=False):
        return services.subsidy_for(
            policy, birth_date=birthday, hardship=hardship, day=day, price=1200
        )

    assert on(date(2026, 12, 1)) == (200, 70)
    assert on(date(2026, 12, 2)) == (300, 80)
    assert on(date(2026, 12, 2), hardship=True) == (600, 80)
    young = services.subsidy_for(
        policy, birth_date=date(1980, 1, 1), hardship=True, day=date(2026, 12, 2), price=1200
    )
    assert young == (0, None)  # hardship extra only for someone who reached a tier
    assert services.subsidy_for(
        policy, birth_date=date(1920, 1, 1), hardship=True, day=date(2026, 12, 2), price=600
    ) == (600, 90)


def test_ten_racing_bookings_for_the_last_places(app, meals, people):
    menu = meals.menu(1, capacity=12)
    diners = [elder(meals.tree.building, f"1370000{i:04d}", f"老人{i}", 70) for i in range(12)]
    db.session.commit()
    for person in diners[:9]:  # 3 places left
        services.book(person, menu, person)
    ids, menu_id = [p.id for p in diners[9:]] + [meals.grandma.id] * 7, menu.id

    def work(i):
        from core.models import User

        person = db.session.get(User, ids[i])
        booking, created = services.book(person, db.session.get(Menu, menu_id), person)
        return created

    results = race(app, 10, work)
    db.session.rollback()  # see what the threads committed
    assert sorted(map(str, results)).count("('ok', True)") == 3
    assert results.count((409, "full")) + sum(r == ("ok", False) for r in results) == 7
    menu = db.session.get(Menu, menu_id)
    assert menu.booked == 12 and menu.places_left == 0
    assert (
        db.session.scalar(
            select(func.count()).select_from(Booking).where(Booking.status == "booked")
        )
        == 12
    )


def test_racing_counters_serve_one_meal(app, meals, people):
    """The same card shown at two counters at once: one meal, one subsidy."""
    here = meals.menu(0)
    there = meals.menu(0, canteen=meals.other, actor=people.other_staff)
    pairs = [
        (meals.canteen.id, here.id, people.staff.id),
        (meals.other.id, there.id, people.other_staff.id),
    ] * 3
    token = meals.card_token

    def work(i):
        from core.models import User
        from plugins.meals.models import Canteen

        canteen_id, menu_id, actor_id = pairs[i]
        return services.serve(
            db.session.get(User, actor_id),
            db.session.get(Canteen, canteen_id),
            person_code=token,
            menu_id=menu_id,
        ).id

    results = race(app, 6, work)
    db.session.rollback()
    assert sum(r[0] == "ok" for r in results) == 1
    assert results.count((409, "already_served")) == 5
    assert services.fund_balance(meals.tree.district) == 100_000 - 300


def test_settlement_matches_the_ledger_to_the_fen(app, meals, people):
    tree = meals.tree
    menu, other = meals.menu(0), meals.menu(0, canteen=meals.other, actor=people.other_staff)
    diners = [
        elder(tree.building, f"1360000{i:04d}", f"食客{i}", 55 + 7 * i, hardship=i % 2 == 0)
        for i in range(8)
    ]
    db.session.commit()
    for i, person in enumerate(diners):
        where, actor = (menu, people.staff) if i % 3 else (other, people.other_staff)
        if i == 4:  # the district fund runs dry for the rest
            moved = services.fund_balance(tree.district)
            ledger.atomic(
                lambda moved=moved: ledger.transfer(
                    services.org_account(tree.district.id, "fund"),
                    services.org_account(tree.district.id, "grants"),
                    moved,
                    reason="收回",
                )
            )
        code = card_token(issue_card(people.staff, person))
        db.session.commit()
        services.serve(actor, where.canteen, person_code=code, menu_id=where.id)
    result = services.settlement_of(tree.district, local_today().replace(day=1))
    # The district report's one-query totals are the settlement's totals.
    assert services.totals_of(tree.district, local_today().replace(day=1)) == result["total"]
    next_month = (local_today().replace(day=28) + timedelta(days=4)).replace(day=1)
    assert set(services.totals_of(tree.district, next_month).values()) == {0}
    paid_in_ledger = {}
    for canteen in (meals.canteen, meals.other):
        acc = services.canteen_account(canteen.id)
        paid_in_ledger[canteen.id] = ledger.posted_sum(acc.id) if acc else 0
        assert acc.balance == paid_in_ledger[canteen.id]
    for row in result["canteens"]:
        assert row["subsidy"] == paid_in_ledger[row["canteen_id"]]
        servings = db.session.scalars(
            select(Serving).where(Serving.canteen_id == row["canteen_id"])
        ).all()
        assert row["meals"] == len(servings)
        assert row["paid_by_diners"] == sum(s.to_pay for s in servings)
        assert row["subsidy_owed"] == sum(s.subsidy for s in servings if not s.funded)
    assert result["total"]["subsidy_owed"] > 0
    assert result["total"]["subsidy"] + result["total"]["subsidy_owed"] + result["total"][
        "paid_by_diners"
    ] == sum(s.price for s in db.session.scalars(select(Serving)))


def test_hook_org_report(app, meals, people):
    from core.plugins import manager

    services.serve(people.staff, meals.canteen, person_code=meals.card, menu_id=meals.menu(0).id)
    sections = manager().emit(meals.tree.district, "org_report", month=local_today().replace(day=1))
    section = next(s for s in sections if s and s.title == "爱心食堂")
    assert ("就餐人次", 1) in section.rows and ("已付补贴（分）", 300) in section.rows


def test_hook_seed_demo(app):
    from core.demo import seed

    seed()
    menus = db.session.scalars(select(Menu)).all()
    assert len(menus) == 7
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
    from core.models import Organization

    district = db.session.scalar(select(Organization).where(Organization.level == "district"))
    assert services.fund_balance(district) == 1_000_000
    assert services.effective_policy(district)["hardship_extra"] == 300


def test_hook_nav_items_and_dashboard_cards(client, meals, people, log_in):
    log_in(people.district_admin)
    page = client.get("/").get_data(as_text=True)
    assert "餐补基金" in page
    assert make_user  # builders imported for other tests
