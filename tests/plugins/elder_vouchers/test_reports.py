"""Claims at my level and the reports: right answers, and statements that do
not grow with the number of claims."""

from __future__ import annotations

from datetime import date, timedelta

from core.extensions import db
from core.testing import add_member, count_statements, make_user
from plugins.elder_vouchers import services
from tests.plugins.elder_vouchers.test_services import NOV, visit_at


def claims_for(world, months: list[date]) -> list:
    """One claim per month, a visit in each (the visits' vouchers issued first)."""
    claims = []
    for month in months:
        services.issue(None, world.programme, month)
        start = NOV.replace(year=month.year, month=month.month)
        visit_at(world, start, 60)
        claims.append(services.submit_claim(world.worker, world.provider, month))
    return claims


def test_claims_at_my_level_follow_the_turn(world, people, tree):
    street = make_user("13900000010", "街道干部")
    add_member(street, tree.subdistrict, "staff")
    db.session.commit()
    first, second = claims_for(world, [date(2026, 11, 1), date(2026, 12, 1)])
    mine = services.claims_at_my_level
    assert [c.id for c in mine(people.staff, tree.district)] == [first.id, second.id]
    assert mine(street, tree.district) == [] and mine(people.other_staff, tree.district) == []
    services.approve_claim(people.staff, first)
    assert [c.id for c in mine(people.staff, tree.district)] == [second.id]
    assert [c.id for c in mine(street, tree.district)] == [first.id]
    services.approve_claim(street, first)
    assert mine(street, tree.district) == []
    assert [c.id for c in mine(people.district_admin, tree.district)] == [first.id]
    services.approve_claim(people.district_admin, first)  # approved: nobody's turn
    assert [c.id for c in mine(people.district_admin, tree.district)] == []
    services.reject_claim(people.staff, second, reason="缺少签字")
    assert mine(people.staff, tree.district) == []
    assert mine(people.staff, tree.building) == []  # outside the subtree asked about


def test_claims_at_my_level_statements_do_not_grow(world, people, tree):
    claims_for(world, [date(2026, 11, 1)])
    with count_statements() as one:
        assert len(services.claims_at_my_level(people.staff, tree.district)) == 1
    claims_for(world, [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)])
    with count_statements() as four:
        assert len(services.claims_at_my_level(people.staff, tree.district)) == 4
    assert len(four) == len(one) <= 8  # with BEGIN and reloading expired objects


def test_settlement_and_anomalies_after_many_visits(world, people, tree):
    services.issue(None, world.programme, date(2026, 12, 1))  # enough for five visits
    for i in range(3):
        visit_at(world, NOV + timedelta(days=i), 60)
    short = visit_at(world, NOV + timedelta(days=4), 5)
    long = visit_at(world, NOV + timedelta(days=5), 200)
    report = services.settlement(people.staff, tree.community, date(2026, 11, 1))
    assert report["total"] == {"visits": 5, "amount": 25000, "claimed": 0, "approved": 0}
    flags = services.anomalies(people.staff, tree.community, date(2026, 11, 1))
    assert {(f["kind"], tuple(f["visit_ids"])) for f in flags} == {
        ("too_short", (short.id,)),
        ("too_long", (long.id,)),
    }
    assert services.anomalies(people.staff, tree.community, date(2026, 10, 1)) == []


def test_anomalies_overlap_and_same_minute(world, people, tree):
    services.issue(None, world.programme, date(2026, 12, 1))
    other = make_user("13900000011", "服务员小王")
    db.session.commit()
    services.add_worker(people.community_admin, world.provider, other.phone)
    db.session.commit()
    first = visit_at(world, NOV, 60)  # 9:00-10:00 by 小李
    second = visit_at(world, NOV + timedelta(minutes=30), 60, worker=other)  # 9:30-10:30 by 小王
    later = NOV + timedelta(days=1)
    crowd = [visit_at(world, later, 0, service=world.clean) for _ in range(3)]
    flags = services.anomalies(people.staff, tree.community, date(2026, 11, 1))
    by_kind = {f["kind"]: f for f in flags}
    assert set(by_kind) == {"overlap", "same_minute"}, flags
    assert by_kind["overlap"]["visit_ids"] == [first.id, second.id]
    assert by_kind["same_minute"]["visit_ids"] == [v.id for v in crowd]
    assert "11月11日 09:00" in by_kind["same_minute"]["note"]
    assert by_kind["same_minute"]["provider_id"] == world.provider.id
