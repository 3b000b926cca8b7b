"""Every row of API.md "Home-care vouchers" over HTTP, with bad inputs."""

from __future__ import annotations

from datetime import date

import pytest

from core.extensions import db
from core.testing import bearer, enable, make_user
from plugins.elder_vouchers import services
from tests.plugins.elder_vouchers.conftest import code, make_elder


def test_programme_create_get_deposit(client, on, people):
    admin = bearer(people.district_admin)
    made = client.post(
        f"/api/v1/orgs/{on.district.id}/voucher-programmes",
        headers=admin,
        json={
            "name": "服务券",
            "monthly_amount": 20000,
            "min_age": 80,
            "hardship_only": False,
            "expiry": "month_end",
        },
    )
    assert made.status_code == 201, made.get_json()
    pid = made.get_json()["id"]
    dep = client.post(
        f"/api/v1/voucher-programmes/{pid}/budget/deposits",
        headers=admin,
        json={"amount": 50000, "note": "区财政", "idempotency_key": "k1"},
    )
    assert dep.status_code == 201 and dep.get_json() == {"budget": 50000}
    again = client.post(
        f"/api/v1/voucher-programmes/{pid}/budget/deposits",
        headers=admin,
        json={"amount": 50000, "note": "区财政", "idempotency_key": "k1"},
    )
    assert again.get_json() == {"budget": 50000}
    got = client.get(f"/api/v1/voucher-programmes/{pid}", headers=bearer(people.district_admin))
    assert got.get_json() == {
        "id": pid,
        "name": "服务券",
        "org_id": on.district.id,
        "monthly_amount": 20000,
        "min_age": 80,
        "hardship_only": False,
        "expiry": "month_end",
        "budget": 50000,
        "enrolled": 0,
    }
    staff = client.post(
        f"/api/v1/orgs/{on.district.id}/voucher-programmes",
        headers=bearer(people.staff),
        json={"name": "x", "monthly_amount": 1},
    )
    assert staff.status_code in (403, 404)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"monthly_amount": 100}, "name"),
        ({"name": "x", "monthly_amount": 0}, "monthly_amount"),
        ({"name": "x", "monthly_amount": "100"}, "monthly_amount"),
        ({"name": "x", "monthly_amount": 100, "expiry": "never"}, "expiry"),
        ({"name": "x", "monthly_amount": 100, "min_age": -1}, "min_age"),
        ({"name": "x", "monthly_amount": 100, "hardship_only": "yes"}, "hardship_only"),
    ],
)
def test_programme_bad_input(client, on, people, body, field):
    answer = client.post(
        f"/api/v1/orgs/{on.district.id}/voucher-programmes",
        headers=bearer(people.district_admin),
        json=body,
    )
    assert answer.status_code == 400 and field in answer.get_json()["error"]["fields"]


