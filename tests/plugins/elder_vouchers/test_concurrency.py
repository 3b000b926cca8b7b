"""Races: workers at one door, issuances of one month at once, the CLI and API both."""

from __future__ import annotations

from collections import Counter

from core.extensions import db
from core.models import User
from core.testing import make_user, race
from plugins.elder_vouchers import services
from plugins.elder_vouchers.models import Issuance, Programme, Provider, Visit
from tests.plugins.elder_vouchers.conftest import MONTH, code


def test_ten_workers_one_elder_vouchers_cover_three(app, world, people):
    # 20000 fen of vouchers and a 6000 fen service: three visits fit.
    pricey = services.create_provider(
        people.community_admin,
        world.tree.community,
        name="护理站",
        services=[{"name": "护理", "price": 6000}],
    )
    workers = [make_user(f"1391000{i:04d}", f"护工{i}") for i in range(10)]
    db.session.commit()
    for w in workers:
        services.add_worker(people.community_admin, pricey, w.phone)
    db.session.commit()
    ids = [w.id for w in workers]
    provider_id, service_id = pricey.id, services.services_of(pricey)[0].id
    programme_id, token = world.programme.id, code(world.elder)

    def work(i):
        visit = services.start_visit(
            db.session.get(User, ids[i]),
            db.session.get(Provider, provider_id),
            person_code=token,
            service_id=service_id,
            programme_id=programme_id,
        )
        return visit.id

    results = race(app, 10, work)
    outcomes = Counter(r[0] if r[0] == "ok" else r[1] for r in results)
    assert outcomes == {"ok": 3, "insufficient_vouchers": 7}, results
    db.session.rollback()  # a fresh snapshot: the threads committed
    assert db.session.query(Visit).filter_by(status="open").count() == 3
    acc = services.wallet(programme_id, world.elder.id, create=False)
    assert (acc.balance, acc.held) == (20000, 18000)


def test_one_worker_opening_twice_at_once(app, world, people):
    wid, pid, sid, prog = world.worker.id, world.provider.id, world.bath.id, world.programme.id
    token = code(world.elder)

    def work(_i):
        return services.start_visit(
            db.session.get(User, wid),
            db.session.get(Provider, pid),
            person_code=token,
            service_id=sid,
            programme_id=prog,
        ).id

    results = race(app, 4, work)
    outcomes = Counter(r[0] if r[0] == "ok" else r[1] for r in results)
    assert outcomes == {"ok": 1, "visit_open": 3}, results


def test_two_issuances_of_one_month_at_once_issue_once(app, world, people):
    pid, admin_id = world.programme.id, people.district_admin.id
    for i in range(5):
        from tests.plugins.elder_vouchers.conftest import make_elder

        person = make_elder(f"1392000{i:04d}", world.tree.building)
        services.enrol(people.staff, world.programme, person.id)
    db.session.commit()
    budget = services.budget_balance(pid)

    def work(_i):
        return services.issue(
            db.session.get(User, admin_id), db.session.get(Programme, pid), MONTH
        )["issued"]

    results = race(app, 3, work)
    assert sorted(r[1] for r in results) == [0, 0, 5], results
    db.session.rollback()  # a fresh snapshot: the threads committed
    assert db.session.query(Issuance).count() == 6
    assert services.budget_balance(pid) == budget - 5 * 20000


def test_cli_and_api_issue_once(app, client, world, people):
    from core.testing import bearer

    runner = app.test_cli_runner()
    out = runner.invoke(args=["vouchers", "issue", "--month", "2026-12"])
    assert out.exit_code == 0, out.output
    assert "issued 1" in out.output
    again = runner.invoke(args=["vouchers", "issue", "--month", "2026-12"])
    assert "issued 0" in again.output and "skipped 1" in again.output
    api = client.post(
        f"/api/v1/voucher-programmes/{world.programme.id}/issuances",
        json={"month": "2026-12"},
        headers=bearer(people.district_admin),
    )
    assert api.get_json()["issued"] == 0
    bad = runner.invoke(args=["vouchers", "issue", "--month", "2026-13"])
    assert bad.exit_code != 0


def test_cli_expire_boundary(app, world):
    runner = app.test_cli_runner()
    before = runner.invoke(args=["vouchers", "expire", "--today", "2026-11-30"])
    assert "expired 0 fen" in before.output, before.output
    on_day = runner.invoke(args=["vouchers", "expire", "--today", "2026-12-01"])
    assert "expired 20000 fen of 1 people" in on_day.output
    rerun = runner.invoke(args=["vouchers", "expire", "--today", "2026-12-01"])
    assert "expired 0 fen" in rerun.output
    assert runner.invoke(args=["vouchers", "expire", "--today", "yesterday"]).exit_code != 0
