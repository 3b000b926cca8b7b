"""The 金豆 HTTP API, as API.md "Points" promises it."""

from __future__ import annotations

from core import ledger
from core.extensions import db
from core.testing import bearer, enable
from plugins.points import services
from tests.plugins.points.conftest import FUND, give, reward

BAD_AMOUNTS = [0, -1, "5", 1.5, True, 10**30, None]


def wallet(client, user):
    r = client.get("/api/v1/points/wallet", headers=bearer(user))
    assert r.status_code == 200
    return r.json


# -- wallet and transfers -----------------------------------------------------------------


def test_wallet_starts_empty(client, world):
    tree, people = world
    assert wallet(client, people.outsider) == {"balance": 0, "held": 0}


def test_transfers_list_signed_lines_newest_first_with_cursor(client, world):
    tree, people = world
    give(people, tree, 30, key="a")
    give(people, tree, 20, key="b")
    item = reward(people, tree, cost=5)
    services.request_redemption(people.resident, item.id, quantity=1, key="r")
    headers = bearer(people.resident)
    r = client.get("/api/v1/points/transfers?limit=2", headers=headers)
    assert r.status_code == 200
    assert [line["amount"] for line in r.json["items"]] == [-5, 20]
    assert r.json["items"][1]["reason"] == "优秀楼栋长"
    assert set(r.json["items"][0]) >= {"id", "amount", "reason", "at"}
    r2 = client.get(f"/api/v1/points/transfers?limit=2&cursor={r.json['next']}", headers=headers)
    assert [line["amount"] for line in r2.json["items"]] == [30]
    assert r2.json["next"] is None
    assert client.get("/api/v1/points/transfers?cursor=%%%", headers=headers).status_code == 400


def test_wallet_needs_login(client, world):
    r = client.get("/api/v1/points/wallet")
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"


# -- fund ------------------------------------------------------------------------------------


def test_deposit_then_replay_then_clash(client, world):
    tree, people = world
    headers = bearer(people.district_admin)
    url = f"/api/v1/orgs/{tree.district.id}/points/fund/deposits"
    body = {"amount": 500, "note": "年终捐赠", "idempotency_key": "d-1"}
    r = client.post(url, json=body, headers=headers)
    assert r.status_code == 201 and r.json == {"balance": FUND + 500}
    r = client.post(url, json=body, headers=headers)
    assert r.status_code == 201 and r.json == {"balance": FUND + 500}
    r = client.post(url, json={**body, "amount": 501}, headers=headers)
    assert r.status_code == 409 and r.json["error"]["code"] == "idempotency_conflict"
    r = client.get(f"/api/v1/orgs/{tree.district.id}/points/fund", headers=headers)
    assert r.json == {"balance": FUND + 500}


def test_deposit_bad_amount_is_400_naming_the_field(client, world):
    tree, people = world
    headers = bearer(people.district_admin)
    for amount in BAD_AMOUNTS:
        r = client.post(
            f"/api/v1/orgs/{tree.district.id}/points/fund/deposits",
            json={"amount": amount, "idempotency_key": "x"},
            headers=headers,
        )
        assert r.status_code == 400 and "amount" in r.json["error"]["fields"], amount
    db.session.expire_all()
    assert services.fund_balance(tree.district) == FUND


def test_deposit_needs_an_admin(client, world):
    tree, people = world
    body = {"amount": 5, "idempotency_key": "x"}
    r = client.post(
        f"/api/v1/orgs/{tree.community.id}/points/fund/deposits",
        json=body,
        headers=bearer(people.staff),
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/orgs/{tree.community.id}/points/fund/deposits",
        json=body,
        headers=bearer(people.community_admin),
    )
    assert r.status_code == 201 and r.json == {"balance": 5}


def test_fund_is_for_staff(client, world):
    tree, people = world
    assert (
        client.get(
            f"/api/v1/orgs/{tree.building.id}/points/fund", headers=bearer(people.resident)
        ).status_code
        == 403
    )
    assert (
        client.get(
            f"/api/v1/orgs/{tree.community.id}/points/fund", headers=bearer(people.other_staff)
        ).status_code
        == 404
    )


