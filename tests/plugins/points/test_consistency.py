"""Issue 9, item 8: one person's 金豆 figures mean one thing wherever shown,
and 申请兑换 says how much is missing instead of failing after the tap."""

from __future__ import annotations

import re

from core.extensions import db
from core.times import this_month
from plugins.points import services
from tests.plugins.points.conftest import give, login, reward


def board(org):
    return {u.name: total for u, total in services.leaderboard(org, this_month())}


def test_building_community_and_district_boards_show_the_same_total(world):
    tree, people = world
    # Earned at the community (an activity there) and at the building: the
    # building's board used to count only the building's 100.
    give(people, tree, 5, key="community")
    services.award(
        people.staff,
        tree.building,
        phone=people.resident.phone,
        amount=100,
        reason="楼栋长",
        key="building",
    )
    db.session.commit()
    expected = services.earned_in_month(people.resident, this_month())
    assert expected == 105
    for org in (tree.building, tree.community, tree.district):
        assert board(org)[people.resident.name] == 105, org.name


def test_reversed_awards_leave_every_board_and_the_months_total(world):
    tree, people = world
    row = give(people, tree, 40)
    services.reverse_award(people.staff, row.id, reason="发错了")
    db.session.commit()
    assert services.earned_in_month(people.resident, this_month()) == 0
    assert board(tree.building) == {}


def test_wallet_labels_spendable_and_the_months_earnings(client, world):
    tree, people = world
    give(people, tree, 60)
    item = reward(people, tree, cost=10)
    services.request_redemption(people.resident, item.id, quantity=2, key="r")
    db.session.commit()
    login(client, people.resident)
    page = client.get("/points/wallet").get_data(as_text=True)
    assert re.search(r'id="balance">40<', page)  # spendable now
    assert re.search(r'id="held">20<', page) and "暂扣（等待审核）" in page
    assert re.search(r'id="earned">60<', page) and "光荣榜" in page
    assert "冻结" not in page
    board_page = client.get(f"/points/orgs/{tree.building.id}/leaderboard").get_data(as_text=True)
    assert "本月获得 <strong>60</strong>" in board_page and "不是账户余额" in board_page


def test_short_balance_shows_how_much_is_missing_and_a_disabled_button(client, world):
    tree, people = world
    give(people, tree, 30)
    reward(people, tree, cost=50)
    login(client, people.resident)
    page = client.get(f"/points/orgs/{tree.building.id}/rewards").get_data(as_text=True)
    assert re.search(r"<button[^>]*disabled>还差 20 金豆</button>", page)
    assert "申请兑换" not in page
    give(people, tree, 20, key="more")
    page = client.get(f"/points/orgs/{tree.building.id}/rewards").get_data(as_text=True)
    assert "申请兑换" in page and "还差" not in page


def test_a_failed_request_returns_to_the_catalog_it_came_from(client, world):
    tree, people = world
    give(people, tree, 10)
    item = reward(people, tree, cost=10, stock=1)  # offered by the community
    login(client, people.resident)
    catalog = f"/points/orgs/{tree.building.id}/rewards"
    r = client.post(
        f"/points/rewards/{item.id}/redeem",
        data={"quantity": "5", "idempotency_key": "k", "back": catalog},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(catalog)
    # a foreign address is ignored: back to a catalog, never elsewhere
    r = client.post(
        f"/points/rewards/{item.id}/redeem",
        data={"quantity": "5", "idempotency_key": "k2", "back": "https://evil.example/"},
    )
    assert "evil" not in r.headers["Location"]
