"""Rules called directly: issuance, expiry, visits, disputes, claims."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core import ledger
from core.api import ApiError
from core.extensions import db
from core.times import local_zone, start_of_day
from plugins.elder_vouchers import services
from plugins.elder_vouchers.models import Issuance
from tests.plugins.elder_vouchers.conftest import MONTH, code, make_elder


def balance(world, user=None):
    acc = services.wallet(world.programme.id, (user or world.elder).id, create=False)
    return (acc.balance - acc.held, acc.held) if acc else (0, 0)


def visit_at(world, start, minutes, *, worker=None, elder=None, service=None):
    worker, elder = worker or world.worker, elder or world.elder
    visit = services.start_visit(
        worker,
        world.provider,
        person_code=code(elder),
        service_id=(service or world.bath).id,
        programme_id=world.programme.id,
        now=start,
    )
    return services.finish_visit(
        worker, visit, person_code=code(elder), now=start + timedelta(minutes=minutes)
    )


NOV = datetime(2026, 11, 10, 9, 0, tzinfo=local_zone())


def test_issuance_once_per_person_month(world):
    assert balance(world) == (20000, 0)
    again = services.issue(world.people.district_admin, world.programme, MONTH)
    assert again == {"month": "2026-11", "issued": 0, "skipped": 1, "amount": 0}
    assert balance(world) == (20000, 0)
    assert services.budget_balance(world.programme.id) == 1_000_000 - 20000


def test_budget_short_by_one_fen_issues_nothing(world, people):
    other = make_elder("13900000002", world.tree.building)
    services.enrol(people.staff, world.programme, other.id)
    db.session.commit()
    budget = services.budget_balance(world.programme.id)
    # December needs 2 × 20000; leave the budget one fen short.
    drain = budget - 40000 + 1
    ledger.atomic(
        lambda: ledger.transfer(
            services.programme_account(world.programme.id, "budget"),
            services.programme_account(world.programme.id, "funding"),
            drain,
            reason="调出",
        )
    )
    with pytest.raises(ledger.InsufficientFunds) as err:
        services.issue(people.district_admin, world.programme, date(2026, 12, 1))
    assert err.value.code == "budget_short"
    assert db.session.query(Issuance).filter_by(month=date(2026, 12, 1)).count() == 0
    assert balance(world, other) == (0, 0)
    services.deposit(people.district_admin, world.programme, amount=1, key="topup")
    done = services.issue(people.district_admin, world.programme, date(2026, 12, 1))
    assert done["issued"] == 2 and services.budget_balance(world.programme.id) == 0


def test_not_eligible_reasons(world, people):
    young = make_elder("13900000003", world.tree.building, birth=date(1960, 1, 1))
    unknown = make_elder("13900000004", world.tree.building, birth=None)
    db.session.commit()
    for person, word in ((young, "年龄不足"), (unknown, "出生日期")):
        with pytest.raises(ApiError) as err:
            services.enrol(people.staff, world.programme, person.id)
        assert err.value.code == "not_eligible" and word in err.value.message
    hardship = services.create_programme(
        people.district_admin,
        world.tree.district,
        name="困难老人券",
        monthly_amount=100,
        hardship_only=True,
    )
    with pytest.raises(ApiError) as err:
        services.enrol(people.staff, hardship, world.elder.id)
    assert "困难" in err.value.message


def test_expiry_on_the_boundary_day(world):
    visit_at(world, NOV, 60)  # spends 5000 of November's 20000
    last_day = start_of_day(date(2026, 11, 30)) + timedelta(hours=23, minutes=59)
    assert services.expire_all(last_day) == (0, 0)
    budget = services.budget_balance(world.programme.id)
    assert services.expire_all(start_of_day(date(2026, 12, 1))) == (1, 15000)
    assert balance(world) == (0, 0)
    assert services.budget_balance(world.programme.id) == budget + 15000
    assert services.expire_all(start_of_day(date(2026, 12, 2))) == (0, 0)  # idempotent


def test_expiry_oldest_first_and_refunds_lapse_too(world, people):
    services.issue(people.district_admin, world.programme, date(2026, 12, 1))
    dec = datetime(2026, 12, 3, 9, 0, tzinfo=local_zone())
    visit = visit_at(world, NOV, 60)
    services.dispute_visit(world.elder, visit, reason="没有来")
    services.resolve_dispute(people.staff, visit, upheld=True)
    assert balance(world) == (40000, 0)
    # The December visit spends November's vouchers first (oldest first).
    visit_at(world, dec, 60)
    assert services.expire_all(start_of_day(date(2026, 12, 4))) == (1, 15000)
    assert balance(world) == (20000, 0)


def test_visit_holds_then_spends(world):
    visit = services.start_visit(
        world.worker,
        world.provider,
        person_code=code(world.elder),
        service_id=world.bath.id,
        programme_id=world.programme.id,
        now=NOV,
    )
    assert visit.status == "open" and balance(world) == (15000, 5000)
    done = services.finish_visit(
        world.worker, visit, person_code=code(world.elder), now=NOV + timedelta(minutes=45)
    )
    assert (done.status, done.minutes) == ("finished", 45)
    assert balance(world) == (15000, 0)


def test_wrong_person_at_finish(world, people):
    other = make_elder("13900000005", world.tree.building)
    db.session.commit()
    visit = services.start_visit(
        world.worker,
        world.provider,
        person_code=code(world.elder),
        service_id=world.bath.id,
        programme_id=world.programme.id,
    )
    with pytest.raises(ApiError) as err:
        services.finish_visit(world.worker, visit, person_code=code(other))
    assert err.value.code == "wrong_person"
    services.cancel_visit(world.worker, visit)
    assert balance(world) == (20000, 0)


def test_one_open_visit_per_worker(world, people):
    other = make_elder("13900000006", world.tree.building)
    services.enrol(people.staff, world.programme, other.id)
    db.session.commit()
    services.issue(people.district_admin, world.programme, MONTH)
    services.start_visit(
        world.worker,
        world.provider,
        person_code=code(world.elder),
        service_id=world.bath.id,
        programme_id=world.programme.id,
    )
    with pytest.raises(ApiError) as err:
        services.start_visit(
            world.worker,
            world.provider,
            person_code=code(other),
            service_id=world.bath.id,
            programme_id=world.programme.id,
        )
    assert err.value.code == "visit_open"
    assert balance(world, other) == (20000, 0)


def test_person_outside_the_provider_is_403(world, people):
    far = make_elder("13900000007", world.tree.other_community)
    services.enrol(people.other_staff, world.programme, far.id)
    db.session.commit()
    services.issue(people.district_admin, world.programme, MONTH)
    with pytest.raises(ApiError) as err:
        services.start_visit(
            world.worker,
            world.provider,
            person_code=code(far),
            service_id=world.bath.id,
            programme_id=world.programme.id,
        )
    assert err.value.status == 403


def test_claim_levels_reject_and_reclaim(world, people, tree):
    from core.testing import add_member, make_user

    visit_at(world, NOV, 60)
    disputed = visit_at(world, NOV + timedelta(hours=2), 30, service=world.clean)
    services.dispute_visit(world.elder, disputed, reason="只做了一半")
    claim = services.submit_claim(world.worker, world.provider, MONTH)
    assert (claim.visits, claim.amount) == (1, 5000)
    with pytest.raises(ApiError) as err:
        services.submit_claim(world.worker, world.provider, MONTH)
    assert err.value.code == "nothing_to_claim"
    street = make_user("13900000010", "街道干部")
    add_member(street, tree.subdistrict, "staff")
    db.session.commit()
    assert services.claim_dict(claim)["next_org_id"] == tree.community.id
    with pytest.raises(ApiError) as err:
        services.approve_claim(street, claim)
    assert err.value.code == "not_your_turn"
    with pytest.raises(ApiError) as err:
        services.approve_claim(people.other_staff, claim)
    assert err.value.status == 403
    services.approve_claim(people.staff, claim)
    with pytest.raises(ApiError) as err:
        services.approve_claim(people.staff, claim)
    assert err.value.code == "not_your_turn"
    services.reject_claim(street, claim, reason="缺少签字")
    assert claim.status == "rejected"
    again = services.submit_claim(world.worker, world.provider, MONTH)
    assert again.visits == 1
    services.approve_claim(people.staff, again)
    services.approve_claim(street, again)
    done = services.approve_claim(people.district_admin, again)
    body = services.claim_dict(done)
    assert body["status"] == "approved" and body["next_org_id"] is None
    assert [a["level"] for a in body["approvals"]] == ["community", "subdistrict", "district"]
    report = services.settlement(people.district_admin, tree.district, MONTH)
    assert report["providers"][0] | {} == {
        "provider_id": world.provider.id,
        "name": "康乐家政",
        "visits": 1,
        "amount": 5000,
        "claimed": 5000,
        "approved": 5000,
    }


def test_anomalies(world, people):
    for i in range(3):
        visit_at(world, NOV + timedelta(days=i), 60)
    short = visit_at(world, NOV + timedelta(days=4), 5)
    kinds = {
        f["kind"]: f["visit_ids"]
        for f in services.anomalies(people.staff, world.tree.community, MONTH)
    }
    assert kinds["too_short"] == [short.id]