# -- awards -----------------------------------------------------------------------------------


def award_url(org):
    return f"/api/v1/orgs/{org.id}/points/awards"


def test_award_paid_from_nearest_fund_and_replay(client, world):
    tree, people = world
    headers = bearer(people.staff)
    body = {
        "phone": people.resident.phone,
        "amount": 40,
        "reason": "优秀楼栋长",
        "idempotency_key": "aw-1",
    }
    r = client.post(award_url(tree.community), json=body, headers=headers)
    assert r.status_code == 201 and isinstance(r.json["transfer_id"], int)
    again = client.post(award_url(tree.community), json=body, headers=headers)
    assert again.status_code == 201 and again.json == r.json
    assert wallet(client, people.resident) == {"balance": 40, "held": 0}
    db.session.expire_all()
    assert services.fund_balance(tree.district) == FUND - 40
    clash = client.post(award_url(tree.community), json={**body, "amount": 41}, headers=headers)
    assert clash.status_code == 409


def test_award_uses_own_fund_when_the_community_has_one(client, world):
    tree, people = world
    services.deposit(people.community_admin, tree.community, amount=100, key="c")
    give(people, tree, 60)
    db.session.expire_all()
    assert services.fund_balance(tree.community) == 40
    assert services.fund_balance(tree.district) == FUND


def test_award_the_fund_cannot_cover_is_409_and_pays_nothing(client, world):
    tree, people = world
    r = client.post(
        award_url(tree.community),
        headers=bearer(people.staff),
        json={
            "phone": people.resident.phone,
            "amount": FUND + 1,
            "reason": "x",
            "idempotency_key": "k",
        },
    )
    assert r.status_code == 409 and r.json["error"]["code"] == "fund_short"
    assert "基金" in r.json["error"]["message"]
    assert wallet(client, people.resident)["balance"] == 0


def test_award_bad_amount_is_400(client, world):
    tree, people = world
    headers = bearer(people.staff)
    for amount in BAD_AMOUNTS:
        r = client.post(
            award_url(tree.community),
            headers=headers,
            json={
                "phone": people.resident.phone,
                "amount": amount,
                "reason": "x",
                "idempotency_key": "k",
            },
        )
        assert r.status_code == 400 and "amount" in r.json["error"]["fields"], amount
    assert wallet(client, people.resident)["balance"] == 0


def test_award_access(client, world):
    tree, people = world
    body = {"phone": people.resident.phone, "amount": 1, "reason": "x", "idempotency_key": "k"}
    assert (
        client.post(
            award_url(tree.building), json=body, headers=bearer(people.resident)
        ).status_code
        == 403
    )
    assert client.post(
        award_url(tree.community), json=body, headers=bearer(people.other_staff)
    ).status_code in (403, 404)
    r = client.post(
        award_url(tree.community),
        headers=bearer(people.staff),
        json={**body, "phone": "13999999999"},
    )
    assert r.status_code == 404
    r = client.post(
        award_url(tree.community),
        headers=bearer(people.staff),
        json={**body, "phone": people.other_staff.phone},
    )  # not a member here
    assert r.status_code == 404
    r = client.post(award_url(tree.community), headers=bearer(people.staff), json={})
    assert r.status_code == 400 and {"phone", "amount", "reason", "idempotency_key"} <= set(
        r.json["error"]["fields"]
    )


# -- rewards ----------------------------------------------------------------------------------


def test_create_and_list_rewards_down_the_tree(client, world):
    tree, people = world
    r = client.post(
        f"/api/v1/orgs/{tree.community.id}/rewards",
        headers=bearer(people.staff),
        json={"name": "理发券", "cost": 80, "stock": 3, "description": "爱心商家"},
    )
    assert r.status_code == 201
    assert r.json["name"] == "理发券" and r.json["cost"] == 80 and r.json["stock"] == 3
    listed = client.get(f"/api/v1/orgs/{tree.building.id}/rewards", headers=bearer(people.resident))
    assert listed.status_code == 200 and listed.json["next"] is None
    assert [i["id"] for i in listed.json["items"]] == [r.json["id"]]
    assert (
        client.get(
            f"/api/v1/orgs/{tree.community.id}/rewards", headers=bearer(people.other_staff)
        ).status_code
        == 404
    )