def test_enrolment_rows(client, world, people):
    pid = world.programme.id
    url = f"/api/v1/voucher-programmes/{pid}/enrolments"
    young = make_elder("13900000020", world.tree.building, birth=date(1970, 1, 1))
    db.session.commit()
    assert (
        client.post(url, json={"user_id": world.elder.id}, headers=bearer(people.staff)).status_code
        == 200
    )
    refused = client.post(url, json={"user_id": young.id}, headers=bearer(people.staff))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "not_eligible"
    assert "年龄不足" in refused.get_json()["error"]["message"]
    assert client.post(url, json={"user_id": "x"}, headers=bearer(people.staff)).status_code == 400
    assert (
        client.post(
            url, json={"user_id": world.elder.id}, headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    gone = client.delete(f"{url}/{world.elder.id}", headers=bearer(people.staff))
    assert gone.status_code == 204
    issued = client.post(
        f"/api/v1/voucher-programmes/{pid}/issuances",
        json={"month": "2026-12"},
        headers=bearer(people.district_admin),
    )
    assert issued.get_json() == {"month": "2026-12", "issued": 0, "skipped": 0, "amount": 0}
    assert client.delete(f"{url}/{world.elder.id}", headers=bearer(people.staff)).status_code == 404


def test_issuance_rows(client, world, people):
    url = f"/api/v1/voucher-programmes/{world.programme.id}/issuances"
    admin = bearer(people.district_admin)
    first = client.post(url, json={"month": "2026-12"}, headers=admin)
    assert first.status_code == 201
    assert first.get_json() == {"month": "2026-12", "issued": 1, "skipped": 0, "amount": 20000}
    assert client.post(url, json={"month": "2026-12"}, headers=admin).get_json()["issued"] == 0
    for bad in ({}, {"month": "2026-13"}, {"month": "12/2026"}, {"month": 202612}):
        assert client.post(url, json=bad, headers=admin).status_code == 400, bad
    assert (
        client.post(url, json={"month": "2027-01"}, headers=bearer(people.staff)).status_code == 403
    )


def test_issuance_budget_short_is_409(client, on, people):
    admin = bearer(people.district_admin)
    pid = client.post(
        f"/api/v1/orgs/{on.district.id}/voucher-programmes",
        headers=admin,
        json={"name": "券", "monthly_amount": 20000},
    ).get_json()["id"]
    client.post(
        f"/api/v1/voucher-programmes/{pid}/budget/deposits",
        headers=admin,
        json={"amount": 19999, "note": "", "idempotency_key": "k"},
    )
    client.post(
        f"/api/v1/voucher-programmes/{pid}/enrolments",
        json={"user_id": people.resident.id},
        headers=bearer(people.staff),
    )
    short = client.post(
        f"/api/v1/voucher-programmes/{pid}/issuances", json={"month": "2026-11"}, headers=admin
    )
    assert short.status_code == 409 and short.get_json()["error"]["code"] == "budget_short"
    assert client.get("/api/v1/vouchers/wallet", headers=bearer(people.resident)).get_json() == {
        "items": [{"programme_id": pid, "name": "券", "balance": 0, "held": 0}]
    }


def test_wallet_for_me_relative_staff(client, world, people):
    from core.people.services import add_relative

    son = make_user("13900000030", "儿子")
    db.session.commit()
    add_relative(people.staff, world.elder, son.phone)
    db.session.commit()
    want = {
        "items": [
            {
                "programme_id": world.programme.id,
                "name": "居家养老服务券",
                "balance": 20000,
                "held": 0,
            }
        ]
    }
    assert client.get("/api/v1/vouchers/wallet", headers=bearer(world.elder)).get_json() == want
    for who in (son, people.staff):
        assert (
            client.get(
                f"/api/v1/vouchers/wallet?user_id={world.elder.id}", headers=bearer(who)
            ).get_json()
            == want
        )
    assert (
        client.get(
            f"/api/v1/vouchers/wallet?user_id={world.elder.id}", headers=bearer(people.outsider)
        ).status_code
        == 404
    )
    assert client.get("/api/v1/vouchers/wallet?user_id=abc", headers=bearer(son)).status_code == 400


def test_provider_and_workers(client, on, people):
    admin = bearer(people.community_admin)
    made = client.post(
        f"/api/v1/orgs/{on.community.id}/providers",
        headers=admin,
        json={"name": "康乐家政", "services": [{"name": "助浴", "price": 5000}]},
    )
    assert made.status_code == 201
    body = made.get_json()
    assert body["name"] == "康乐家政" and body["services"][0]["price"] == 5000
    for bad in (
        {"name": "x", "services": []},
        {"name": "x", "services": [{"name": "a"}]},
        {"services": [{"name": "a", "price": 1}]},
    ):
        assert (
            client.post(
                f"/api/v1/orgs/{on.community.id}/providers", headers=admin, json=bad
            ).status_code
            == 400
        )
    worker = make_user("13900000040", "小王")
    db.session.commit()
    url = f"/api/v1/providers/{body['id']}/workers"
    assert client.post(url, json={"phone": worker.phone}, headers=admin).status_code == 201
    assert client.post(url, json={"phone": worker.phone}, headers=admin).status_code == 200
    assert client.post(url, json={"phone": "13999999999"}, headers=admin).status_code == 404
    assert client.post(url, json={"phone": "abc"}, headers=admin).status_code == 400
    assert (
        client.post(url, json={"phone": worker.phone}, headers=bearer(people.staff)).status_code
        == 403
    )


def test_visit_rows(client, world, people):
    worker = bearer(world.worker)
    start = {
        "person_code": code(world.elder),
        "service_id": world.bath.id,
        "programme_id": world.programme.id,
    }
    opened = client.post(
        f"/api/v1/providers/{world.provider.id}/visits", json=start, headers=worker
    )
    assert opened.status_code == 201, opened.get_json()
    visit = opened.get_json()
    assert visit["status"] == "open" and visit["amount"] == 5000 and visit["started_at"]
    busy = client.post(f"/api/v1/providers/{world.provider.id}/visits", json=start, headers=worker)
    assert busy.status_code == 409 and busy.get_json()["error"]["code"] == "visit_open"
    other = make_elder("13900000050", world.tree.building)
    db.session.commit()
    wrong = client.post(
        f"/api/v1/visits/{visit['id']}/finish", json={"person_code": code(other)}, headers=worker
    )
    assert wrong.status_code == 409 and wrong.get_json()["error"]["code"] == "wrong_person"
    assert (
        client.post(
            f"/api/v1/visits/{visit['id']}/finish",
            json={"person_code": code(world.elder)},
            headers=bearer(people.staff),
        ).status_code
        == 403
    )
    done = client.post(
        f"/api/v1/visits/{visit['id']}/finish",
        json={"person_code": code(world.elder)},
        headers=worker,
    )
    assert done.status_code == 200
    assert done.get_json()["status"] == "finished" and done.get_json()["minutes"] == 0
    assert (
        client.post(f"/api/v1/visits/{visit['id']}/cancel", headers=worker).get_json()["error"][
            "code"
        ]
        == "not_open"
    )
    for bad in (
        {},
        {**start, "service_id": 999},
        {**start, "programme_id": "1"},
        {**start, "person_code": ""},
        {**start, "person_code": "garbage"},
    ):
        answer = client.post(
            f"/api/v1/providers/{world.provider.id}/visits", json=bad, headers=worker
        )
        assert answer.status_code == 400, (bad, answer.get_json())
    assert (
        client.post(
            f"/api/v1/providers/{world.provider.id}/visits",
            json=start,
            headers=bearer(people.staff),
        ).status_code
        == 403
    )


def test_insufficient_and_cancel(client, world, people):
    worker = bearer(world.worker)
    poor = make_elder("13900000060", world.tree.building)
    db.session.commit()
    start = {
        "person_code": code(poor),
        "service_id": world.bath.id,
        "programme_id": world.programme.id,
    }
    answer = client.post(
        f"/api/v1/providers/{world.provider.id}/visits", json=start, headers=worker
    )
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "insufficient_vouchers"
    start["person_code"] = code(world.elder)
    vid = client.post(
        f"/api/v1/providers/{world.provider.id}/visits", json=start, headers=worker
    ).get_json()["id"]
    assert (
        client.post(f"/api/v1/visits/{vid}/cancel", headers=bearer(people.resident)).status_code
        == 403
    )
    assert client.post(f"/api/v1/visits/{vid}/cancel", headers=worker).get_json() == {
        "status": "cancelled"
    }
    assert (
        client.get("/api/v1/vouchers/wallet", headers=bearer(world.elder)).get_json()["items"][0][
            "balance"
        ]
        == 20000
    )


def test_outside_the_provider_is_403(client, world, people):
    far = make_elder("13900000070", world.tree.other_community)
    services.enrol(people.other_staff, world.programme, far.id)
    db.session.commit()
    answer = client.post(
        f"/api/v1/providers/{world.provider.id}/visits",
        json={
            "person_code": code(far),
            "service_id": world.bath.id,
            "programme_id": world.programme.id,
        },
        headers=bearer(world.worker),
    )
    assert answer.status_code == 403


def finished_visit(client, world, service=None):
    worker = bearer(world.worker)
    vid = client.post(
        f"/api/v1/providers/{world.provider.id}/visits",
        headers=worker,
        json={
            "person_code": code(world.elder),
            "service_id": (service or world.bath).id,
            "programme_id": world.programme.id,
        },
    ).get_json()["id"]
    client.post(
        f"/api/v1/visits/{vid}/finish", json={"person_code": code(world.elder)}, headers=worker
    )
    return vid


def test_confirm_dispute_resolve(client, world, people):
    vid = finished_visit(client, world)
    elder = bearer(world.elder)
    assert (
        client.post(f"/api/v1/visits/{vid}/confirm", json={"rating": 5}, headers=elder).status_code
        == 200
    )
    for bad in ({}, {"rating": 0}, {"rating": 6}, {"rating": "5"}):
        assert (
            client.post(f"/api/v1/visits/{vid}/confirm", json=bad, headers=elder).status_code == 400
        )
    assert (
        client.post(
            f"/api/v1/visits/{vid}/confirm", json={"rating": 5}, headers=bearer(world.worker)
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/visits/{vid}/dispute", json={}, headers=elder).status_code == 400
    disputed = client.post(
        f"/api/v1/visits/{vid}/dispute", json={"reason": "时间不够"}, headers=elder
    )
    assert disputed.get_json() == {"status": "disputed"}
    nothing = client.post(
        f"/api/v1/providers/{world.provider.id}/claims",
        json={"month": date.today().strftime("%Y-%m")},
        headers=bearer(world.worker),
    )
    assert nothing.status_code == 409
    assert nothing.get_json()["error"]["code"] == "nothing_to_claim"
    assert client.post(
        f"/api/v1/visits/{vid}/resolve", json={"upheld": True}, headers=elder
    ).status_code in (403, 404)
    assert (
        client.post(
            f"/api/v1/visits/{vid}/resolve", json={"upheld": "yes"}, headers=bearer(people.staff)
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/api/v1/visits/{vid}/resolve", json={"upheld": True}, headers=bearer(people.staff)
        ).status_code
        == 200
    )
    assert (
        client.get("/api/v1/vouchers/wallet", headers=elder).get_json()["items"][0]["balance"]
        == 20000
    )
    other = finished_visit(client, world)
    client.post(f"/api/v1/visits/{other}/dispute", json={"reason": "x"}, headers=elder)
    kept = client.post(
        f"/api/v1/visits/{other}/resolve", json={"upheld": False}, headers=bearer(people.staff)
    )
    assert kept.get_json() == {"status": "finished"}


def test_claims_settlement_anomalies(client, world, people, tree):
    from core.testing import add_member

    finished_visit(client, world)
    month = date.today().strftime("%Y-%m")
    url = f"/api/v1/providers/{world.provider.id}/claims"
    assert client.post(url, json={"month": "bad"}, headers=bearer(world.worker)).status_code == 400
    assert client.post(url, json={"month": month}, headers=bearer(people.resident)).status_code in (
        403,
        404,
    )
    made = client.post(url, json={"month": month}, headers=bearer(world.worker))
    assert made.status_code == 201
    claim = made.get_json()
    assert (claim["visits"], claim["amount"], claim["status"]) == (1, 5000, "submitted")
    assert claim["next_org_id"] == tree.community.id
    street = make_user("13900000080", "街道")
    add_member(street, tree.subdistrict, "admin")
    db.session.commit()
    assert (
        client.post(f"/api/v1/claims/{claim['id']}/approve", headers=bearer(street)).get_json()[
            "error"
        ]["code"]
        == "not_your_turn"
    )
    assert client.post(
        f"/api/v1/claims/{claim['id']}/approve", headers=bearer(people.resident)
    ).status_code in (403, 404)
    one = client.post(f"/api/v1/claims/{claim['id']}/approve", headers=bearer(people.staff))
    assert one.status_code == 200 and one.get_json()["next_org_id"] == tree.subdistrict.id
    assert (
        client.post(
            f"/api/v1/claims/{claim['id']}/reject", json={}, headers=bearer(street)
        ).status_code
        == 400
    )
    rejected = client.post(
        f"/api/v1/claims/{claim['id']}/reject", json={"reason": "补材料"}, headers=bearer(street)
    )
    assert rejected.get_json()["status"] == "rejected"
    again = client.post(url, json={"month": month}, headers=bearer(people.community_admin))
    assert again.status_code == 201
    cid = again.get_json()["id"]
    for who in (people.staff, street, people.district_admin):
        answer = client.post(f"/api/v1/claims/{cid}/approve", headers=bearer(who))
        assert answer.status_code == 200, answer.get_json()
    final = answer.get_json()
    assert final["status"] == "approved" and final["next_org_id"] is None
    assert [a["org_id"] for a in final["approvals"]] == [
        tree.community.id,
        tree.subdistrict.id,
        tree.district.id,
    ]
    report = client.get(
        f"/api/v1/orgs/{tree.district.id}/vouchers/settlement?month={month}",
        headers=bearer(people.district_admin),
    ).get_json()
    assert report["total"] == {"visits": 1, "amount": 5000, "claimed": 5000, "approved": 5000}
    assert (
        client.get(
            f"/api/v1/orgs/{tree.district.id}/vouchers/settlement?month=x",
            headers=bearer(people.district_admin),
        ).status_code
        == 400
    )
    assert client.get(
        f"/api/v1/orgs/{tree.district.id}/vouchers/settlement", headers=bearer(people.resident)
    ).status_code in (403, 404)
    flags = client.get(
        f"/api/v1/orgs/{tree.community.id}/vouchers/anomalies?month={month}",
        headers=bearer(people.staff),
    )
    assert flags.status_code == 200 and flags.get_json()["items"] == []


def test_switched_off_is_404(client, world, people):
    enable(world.tree.community, "elder_vouchers", False)
    db.session.commit()
    answer = client.post(
        f"/api/v1/providers/{world.provider.id}/visits",
        json={
            "person_code": code(world.elder),
            "service_id": world.bath.id,
            "programme_id": world.programme.id,
        },
        headers=bearer(world.worker),
    )
    assert answer.status_code == 404
