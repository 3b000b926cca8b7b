"""The jobs at scale, on a small fixture: issuance and expiry in batches give the
same outcomes as one pass, a crashed run finishes on rerun without double
effects, and the statements they run do not grow with the number of elders."""

from __future__ import annotations

from datetime import date

import pytest

from core import ledger
from core.api import ApiError
from core.extensions import db
from core.testing import count_statements
from core.times import start_of_day
from plugins.elder_vouchers import services
from plugins.elder_vouchers.models import Issuance
from tests.plugins.elder_vouchers.conftest import code, make_elder
from tests.plugins.elder_vouchers.test_services import NOV, balance, visit_at

DEC = date(2026, 12, 1)


def elders(world, n: int, start: int = 0) -> list:
    people = [make_elder(f"1395000{start + i:04d}", world.tree.building) for i in range(n)]
    db.session.commit()
    for person in people:
        services.enrol(world.people.staff, world.programme, person.id)
    db.session.commit()
    return people


def issued_in(month: date) -> int:
    return db.session.query(Issuance).filter_by(month=month).count()


def test_issuance_in_batches_same_outcome_and_progress(world):
    people = elders(world, 6)  # 7 enrolled with the world's elder
    budget = services.budget_balance(world.programme.id)
    seen = []
    done = services.issue(
        world.people.district_admin,
        world.programme,
        DEC,
        batch=3,
        progress=lambda d, o: seen.append((d, o)),
    )
    assert done == {"month": "2026-12", "issued": 7, "skipped": 0, "amount": 7 * 20000}
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert services.budget_balance(world.programme.id) == budget - 7 * 20000
    assert all(balance(world, p) == (20000, 0) for p in people)
    assert balance(world) == (40000, 0)  # November and December
    assert issued_in(DEC) == 7
    again = services.issue(world.people.district_admin, world.programme, DEC, batch=3)
    assert again == {"month": "2026-12", "issued": 0, "skipped": 7, "amount": 0}
    assert ledger.failures() == []


def test_issuance_crash_in_second_batch_then_rerun_finishes(world, monkeypatch):
    people = elders(world, 4)  # 5 enrolled: batches of 2, 2, 1
    budget = services.budget_balance(world.programme.id)
    real, calls = ledger.post_batch, []

    def crash_second(legs, **kw):
        calls.append(len(legs))
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real(legs, **kw)

    monkeypatch.setattr(ledger, "post_batch", crash_second)
    with pytest.raises(RuntimeError):
        services.issue(None, world.programme, DEC, batch=2)
    db.session.rollback()
    # The first batch is whole (rows and money), the second left nothing behind.
    assert issued_in(DEC) == 2
    assert services.budget_balance(world.programme.id) == budget - 2 * 20000
    monkeypatch.setattr(ledger, "post_batch", real)
    done = services.issue(None, world.programme, DEC, batch=2)
    assert done == {"month": "2026-12", "issued": 3, "skipped": 2, "amount": 3 * 20000}
    assert issued_in(DEC) == 5
    assert services.budget_balance(world.programme.id) == budget - 5 * 20000
    assert sorted(balance(world, p)[0] for p in [world.elder, *people]) == [20000] * 4 + [40000]
    assert ledger.failures() == []


def test_issuance_statements_do_not_grow_with_elders(world):
    elders(world, 2)
    with count_statements() as few:
        assert services.issue(None, world.programme, DEC)["issued"] == 3
    elders(world, 12, start=100)
    with count_statements() as many:
        assert services.issue(None, world.programme, date(2027, 1, 1))["issued"] == 15
    assert len(many) == len(few), (len(few), len(many))
    assert len(few) <= 30, few


def test_issuance_bad_inputs(world):
    with pytest.raises(ValueError):
        services.issue(None, world.programme, DEC, batch=0)
    with pytest.raises(ApiError) as err:
        services.issue(None, world.programme, date(1999, 12, 1))
    assert err.value.status == 400
    assert issued_in(DEC) == 0 and issued_in(date(1999, 12, 1)) == 0


def test_expiry_in_batches_same_outcome_then_idempotent(world):
    people = elders(world, 4)
    services.issue(None, world.programme, date(2026, 10, 1))  # all five
    services.issue(None, world.programme, date(2026, 11, 1))
    visit_at(world, NOV, 60)  # the world's elder spends 5000 (of October's, oldest first)
    visit_at(world, NOV.replace(day=11), 60, elder=people[0])
    budget = services.budget_balance(world.programme.id)
    seen = []
    got = services.expire_all(
        start_of_day(date(2026, 12, 1)), batch=2, progress=lambda p, f: seen.append((p, f))
    )
    # Everything left lapses at the end of November: 40000 each, less 5000 for two.
    assert got == (5, 5 * 40000 - 2 * 5000)
    assert seen[-1] == got and len(seen) == 3
    assert services.budget_balance(world.programme.id) == budget + got[1]
    assert all(balance(world, p) == (0, 0) for p in [world.elder, *people])
    assert services.expire_all(start_of_day(date(2026, 12, 2)), batch=2) == (0, 0)
    assert ledger.failures() == []


def test_expiry_keeps_what_has_not_expired_and_open_holds(world):
    services.issue(None, world.programme, DEC)  # December's are not expired on Dec 2
    services.start_visit(
        world.worker,
        world.provider,
        person_code=code(world.elder),
        service_id=world.bath.id,
        programme_id=world.programme.id,
        now=NOV,
    )  # holds 5000 of November's
    assert balance(world) == (35000, 5000)
    assert services.expire_all(start_of_day(date(2026, 12, 2))) == (1, 15000)
    assert balance(world) == (20000, 5000)
    assert services.expire_all(start_of_day(date(2026, 12, 2))) == (0, 0)


def test_expiry_statements_do_not_grow_with_elders(world):
    few_people = elders(world, 2)
    services.issue(None, world.programme, DEC)
    with count_statements() as few:
        assert services.expire_all(start_of_day(date(2027, 1, 1)))[0] == 3
    elders(world, 12, start=100)
    services.issue(None, world.programme, date(2027, 1, 1))
    with count_statements() as many:
        assert services.expire_all(start_of_day(date(2027, 2, 1)))[0] == 15
    assert len(many) == len(few), (len(few), len(many))
    assert few_people