def test_create_reward_bad_input(client, world):
    tree, people = world
    headers = bearer(people.staff)
    for field, value in [
        ("cost", 0),
        ("cost", "9"),
        ("cost", 2.5),
        ("stock", -1),
        ("stock", True),
        ("stock", 10**30),
        ("name", ""),
        ("ends_at", "2020-01-01T00:00:00+08:00"),
    ]:
        body = {
            "name": "理发券",
            "cost": 80,
            "stock": 3,
            "starts_at": "2030-01-01T00:00:00+08:00",
            field: value,
        }
        r = client.post(f"/api/v1/orgs/{tree.community.id}/rewards", headers=headers, json=body)
        assert r.status_code == 400 and field in r.json["error"]["fields"], (field, value)


def test_create_reward_is_for_staff(client, world):
    tree, people = world
    r = client.post(
        f"/api/v1/orgs/{tree.building.id}/rewards",
        headers=bearer(people.resident),
        json={"name": "x", "cost": 1, "stock": 1},
    )
    assert r.status_code == 403


# -- redemptions -------------------------------------------------------------------------------


def redeem(client, user, reward_id, quantity=1, key="r-1"):
    return client.post(
        f"/api/v1/rewards/{reward_id}/redemptions",
        headers=bearer(user),
        json={"quantity": quantity, "idempotency_key": key},
    )


def test_redeem_holds_beans_and_replays(client, world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree, cost=10, stock=5)
    r = redeem(client, people.resident, item.id, 2)
    assert r.status_code == 201
    assert r.json["status"] == "pending" and r.json["total"] == 20 and r.json["id"]
    assert wallet(client, people.resident) == {"balance": 30, "held": 20}
    again = redeem(client, people.resident, item.id, 2)
    assert again.status_code == 201 and again.json["id"] == r.json["id"]
    assert wallet(client, people.resident) == {"balance": 30, "held": 20}
    assert redeem(client, people.resident, item.id, 3).status_code == 409  # same key, other content
    db.session.expire_all()
    assert db.session.get(type(item), item.id).stock == 3


def test_redeem_short_balance_and_stock_are_409_in_chinese(client, world):
    tree, people = world
    give(people, tree, 15)
    item = reward(people, tree, cost=10, stock=1)
    r = redeem(client, people.resident, item.id, 2)
    assert r.status_code == 409 and r.json["error"]["code"] == "out_of_stock"
    assert "库存" in r.json["error"]["message"]
    dear = reward(people, tree, cost=20, stock=5)
    r = redeem(client, people.resident, dear.id, 1, key="r-2")
    assert r.status_code == 409 and r.json["error"]["code"] == "insufficient_balance"
    assert "金豆不够" in r.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(type(dear), dear.id).stock == 5  # nothing half-written
    assert wallet(client, people.resident) == {"balance": 15, "held": 0}


def test_redeem_bad_quantity_is_400(client, world):
    tree, people = world
    item = reward(people, tree)
    for quantity in BAD_AMOUNTS + [101]:
        r = redeem(client, people.resident, item.id, quantity)
        assert r.status_code == 400 and "quantity" in r.json["error"]["fields"], quantity


def test_redeem_unknown_or_invisible_reward_is_404(client, world):
    tree, people = world
    assert redeem(client, people.resident, 999_999).status_code == 404
    far_staff_reward = services.create_reward(
        people.other_staff, tree.other_community, name="y", cost=1, stock=1
    )
    db.session.commit()
    assert redeem(client, people.resident, far_staff_reward.id).status_code == 404


