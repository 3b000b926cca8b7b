"""Nobody pays themselves (API.md, "Points"), second reversals, formulas in the
report CSV, bounded strings (the security review's F1, F7, F10)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import ledger
from core.extensions import db
from core.models import utcnow
from core.testing import add_member, bearer, enable, make_user
from plugins.points import services
from plugins.points.models import Award, Redemption
from tests.plugins.points.conftest import FUND, give, login, reward


def text(response) -> str:
    return response.get_data(as_text=True)


def balance(user) -> int:
    db.session.expire_all()
    return services.wallet_summary(user)["balance"]


def award_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Award))


# -- F1 end to end: volunteering and points together ------------------------------------------


@pytest.fixture
def both(app, world):
    if "volunteering" not in app.extensions["jindou_plugins"].meta:
        pytest.skip("the volunteering plugin is not loaded (JINDOU_PLUGINS)")
    tree, people = world
    enable(tree.district, "volunteering")
    db.session.commit()
    return tree, people


def test_staff_cannot_mint_beans_with_their_own_activity(client, both):
    tree, people = both
    from plugins.volunteering import services as volunteering

    url = f"/api/v1/orgs/{tree.community.id}/activities"
    staff = bearer(people.staff)
    now = utcnow()
    r = client.post(
        url,
        headers=staff,
        json={
            "title": "清洁",
            "capacity": 5,
            "points": 10_000,
            "points_per_hour": 1_000,
            "starts_at": (now - timedelta(days=3)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 400  # back-dated and over the caps
    r = client.post(
        url,
        headers=staff,
        json={
            "title": "清洁",
            "capacity": 5,
            "points": 200,
            "points_per_hour": 50,
            "starts_at": (now - timedelta(minutes=30)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 201
    activity_id = r.json["id"]
    for person in (people.staff, people.resident):
        volunteering.sign_up(person, activity_id)
        volunteering.scan(person, activity_id, "in", now=now)
        volunteering.scan(person, activity_id, "out", now=now + timedelta(minutes=1))
    assert balance(people.staff) == 0  # the creator: minutes recorded, no beans
    assert balance(people.resident) == 200
    assert volunteering.service_record(people.staff)["verified_minutes"] == 1
    assert services.fund_balance(tree.district) == FUND - 200


def test_honour_hours_pay_neither_oneself_nor_the_creator(client, both):
    tree, people = both
    from plugins.volunteering import services as volunteering
    from plugins.volunteering.models import Activity

    volunteering.set_honour_hours_earn_points(people.district_admin, tree.district, True)
    colleague = make_user("13000000099", "同事")
    add_member(colleague, tree.community, "staff")
    db.session.commit()
    now = utcnow()
    activity = Activity(
        org_id=tree.community.id,
        title="巡逻",
        capacity=5,
        points=200,
        points_per_hour=50,
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=1),
        created_by_id=people.staff.id,
    )
    db.session.add(activity)
    db.session.commit()
    times = {
        "checked_in_at": activity.starts_at.isoformat(),
        "checked_out_at": activity.ends_at.isoformat(),
        "reason": "忘记扫码",
    }
    url = f"/api/v1/activities/{activity.id}/backfills"
    r = client.post(url, headers=bearer(colleague), json={"phone": colleague.phone, **times})
    assert r.status_code == 403 and r.json["error"]["code"] == "self_backfill"
    r = client.post(url, headers=bearer(colleague), json={"phone": people.staff.phone, **times})
    assert r.status_code == 201 and r.json["minutes"] == 120 and r.json["points"] == 0
    r = client.post(url, headers=bearer(people.staff), json={"phone": colleague.phone, **times})
    assert r.status_code == 201 and r.json["points"] == 300  # 200 + 2 h × 50
    assert balance(people.staff) == 0 and balance(colleague) == 300


# -- F1: one's own redemption and one's own unfunded award -------------------------------------


@pytest.fixture
def own_request(world):
    """Staff asked for a reward with beans a colleague gave them."""
    tree, people = world
    services.award(
        people.community_admin,
        tree.community,
        phone=people.staff.phone,
        amount=30,
        reason="优秀社工",
        key="to-staff",
    )
    item = reward(people, tree, cost=10)
    row = services.request_redemption(people.staff, item.id, quantity=1, key="mine")
    return tree, people, row


def test_staff_cannot_approve_reject_or_fulfil_their_own_redemption(client, own_request):
    tree, people, row = own_request
    staff = bearer(people.staff)
    for verb in ("approve", "reject", "fulfil"):
        r = client.post(f"/api/v1/redemptions/{row.id}/{verb}", headers=staff, json={})
        assert r.status_code == 403 and r.json["error"]["code"] == "self_approval", verb
    assert db.session.get(Redemption, row.id).status == "pending"
    admin = bearer(people.community_admin)
    assert client.post(f"/api/v1/redemptions/{row.id}/approve", headers=admin).json == {
        "status": "approved"
    }
    r = client.post(f"/api/v1/redemptions/{row.id}/fulfil", headers=staff)
    assert r.status_code == 403 and r.json["error"]["code"] == "self_approval"
    assert client.post(f"/api/v1/redemptions/{row.id}/fulfil", headers=admin).json == {
        "status": "fulfilled"
    }
    assert balance(people.staff) == 20


def test_own_redemption_can_still_be_cancelled(client, own_request):
    tree, people, row = own_request
    r = client.post(f"/api/v1/redemptions/{row.id}/cancel", headers=bearer(people.staff))
    assert r.json == {"status": "cancelled"} and balance(people.staff) == 30


def test_the_queue_page_refuses_ones_own_redemption_with_a_message(client, own_request):
    tree, people, row = own_request
    login(client, people.staff)
    r = client.post(f"/points/redemptions/{row.id}/approve", follow_redirects=True)
    assert r.status_code == 200 and "不能处理自己的兑换" in text(r)
    assert db.session.get(Redemption, row.id).status == "pending"


def test_staff_cannot_pay_their_own_unfunded_award(world):
    tree, people = world
    from core.api import Forbidden
    from core.plugins import manager

    assert manager().emit(
        tree.community,
        "service_recorded",
        user=people.staff,
        activity_id=1,
        title="探访",
        minutes=60,
        verified=True,
        points=FUND + 1,
        key="staff-service",
    ) == [0]
    db.session.commit()
    [owed] = services.unfunded_awards(tree.community)
    services.deposit(people.district_admin, tree.district, amount=5, key="top-up")
    with pytest.raises(Forbidden) as refused:
        services.pay_unfunded(people.staff, owed.id)
    assert refused.value.code == "self_award"
    services.pay_unfunded(people.community_admin, owed.id)
    assert balance(people.staff) == FUND + 1


# -- F10: a second reversal --------------------------------------------------------------------


def test_any_second_reversal_answers_already_reversed(client, world):
    tree, people = world
    row = give(people, tree, 30)
    url = f"/api/v1/points/awards/{row.id}/reverse"
    staff = bearer(people.staff)
    assert client.post(url, headers=staff, json={"reason": "发错人"}).status_code == 200
    for reason, who in (
        ("发错人", people.staff),
        ("又一次", people.staff),
        ("发错人", people.community_admin),
    ):
        r = client.post(url, headers=bearer(who), json={"reason": reason})
        assert r.status_code == 409 and r.json["error"]["code"] == "already_reversed", r.json
    assert balance(people.resident) == 0 and services.fund_balance(tree.district) == FUND
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ledger.Transfer)
            .where(ledger.Transfer.reverses_id == row.transfer_id)
        )
        == 1
    )


def test_the_manage_page_says_already_reversed(client, world):
    tree, people = world
    row = give(people, tree, 9)
    login(client, people.staff)
    client.post(f"/points/awards/{row.id}/reverse", data={"reason": "发错人", "confirm": "yes"})
    r = client.post(
        f"/points/awards/{row.id}/reverse",
        data={"reason": "发错人", "confirm": "yes"},
        follow_redirects=True,
    )
    assert "已经冲正过了" in text(r)


# -- F7: the report CSV -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start", ["=", "+", "-", "@", "\t", "\r"], ids=["eq", "plus", "minus", "at", "tab", "cr"]
)
def test_report_csv_defuses_formulas_in_the_org_name(client, world, start):
    tree, people = world
    tree.community.name = f'{start}HYPERLINK("http://evil")'
    db.session.commit()
    give(people, tree, 25)
    login(client, people.staff)
    r = client.get(f"/points/orgs/{tree.community.id}/report.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"), newline="")))
    assert rows[1][0] == "'" + tree.community.name and rows[1][2] == "25"


# -- bounded strings: 400 naming the field, never a 500 --------------------------------------------


def test_a_300_character_key_on_the_batch_form_is_flashed(client, world):
    tree, people = world
    login(client, people.staff)
    for data in (
        {"idempotency_key": "k" * 300, "reason": "敬老活动"},
        {"idempotency_key": "ok", "reason": "长" * 101},
    ):
        r = client.post(
            f"/points/orgs/{tree.community.id}/awards/batch",
            data={"lines": f"{people.resident.phone} 7", **data},
            follow_redirects=True,
        )
        assert r.status_code == 200 and "到 100 个字符" in text(r)
    assert award_count() == 0 and balance(people.resident) == 0


def test_too_long_api_strings_are_400_naming_the_field(client, world):
    tree, people = world
    staff, admin = bearer(people.staff), bearer(people.district_admin)
    org = tree.community.id
    cases = [
        (
            f"/api/v1/orgs/{org}/points/awards",
            staff,
            {
                "phone": people.resident.phone,
                "amount": 1,
                "reason": "x" * 101,
                "idempotency_key": "a",
            },
            "reason",
        ),
        (
            f"/api/v1/orgs/{org}/points/awards",
            staff,
            {
                "phone": people.resident.phone,
                "amount": 1,
                "reason": "x",
                "idempotency_key": "k" * 300,
            },
            "idempotency_key",
        ),
        (
            f"/api/v1/orgs/{tree.district.id}/points/fund/deposits",
            admin,
            {"amount": 1, "note": "x" * 201, "idempotency_key": "d"},
            "note",
        ),
        (
            f"/api/v1/orgs/{tree.district.id}/points/fund/deposits",
            admin,
            {"amount": 1, "donor": "x" * 101, "idempotency_key": "d"},
            "donor",
        ),
        (f"/api/v1/orgs/{org}/rewards", staff, {"name": "x" * 101, "cost": 1, "stock": 1}, "name"),
    ]
    for url, headers, body, field in cases:
        r = client.post(url, headers=headers, json=body)
        assert r.status_code == 400 and field in r.json["error"]["fields"], (field, r.json)
    item = reward(people, tree, cost=1)
    give(people, tree, 5)
    r = client.post(
        f"/api/v1/rewards/{item.id}/redemptions",
        headers=bearer(people.resident),
        json={"quantity": 1, "idempotency_key": "k" * 300},
    )
    assert r.status_code == 400 and "idempotency_key" in r.json["error"]["fields"]
    row = services.request_redemption(people.resident, item.id, quantity=1, key="r")
    r = client.post(
        f"/api/v1/redemptions/{row.id}/reject", headers=staff, json={"reason": "x" * 201}
    )
    assert r.status_code == 400 and "reason" in r.json["error"]["fields"]
    r = client.post(
        f"/api/v1/points/awards/{award_id(people)}/reverse",
        headers=staff,
        json={"reason": "x" * 101},
    )
    assert r.status_code == 400 and "reason" in r.json["error"]["fields"]


def award_id(people) -> int:
    return db.session.scalar(select(Award.id).where(Award.user_id == people.resident.id))
