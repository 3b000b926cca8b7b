"""Real threads, each with its own app context and connection, racing for the same beans/stock."""

from __future__ import annotations

from core import ledger
from core.extensions import db
from core.models import User
from core.testing import add_member, make_user, race
from plugins.points import services
from plugins.points.models import Redemption, Reward
from tests.plugins.points.conftest import give, reward


def test_twenty_redemptions_from_one_wallet_only_the_affordable_succeed(app, world):
    tree, people = world
    give(people, tree, 70)
    item = reward(people, tree, cost=10, stock=100)
    user_id, reward_id = people.resident.id, item.id
    db.session.remove()

    def redeem(i):
        user = db.session.get(User, user_id)
        return services.request_redemption(user, reward_id, quantity=1, key=f"k{i}").id

    results = race(app, 20, redeem)
    assert sum(1 for r in results if r[0] == "ok") == 7
    assert {r for r in results if r[0] != "ok"} == {(409, "insufficient_balance")}
    assert services.wallet_summary(db.session.get(User, user_id)) == {"balance": 0, "held": 70}
    assert db.session.get(Reward, reward_id).stock == 93
    ledger.check_invariants()


def test_twenty_people_race_for_five_in_stock(app, world):
    tree, people = world
    user_ids = []
    for i in range(20):
        person = make_user(f"1320000{i:04d}", f"志愿者{i}")
        add_member(person, tree.building, "resident")
        db.session.commit()
        services.award(
            people.staff,
            tree.community,
            phone=person.phone,
            amount=10,
            reason="志愿服务",
            key=f"a{i}",
        )
        user_ids.append(person.id)
    item = reward(people, tree, cost=10, stock=5)
    reward_id = item.id
    db.session.remove()

    def redeem(i):
        user = db.session.get(User, user_ids[i])
        return services.request_redemption(user, reward_id, quantity=1, key="mine").id

    results = race(app, 20, redeem)
    assert sum(1 for r in results if r[0] == "ok") == 5
    assert {r for r in results if r[0] != "ok"} == {(409, "out_of_stock")}
    assert db.session.get(Reward, reward_id).stock == 0
    assert db.session.query(Redemption).count() == 5
    ledger.check_invariants()


def test_approve_and_reject_racing_one_wins(app, world):
    tree, people = world
    give(people, tree, 10)
    item = reward(people, tree, cost=10, stock=1)
    row_id = services.request_redemption(people.resident, item.id, quantity=1, key="r").id
    staff_id, reward_id = people.staff.id, item.id
    db.session.remove()

    def decide(i):
        staff = db.session.get(User, staff_id)
        action = services.approve if i % 2 else services.reject
        return action(staff, row_id).status

    results = race(app, 10, decide)
    winners = {r[1] for r in results if r[0] == "ok"}
    assert len(winners) == 1  # all approvals or all rejections, never both
    ledger.check_invariants()
    stock = db.session.get(Reward, reward_id).stock
    assert (winners, stock) in (({"approved"}, 0), ({"rejected"}, 1))
