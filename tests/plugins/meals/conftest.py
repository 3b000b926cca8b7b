"""爱心食堂 fixtures: meals on at the district, the Kunming tiers there, a canteen
in 金星社区 with a funded district fund, and elders of 1栋 with printed cards.

``needs_plugin`` leaves these tests out of a run that does not load meals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from core.extensions import db
from core.models import User
from core.people.services import card_token, issue_card
from core.testing import add_member, enable, make_user, needs_plugin
from core.times import local_now, local_today
from plugins.meals import services

collect_ignore_glob = needs_plugin("meals")

KUNMING = [
    {"min_age": 60, "subsidy": 100},
    {"min_age": 70, "subsidy": 200},
    {"min_age": 80, "subsidy": 300},
    {"min_age": 90, "subsidy": 500},
]


def born(age: int, today: date | None = None) -> date:
    """A birth date that makes ``age`` on ``today`` (1 January of that year)."""
    today = today or local_today()
    return date(today.year - age, 1, 1)


def elder(org, phone: str | None, name: str, age: int | None, hardship: bool = False) -> User:
    user = make_user(phone or f"1990000{abs(hash(name)) % 10000:04d}", name)
    if phone is None:
        user.phone = None
    user.birth_date = born(age) if age is not None else None
    user.hardship = hardship
    add_member(user, org, "resident")
    db.session.flush()
    return user


@dataclass
class Canteens:
    tree: object
    canteen: object  # 金星社区爱心食堂
    other: object  # 东华社区爱心食堂
    grandma: User  # 85, card
    grandpa: User  # 68, hardship
    young: User  # 45
    card: str  # grandma's card short code
    card_token: str

    def menu(
        self,
        days: int = 0,
        slot: str = "lunch",
        *,
        price: int = 1200,
        capacity: int = 50,
        canteen=None,
        book_by: datetime | None = None,
        actor=None,
    ):
        """A menu ``days`` from today; bookable until the end of its day by default."""
        day = local_today() + timedelta(days=days)
        if book_by is None:
            book_by = max(local_now() + timedelta(hours=1), services.slot_start(day, slot))
        menu = services.create_menu(
            actor or self.staff,
            canteen or self.canteen,
            day=day,
            slot=slot,
            dishes=["米饭", "青菜"],
            price=price,
            capacity=capacity,
            book_by=book_by,
        )
        db.session.commit()
        return menu


@pytest.fixture
def on(tree):
    """meals on for the whole district."""
    enable(tree.district, "meals")
    db.session.commit()
    return tree


@pytest.fixture
def meals(on, people):
    tree = on
    services.put_policy(people.district_admin, tree.district, tiers=KUNMING, hardship_extra=300)
    services.deposit(
        people.district_admin, tree.district, amount=100_000, key="seed", note="区财政"
    )
    canteen = services.create_canteen(people.staff, tree.community, name="金星社区爱心食堂")
    other = services.create_canteen(
        people.other_staff, tree.other_community, name="东华社区爱心食堂"
    )
    grandma = elder(tree.building, "13911110001", "王桂兰", 85)
    grandpa = elder(tree.building, None, "李德福", 68, hardship=True)
    young = elder(tree.building, "13911110003", "小张", 45)
    add_member(grandma, tree.other_community, "resident")  # she eats in both places
    card = issue_card(people.staff, grandma)
    db.session.commit()
    c = Canteens(tree, canteen, other, grandma, grandpa, young, card.short_code, card_token(card))
    c.staff = people.staff
    return c


@pytest.fixture
def log_in(client):
    """``log_in(user)``: the test client browses as ``user`` (a session cookie)."""

    def log_in(user) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True

    return log_in