def test_per_person_limit(client, world):
    tree, people = world
    give(people, tree, 100)
    item = reward(people, tree, cost=1, stock=10, per_person_limit=2)
    assert redeem(client, people.resident, item.id, 2).status_code == 201
    r = redeem(client, people.resident, item.id, 1, key="r-2")
    assert r.status_code == 409 and r.json["error"]["code"] == "limit_reached"


def test_queue_approve_fulfil(client, world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree, cost=10)
    rid = redeem(client, people.resident, item.id, 3).json["id"]
    staff = bearer(people.staff)
    queue = client.get(
        f"/api/v1/orgs/{tree.community.id}/redemptions?status=pending", headers=staff
    )
    assert queue.status_code == 200 and [i["id"] for i in queue.json["items"]] == [rid]
    assert (
        client.get(
            f"/api/v1/orgs/{tree.community.id}/redemptions?status=bogus", headers=staff
        ).status_code
        == 400
    )
    early = client.post(f"/api/v1/redemptions/{rid}/fulfil", headers=staff)
    assert early.status_code == 409
    r = client.post(f"/api/v1/redemptions/{rid}/approve", headers=staff)
    assert r.status_code == 200 and r.json == {"status": "approved"}
    assert client.post(f"/api/v1/redemptions/{rid}/approve", headers=staff).json == {
        "status": "approved"
    }
    assert wallet(client, people.resident) == {"balance": 20, "held": 0}
    assert (
        client.post(
            f"/api/v1/redemptions/{rid}/reject", headers=staff, json={"reason": "晚了"}
        ).status_code
        == 409
    )
    r = client.post(f"/api/v1/redemptions/{rid}/fulfil", headers=staff)
    assert r.status_code == 200 and r.json == {"status": "fulfilled"}
    assert (
        client.get(
            f"/api/v1/orgs/{tree.community.id}/redemptions?status=pending", headers=staff
        ).json["items"]
        == []
    )
    db.session.expire_all()
    ledger.check_invariants()


def test_reject_and_cancel_return_beans_and_stock(client, world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree, cost=10, stock=4)
    first = redeem(client, people.resident, item.id, 2).json["id"]
    second = redeem(client, people.resident, item.id, 2, key="r-2").json["id"]
    r = client.post(
        f"/api/v1/redemptions/{first}/reject",
        headers=bearer(people.staff),
        json={"reason": "库存盘点有误"},
    )
    assert r.status_code == 200 and r.json == {"status": "rejected"}
    r = client.post(f"/api/v1/redemptions/{second}/cancel", headers=bearer(people.resident))
    assert r.status_code == 200 and r.json == {"status": "cancelled"}
    assert wallet(client, people.resident) == {"balance": 50, "held": 0}
    db.session.expire_all()
    assert db.session.get(type(item), item.id).stock == 4
    ledger.check_invariants()


def test_staff_routes_refuse_residents_and_other_communities(client, world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree)
    rid = redeem(client, people.resident, item.id).json["id"]
    for verb in ("approve", "reject", "fulfil"):
        r = client.post(
            f"/api/v1/redemptions/{rid}/{verb}", headers=bearer(people.resident), json={}
        )
        assert r.status_code in (403, 404), verb
        r = client.post(
            f"/api/v1/redemptions/{rid}/{verb}", headers=bearer(people.other_staff), json={}
        )
        assert r.status_code in (403, 404), verb
    assert (
        client.get(
            f"/api/v1/orgs/{tree.building.id}/redemptions", headers=bearer(people.resident)
        ).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/redemptions/{rid}/cancel", headers=bearer(people.staff)).status_code
        == 404
    )  # not theirs
    assert (
        client.post("/api/v1/redemptions/999999/approve", headers=bearer(people.staff)).status_code
        == 404
    )


