"""Every row of API.md "Love canteens", over HTTP with bearer tokens."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import ledger, qr
from core.extensions import db
from core.people.services import card_token, issue_card
from core.testing import add_member, bearer, make_user
from core.times import local_now, local_today
from plugins.meals import services
from plugins.meals.models import Menu, Serving


def test_canteens_are_created_by_staff_and_listed_down_the_tree(client, meals, people):
    tree = meals.tree
    resp = client.post(
        f"/api/v1/orgs/{tree.group.id}/canteens",
        json={"name": "一组助餐点", "address": "一组活动室"},
        headers=bearer(people.staff),
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body == {
        "id": body["id"],
        "org_id": tree.group.id,
        "name": "一组助餐点",
        "address": "一组活动室",
    }
    names = [
        c["name"]
        for c in client.get(
            f"/api/v1/orgs/{tree.community.id}/canteens", headers=bearer(people.resident)
        ).get_json()["items"]
    ]
    assert names == ["金星社区爱心食堂", "一组助餐点"]
    district = client.get(
        f"/api/v1/orgs/{tree.district.id}/canteens", headers=bearer(people.district_admin)
    ).get_json()["items"]
    assert len(district) == 3
    assert (
        client.post(
            f"/api/v1/orgs/{tree.community.id}/canteens",
            json={"name": "x"},
            headers=bearer(people.resident),
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/orgs/{tree.community.id}/canteens",
            json={"name": ""},
            headers=bearer(people.staff),
        ).status_code
        == 400
    )


def test_menus_are_created_once_per_slot_and_not_in_the_past(client, meals, people):
    url = f"/api/v1/canteens/{meals.canteen.id}/menus"
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    body = {
        "date": tomorrow,
        "slot": "lunch",
        "dishes": ["红烧肉", "青菜"],
        "price": 1200,
        "capacity": 40,
    }
    resp = client.post(url, json=body, headers=bearer(people.staff))
    assert resp.status_code == 201
    menu = resp.get_json()
    assert menu["booked"] == 0 and menu["places_left"] == 40 and menu["slot"] == "lunch"
    assert menu["book_by"] == f"{tomorrow}T11:00:00+08:00"
    assert menu["canteen_id"] == meals.canteen.id and menu["dishes"] == ["红烧肉", "青菜"]
    again = client.post(url, json=body, headers=bearer(people.staff))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "duplicate"
    past = dict(body, date=(local_today() - timedelta(days=1)).isoformat())
    assert client.post(url, json=past, headers=bearer(people.staff)).status_code == 400
    for bad in (
        {"slot": "supper"},
        {"price": -1},
        {"price": 12.5},
        {"price": "1200"},
        {"price": 10**30},
        {"capacity": 0},
        {"dishes": []},
        {"date": "明天"},
    ):
        resp = client.post(
            url, json={**body, "slot": "dinner", **bad}, headers=bearer(people.staff)
        )
        assert resp.status_code == 400, bad
    assert (
        client.post(
            url, json=dict(body, slot="dinner"), headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    assert db.session.scalar(select(func.count()).select_from(Menu)) == 1


def test_menus_list_soonest_first_with_my_booking(client, meals, people):
    later = meals.menu(2)
    sooner = meals.menu(1, "breakfast")
    services.book(meals.grandma, later, meals.grandma)
    db.session.commit()
    resp = client.get(
        f"/api/v1/canteens/{meals.canteen.id}/menus?from={local_today()}"
        f"&to={local_today() + timedelta(days=6)}",
        headers=bearer(meals.grandma),
    )
    items = resp.get_json()["items"]
    assert [m["id"] for m in items] == [sooner.id, later.id]
    assert items[0]["my_booking"] is None
    assert items[1]["my_booking"]["status"] == "booked" and items[1]["places_left"] == 49
    assert (
        client.get(
            f"/api/v1/canteens/{meals.canteen.id}/menus?from=昨天", headers=bearer(meals.grandma)
        ).status_code
        == 400
    )


def test_policy_is_set_by_admins_and_inherited(client, meals, people):
    tree = meals.tree
    resp = client.get(
        f"/api/v1/orgs/{tree.building.id}/meals/subsidy-policy", headers=bearer(people.resident)
    )
    assert resp.get_json()["source_org_id"] == tree.district.id
    assert resp.get_json()["tiers"][0] == {"min_age": 60, "subsidy": 100}
    url = f"/api/v1/orgs/{tree.community.id}/meals/subsidy-policy"
    body = {"tiers": [{"min_age": 65, "subsidy": 200}], "hardship_extra": 100}
    assert client.put(url, json=body, headers=bearer(people.staff)).status_code == 403
    resp = client.put(url, json=body, headers=bearer(people.community_admin))
    assert resp.status_code == 200
    assert resp.get_json() == dict(body, source_org_id=tree.community.id)
    assert (
        client.get(
            f"/api/v1/orgs/{tree.building.id}/meals/subsidy-policy", headers=bearer(people.resident)
        ).get_json()["source_org_id"]
        == tree.community.id
    )
    assert (
        client.get(
            f"/api/v1/orgs/{tree.other_community.id}/meals/subsidy-policy",
            headers=bearer(people.other_staff),
        ).get_json()["source_org_id"]
        == tree.district.id
    )
    for bad in (
        {"tiers": [{"min_age": 60, "subsidy": -1}], "hardship_extra": 0},
        {"tiers": [{"min_age": 60, "subsidy": 100}], "hardship_extra": 1.5},
        {"tiers": [{"min_age": 60, "subsidy": "1"}], "hardship_extra": 0},
        {"tiers": [{"min_age": 60, "subsidy": 10**30}], "hardship_extra": 0},
        {
            "tiers": [{"min_age": 60, "subsidy": 300}, {"min_age": 70, "subsidy": 100}],
            "hardship_extra": 0,
        },
        {
            "tiers": [{"min_age": 60, "subsidy": 1}, {"min_age": 60, "subsidy": 2}],
            "hardship_extra": 0,
        },
    ):
        assert (
            client.put(url, json=bad, headers=bearer(people.community_admin)).status_code == 400
        ), bad


def test_policy_none_anywhere(client, on, people):
    resp = client.get(
        f"/api/v1/orgs/{on.community.id}/meals/subsidy-policy", headers=bearer(people.staff)
    )
    assert resp.get_json() == {"tiers": [], "hardship_extra": 0, "source_org_id": None}


def test_fund_deposits_refuse_bad_amounts(client, meals, people):
    tree = meals.tree
    url = f"/api/v1/orgs/{tree.district.id}/meals/fund/deposits"
    good = {"amount": 5000, "note": "追加", "idempotency_key": "k1"}
    resp = client.post(url, json=good, headers=bearer(people.district_admin))
    assert resp.status_code == 201 and resp.get_json() == {"balance": 105_000}
    assert client.post(url, json=good, headers=bearer(people.district_admin)).get_json() == {
        "balance": 105_000
    }  # replayed key: nothing more
    for amount in (-5, 0, 1.5, "100", 10**30, True):
        resp = client.post(
            url,
            json=dict(good, amount=amount, idempotency_key=f"b{amount}"),
            headers=bearer(people.district_admin),
        )
        assert resp.status_code == 400, amount
    assert (
        client.post(
            url, json=dict(good, idempotency_key="k2"), headers=bearer(people.staff)
        ).status_code
        == 403
    )  # staff below: sees it, may not
    assert client.get(
        f"/api/v1/orgs/{tree.district.id}/meals/fund", headers=bearer(people.district_admin)
    ).get_json() == {"balance": 105_000}


def test_booking_for_myself_a_relative_and_by_code(client, meals, people):
    menu = meals.menu(1)
    url = f"/api/v1/menus/{menu.id}/bookings"
    resp = client.post(url, json={}, headers=bearer(meals.grandma))
    assert resp.status_code == 201
    body = resp.get_json()
    assert body == {
        "id": body["id"],
        "menu_id": menu.id,
        "user_id": meals.grandma.id,
        "price": 1200,
        "subsidy": 300,
        "to_pay": 900,
        "status": "booked",
    }
    again = client.post(url, json={}, headers=bearer(meals.grandma))
    assert again.status_code == 200 and again.get_json() == body
    # a relative books for grandpa (68, hardship: ¥1 + ¥3)
    son = make_user("13922220000", "儿子")
    from core.people.services import add_relative

    add_relative(people.staff, meals.grandpa, son.phone)
    db.session.commit()
    resp = client.post(url, json={"user_id": meals.grandpa.id}, headers=bearer(son))
    assert resp.status_code == 201 and resp.get_json()["subsidy"] == 400
    assert (
        client.post(url, json={"user_id": meals.young.id}, headers=bearer(son)).status_code == 403
    )
    assert client.post(url, json={"user_id": 999_999}, headers=bearer(son)).status_code == 404
    # staff with the young man's code (no subsidy below 60)
    card = issue_card(people.staff, meals.young)
    db.session.commit()
    resp = client.post(url, json={"person_code": card.short_code}, headers=bearer(people.staff))
    assert resp.status_code == 201 and resp.get_json()["subsidy"] == 0
    assert (
        client.post(url, json={"person_code": card.short_code}, headers=bearer(son)).status_code
        == 404
    )  # not staff there
    db.session.refresh(menu)
    assert menu.booked == 3


def test_booking_full_and_closed(client, meals, people):
    menu = meals.menu(1, capacity=1)
    url = f"/api/v1/menus/{menu.id}/bookings"
    assert client.post(url, json={}, headers=bearer(meals.grandma)).status_code == 201
    resp = client.post(url, json={}, headers=bearer(meals.young))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "full"
    closed = meals.menu(2, book_by=local_now() - timedelta(minutes=1))
    resp = client.post(
        f"/api/v1/menus/{closed.id}/bookings", json={}, headers=bearer(meals.grandma)
    )
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "booking_closed"
    for bad in ({"user_id": "1"}, {"user_id": -1}, {"user_id": 1.5}, {"person_code": ""}):
        assert client.post(url, json=bad, headers=bearer(meals.grandma)).status_code == 400


def test_cancel_until_the_deadline(client, meals, people):
    menu = meals.menu(1)
    booking, _ = services.book(meals.grandma, menu, meals.grandma)
    db.session.commit()
    assert (
        client.delete(f"/api/v1/bookings/{booking.id}", headers=bearer(people.outsider)).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/bookings/{booking.id}", headers=bearer(meals.grandma)).status_code
        == 204
    )
    db.session.refresh(menu)
    assert menu.booked == 0 and menu.places_left == 50
    # booking again revives the same row
    again, created = services.book(meals.staff, menu, meals.grandma)
    db.session.commit()
    assert again.id == booking.id and created
    menu.book_by = local_now() - timedelta(minutes=1)
    db.session.commit()
    resp = client.delete(f"/api/v1/bookings/{booking.id}", headers=bearer(people.staff))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "booking_closed"


def serve(client, meals, code, menu, user=None):
    return client.post(
        f"/api/v1/canteens/{menu.canteen_id}/servings",
        json={"person_code": code, "menu_id": menu.id},
        headers=bearer(user or meals.staff),
    )


def test_serving_a_booked_elder_pays_the_subsidy_from_the_fund(client, meals, people):
    menu = meals.menu(0)
    services.book(meals.grandma, menu, meals.grandma)
    db.session.commit()
    resp = serve(client, meals, meals.card, menu)
    assert resp.status_code == 201
    body = resp.get_json()
    assert {
        k: body[k]
        for k in ("user_id", "name", "age", "price", "subsidy", "to_pay", "booked", "funded")
    } == {
        "user_id": meals.grandma.id,
        "name": "王桂兰",
        "age": 85,
        "price": 1200,
        "subsidy": 300,
        "to_pay": 900,
        "booked": True,
        "funded": True,
    }
    assert services.fund_balance(meals.tree.district) == 100_000 - 300
    assert services.canteen_account(meals.canteen.id).balance == 300
    again = serve(client, meals, meals.card_token, menu)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_served"


def test_walk_ins_while_places_are_left(client, meals, people):
    menu = meals.menu(0, capacity=2)
    services.book(meals.young, menu, meals.young)
    db.session.commit()
    resp = serve(client, meals, meals.card, menu)
    assert resp.status_code == 201 and resp.get_json()["booked"] is False
    token = qr.person_code(meals.grandpa.id).token
    resp = serve(client, meals, token, menu)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "full"
    db.session.refresh(menu)
    assert (menu.booked, menu.walk_ins, menu.places_left) == (1, 1, 0)


def test_second_meal_in_another_canteen_same_slot(client, meals, people):
    here, there = meals.menu(0), meals.menu(0, canteen=meals.other, actor=people.other_staff)
    assert serve(client, meals, meals.card, here).status_code == 201
    resp = serve(client, meals, meals.card, there, user=people.other_staff)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "already_served"
    assert "金星社区爱心食堂" in resp.get_json()["error"]["message"]
    dinner = meals.menu(0, "dinner", canteen=meals.other, actor=people.other_staff)
    assert serve(client, meals, meals.card, dinner, user=people.other_staff).status_code == 201


def test_serving_refuses_other_days_and_bad_codes(client, meals, people):
    tomorrow, today = meals.menu(1), meals.menu(0)
    resp = serve(client, meals, meals.card, tomorrow)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_today"
    expired = qr.person_code(meals.grandma.id, now=time.time() - 3600).token
    assert serve(client, meals, expired, today).get_json()["error"]["code"] == "token_expired"
    assert serve(client, meals, "00000000", today).get_json()["error"]["code"] == "person_not_found"
    assert serve(client, meals, "not-a-token", today).status_code == 400
    old = meals.card
    issue_card(people.staff, meals.grandma)  # a new card revokes the old one
    db.session.commit()
    resp = serve(client, meals, old, today)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "card_revoked"
    for bad in (
        {"person_code": 12345678, "menu_id": today.id},
        {"person_code": meals.card, "menu_id": "1"},
        {"person_code": meals.card, "menu_id": 10**30},
    ):
        assert (
            client.post(
                f"/api/v1/canteens/{meals.canteen.id}/servings",
                json=bad,
                headers=bearer(people.staff),
            ).status_code
            == 400
        )
    assert serve(client, meals, meals.card, today, user=people.resident).status_code == 403
    assert serve(client, meals, meals.card, today, user=people.other_staff).status_code == 404
    other_menu = meals.menu(0, canteen=meals.other, actor=people.other_staff)
    resp = client.post(
        f"/api/v1/canteens/{meals.canteen.id}/servings",
        json={"person_code": meals.card_token, "menu_id": other_menu.id},
        headers=bearer(people.staff),
    )
    assert resp.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Serving)) == 0


def test_a_cashier_may_serve(client, meals, people):
    cashier = make_user("13933330000", "收银员")
    add_member(cashier, meals.tree.community, "meals.cashier")
    db.session.commit()
    assert serve(client, meals, meals.card, meals.menu(0), user=cashier).status_code == 201


def test_a_short_fund_leaves_the_subsidy_owed(client, meals, people):
    tree = meals.tree
    services.put_policy(
        people.community_admin,
        tree.community,
        tiers=[{"min_age": 60, "subsidy": 500}],
        hardship_extra=0,
    )
    services.deposit(people.community_admin, tree.community, amount=600, key="small", note="少")
    db.session.commit()
    menu = meals.menu(0)
    first = serve(client, meals, meals.card, menu).get_json()
    assert first["funded"] is True and first["subsidy"] == 500
    grandpa_card = card_token(issue_card(people.staff, meals.grandpa))
    db.session.commit()
    second = serve(client, meals, grandpa_card, menu).get_json()
    assert second["funded"] is False and second["subsidy"] == 500 and second["to_pay"] == 700
    assert second["subsidy_owed"] == 500
    assert services.fund_balance(tree.community) == 100  # never partial, never negative


def test_attendance_lists_who_has_not_come_with_masked_phones(client, meals, people):
    from core.people.services import add_relative

    son = make_user("13922220000", "儿子")
    add_relative(people.staff, meals.grandma, son.phone)
    menu = meals.menu(0)
    for person in (meals.grandma, meals.grandpa, meals.young):
        services.book(people.staff, menu, person)
    db.session.commit()
    serve(client, meals, card_token(issue_card(people.staff, meals.young)), menu)
    db.session.commit()
    resp = client.get(f"/api/v1/menus/{menu.id}/attendance", headers=bearer(people.staff))
    body = resp.get_json()
    assert body["booked"] == 3 and body["served"] == 1
    waiting = {p["name"]: p for p in body["not_arrived"]}
    assert set(waiting) == {"王桂兰", "李德福"}
    assert waiting["王桂兰"]["phone_masked"] == "139****0001"
    assert waiting["王桂兰"]["relatives"] == [
        {"user_id": son.id, "name": "儿子", "phone_masked": "139****0000"}
    ]
    assert waiting["李德福"]["phone_masked"] is None
    assert "13911110001" not in resp.get_data(as_text=True)
    assert (
        client.get(
            f"/api/v1/menus/{menu.id}/attendance", headers=bearer(people.resident)
        ).status_code
        == 403
    )


def test_settlement_per_canteen_and_csv(client, meals, people):
    menu = meals.menu(0)
    serve(client, meals, meals.card, menu)
    serve(client, meals, card_token(issue_card(people.staff, meals.young)), menu)
    db.session.commit()
    month = local_today().strftime("%Y-%m")
    url = f"/api/v1/orgs/{meals.tree.district.id}/meals/settlement?month={month}"
    body = client.get(url, headers=bearer(people.district_admin)).get_json()
    first = body["canteens"][0]
    assert body["month"] == month
    assert {
        k: first[k]
        for k in ("name", "meals", "subsidised_meals", "subsidy", "subsidy_owed", "paid_by_diners")
    } == {
        "name": "金星社区爱心食堂",
        "meals": 2,
        "subsidised_meals": 1,
        "subsidy": 300,
        "subsidy_owed": 0,
        "paid_by_diners": 900 + 1200,
    }
    assert first["by_tier"] == [{"min_age": 80, "meals": 1, "subsidy": 300}]
    assert body["canteens"][1]["meals"] == 0
    assert body["total"]["meals"] == 2
    csv = client.get(url + "&format=csv", headers=bearer(people.district_admin))
    assert csv.status_code == 200 and "金星社区爱心食堂,2,1,300,0,2100" in csv.get_data(
        as_text=True
    )
    assert client.get(url, headers=bearer(people.resident)).status_code == 403
    assert (
        client.get(url.replace(month, "2026-13"), headers=bearer(people.district_admin)).status_code
        == 400
    )


@pytest.mark.parametrize("path", ["/api/v1/orgs/{c}/canteens", "/api/v1/canteens/{k}/menus"])
def test_meals_off_answers_404(client, meals, people, path):
    from core.testing import enable

    enable(meals.tree.community, "meals", enabled=False)
    db.session.commit()
    url = path.format(c=meals.tree.community.id, k=meals.canteen.id)
    assert client.get(url, headers=bearer(people.staff)).status_code == 404


def test_the_ledger_is_untouched_by_refusals(client, meals, people):
    before = db.session.scalar(select(func.count()).select_from(ledger.Transfer))
    serve(client, meals, meals.card, meals.menu(1))
    assert db.session.scalar(select(func.count()).select_from(ledger.Transfer)) == before