def test_everything_is_404_where_points_is_off(client, world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree)
    rid = redeem(client, people.resident, item.id).json["id"]
    enable(tree.community, "points", False)
    db.session.commit()
    staff = bearer(people.staff)
    assert client.get(f"/api/v1/orgs/{tree.community.id}/rewards", headers=staff).status_code == 404
    assert (
        client.post(
            award_url(tree.community),
            headers=staff,
            json={
                "phone": people.resident.phone,
                "amount": 1,
                "reason": "x",
                "idempotency_key": "k",
            },
        ).status_code
        == 404
    )
    assert redeem(client, people.resident, item.id, key="new").status_code == 404
    assert client.post(f"/api/v1/redemptions/{rid}/approve", headers=staff).status_code == 404
    assert client.get(f"/points/orgs/{tree.community.id}/rewards").status_code == 404
    # still on at the district
    assert (
        client.get(
            f"/api/v1/orgs/{tree.district.id}/points/fund", headers=bearer(people.district_admin)
        ).status_code
        == 200
    )


def test_openapi_documents_the_points_routes(client, world):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/points/wallet",
        "/api/v1/orgs/{org_id}/points/awards",
        "/api/v1/rewards/{reward_id}/redemptions",
        "/api/v1/redemptions/{redemption_id}/approve",
    ):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/v1/points/wallet"]["get"]["summary"]


def test_list_and_reverse_awards(client, world):
    tree, people = world
    give(people, tree, 30)
    staff = bearer(people.staff)
    listed = client.get(f"/api/v1/orgs/{tree.community.id}/points/awards", headers=staff)
    assert listed.status_code == 200
    [item] = listed.json["items"]
    assert item["amount"] == 30 and item["reason"] == "优秀楼栋长" and item["kind"] == "manual"
    url = f"/api/v1/points/awards/{item['id']}/reverse"
    assert client.post(url, headers=bearer(people.resident), json={"reason": "x"}).status_code in (
        403,
        404,
    )
    assert client.post(url, headers=staff, json={}).status_code == 400
    r = client.post(url, headers=staff, json={"reason": "发错人"})
    assert r.status_code == 200 and isinstance(r.json["transfer_id"], int)
    again = client.post(url, headers=staff, json={"reason": "发错人"})  # even identical
    assert again.status_code == 409 and again.json["error"]["code"] == "already_reversed"
    assert wallet(client, people.resident) == {"balance": 0, "held": 0}
    ledger.check_invariants()


def test_reversal_of_spent_beans_is_409(client, world):
    tree, people = world
    row = give(people, tree, 10)
    item = reward(people, tree, cost=10)
    services.request_redemption(people.resident, item.id, quantity=1, key="r")
    r = client.post(
        f"/api/v1/points/awards/{row.id}/reverse",
        headers=bearer(people.staff),
        json={"reason": "x"},
    )
    assert r.status_code == 409 and "已被使用" in r.json["error"]["message"]


def test_every_points_api_route_is_documented(app, world):
    from core.api import API_DOCS

    routes = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("points.") and r.rule.startswith("/api/v1/")
    ]
    assert len(routes) >= 14
    for rule in routes:
        view = app.view_functions[rule.endpoint]
        assert API_DOCS.get(getattr(view, "__wrapped__", None)) or API_DOCS.get(view), rule.rule


def test_my_redemptions_and_one_redemption(client, world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree, cost=10)
    rid = redeem(client, people.resident, item.id, 2).json["id"]
    mine = client.get("/api/v1/points/redemptions", headers=bearer(people.resident))
    assert mine.status_code == 200 and [r["id"] for r in mine.json["items"]] == [rid]
    one = client.get(f"/api/v1/redemptions/{rid}", headers=bearer(people.resident)).json
    assert one["status"] == "pending" and one["total"] == 20 and len(one["code"]) == 8
    assert client.get(f"/api/v1/redemptions/{rid}", headers=bearer(people.staff)).status_code == 200
    assert (
        client.get(f"/api/v1/redemptions/{rid}", headers=bearer(people.outsider)).status_code == 404
    )
    assert (
        client.get("/api/v1/points/redemptions", headers=bearer(people.outsider)).json["items"]
        == []
    )
