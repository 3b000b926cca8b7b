"""The month rows behind the 光荣榜 (``points_month_earned``): every kind of
write keeps them equal to a recount from the awards, and every board ranks
exactly as its definition says (the query from before the rows existed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, select, union

from core import create_app, ledger
from core.access import subtree_ids
from core.extensions import db
from core.models import Membership
from core.testing import add_member, base_config, drop_everything, enable, make_org, make_user
from core.times import month_bounds, this_month
from plugins.points import services
from plugins.points.models import Award, MonthEarned
from plugins.points.services import awards as awards_module
from plugins.points.services import reports


def definition(org, month, limit=20) -> list[tuple[int, int]]:
    """The board straight from the awards: the subtree's members and whoever
    earned there, by what they earned anywhere in ``month``; ties by user id."""
    start, end = month_bounds(month)
    live = (
        Award.status == "paid",
        Award.reversed_at.is_(None),
        Award.created_at >= start,
        Award.created_at < end,
    )
    in_tree = subtree_ids(org)
    people = union(
        select(Membership.user_id).where(Membership.org_id.in_(in_tree)),
        select(Award.user_id).where(Award.org_id.in_(in_tree), *live),
    )
    total = func.sum(Award.amount).label("total")
    rows = db.session.execute(
        select(Award.user_id, total)
        .where(*live, Award.user_id.in_(people))
        .group_by(Award.user_id)
        .order_by(total.desc(), Award.user_id)
        .limit(limit)
    ).all()
    return [(r.user_id, int(r.total)) for r in rows]


def recount(month) -> dict[int, int]:
    start, end = month_bounds(month)
    return dict(
        db.session.execute(
            select(Award.user_id, func.sum(Award.amount))
            .where(
                Award.status == "paid",
                Award.reversed_at.is_(None),
                Award.created_at >= start,
                Award.created_at < end,
            )
            .group_by(Award.user_id)
        ).all()
    )


def stored(month) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(MonthEarned.user_id, MonthEarned.amount).where(
                MonthEarned.month == month, MonthEarned.amount != 0
            )
        ).all()
    )


def board(org, month, limit=20) -> list[tuple[int, int]]:
    return [(u.id, total) for u, total in services.leaderboard(org, month, limit)]


def service(org, user, points, key):
    return services.award_for_service(
        org, user, activity_id=None, title="探访", minutes=60, points=points, key=key
    )


@pytest.fixture
def busy(world, monkeypatch):
    """A month of every kind of write across the tree, and one award made just
    after local midnight on the 1st (the day before in UTC)."""
    tree, people = world
    staff = people.staff
    folks = []
    for i in range(6):
        person = make_user(f"1380000000{i}", f"志愿者{i}")
        add_member(person, tree.group if i % 2 else tree.building, "resident")
        folks.append(person)
    far = make_user("13800000099", "东华志愿者")  # a member elsewhere only
    add_member(far, tree.other_community, "resident")
    db.session.commit()

    def give(org, person, amount, key):
        return services.award(
            staff if org.is_within(tree.community) else people.district_admin,
            org,
            phone=person.phone,
            amount=amount,
            reason="奖励",
            key=key,
        )

    give(tree.community, folks[0], 50, "a0")
    give(tree.building, folks[0], 10, "a0b")
    give(tree.community, folks[1], 60, "a1")  # tie with folks[0]: 60 each
    wrong = give(tree.community, folks[2], 500, "a2")
    services.reverse_award(staff, wrong.id, reason="发错了")  # folks[2] drops out
    give(tree.community, folks[2], 5, "a2b")
    services.award_batch(
        staff,
        tree.community,
        lines=[(folks[3].phone, 30), (folks[4].phone, 30)],
        reason="活动",
        key="b",
    )
    service(tree.other_community, folks[5], 70, "far-made")  # earned outside, a member inside
    give(tree.other_community, far, 80, "far")  # a member outside who also earns inside:
    service(tree.community, far, 15, "far-service")
    # an unfunded service award, paid once the fund is topped up
    assert service(tree.community, folks[1], services.fund_balance(tree.district) + 1, "big") == 0
    db.session.commit()
    owed = services.unfunded_awards(tree.community)[0]
    services.deposit(people.district_admin, tree.district, amount=10_000, key="top")
    services.pay_unfunded(people.community_admin, owed.id)
    # 00:30 on the 1st in Kunming is still the last day of the month before in UTC
    month = this_month()
    start, _end = month_bounds(month)
    early = start.replace(minute=30).astimezone(UTC)
    monkeypatch.setattr(awards_module, "utcnow", lambda: early)
    give(tree.building, folks[4], 1, "early")
    monkeypatch.undo()
    db.session.commit()
    return tree, people, folks, far, month


def test_the_rows_equal_a_recount_after_every_kind_of_write(busy):
    tree, people, folks, far, month = busy
    expected = recount(month)
    assert stored(month) == expected
    assert expected[folks[2].id] == 5  # the reversed 500 is gone
    assert expected[folks[4].id] == 31  # the batch and the 00:30 award, same local month
    assert expected[folks[1].id] > 60  # paid late: counted in the month it was earned
    for person in [*folks, far]:
        assert services.earned_in_month(person, month) == expected.get(person.id, 0)
    assert services.rebuild_month_earned(month) == len(expected)
    db.session.commit()
    assert stored(month) == expected
    assert services.rebuild_month_earned(month) == len(expected)  # a rerun: the same rows
    assert stored(month) == expected


def test_every_board_ranks_as_its_definition(busy):
    tree, people, folks, far, month = busy
    orgs = [
        tree.district,
        tree.subdistrict,
        tree.community,
        tree.group,
        tree.building,
        tree.other_subdistrict,
        tree.other_community,
    ]
    for org in orgs:
        for limit in (20, 3, 1):
            assert board(org, month, limit) == definition(org, month, limit), (org.level, limit)
    community = board(tree.community, month)
    ids = [user_id for user_id, _total in community]
    assert far.id in ids  # earned at the community though a member elsewhere
    assert folks[5].id in ids  # a member, though everything was earned elsewhere
    assert folks[2].id in ids and dict(community)[folks[2].id] == 5
    assert far.id not in [u for u, _t in board(tree.building, month)]
    # ties by user id
    assert ids.index(folks[3].id) + 1 == ids.index(folks[4].id) or (
        dict(community)[folks[4].id] != dict(community)[folks[3].id]
    )


def test_a_board_with_ties_orders_them_by_user_id(world):
    tree, people = world
    folks = []
    for i in range(4):
        person = make_user(f"1390000000{i}", f"并列{i}")
        add_member(person, tree.building, "resident")
        folks.append(person)
    db.session.commit()
    lines = [(p.phone, 25) for p in reversed(folks)]
    services.award_batch(people.staff, tree.community, lines=lines, reason="活动", key="tie")
    for org in (tree.district, tree.building):
        assert board(org, this_month()) == [(p.id, 25) for p in sorted(folks, key=lambda p: p.id)]


def test_another_month_has_its_own_rows(busy):
    tree, people, folks, far, month = busy
    before = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    assert stored(before) == {} and board(tree.district, before) == []
    assert services.earned_in_month(folks[0], before) == 0


def test_a_batch_adds_its_rows_in_one_statement_whatever_its_size(world):
    tree, people = world
    folks = []
    for i in range(12):
        person = make_user(f"137000000{i:02d}", f"批量{i}")
        add_member(person, tree.building, "resident")
        folks.append(person)
    db.session.commit()
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "points_month_earned" in statement:
            seen.append(statement)

    for size, key in ((2, "small"), (12, "big")):
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            lines = [(p.phone, 3) for p in folks[:size]]
            services.award_batch(people.staff, tree.community, lines=lines, reason="活动", key=key)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(seen) == 1, key
    assert stored(this_month()) == recount(this_month())


def test_a_replayed_award_or_refused_reversal_adds_nothing(world):
    tree, people = world
    args = dict(phone=people.resident.phone, amount=40, reason="奖励", key="k")
    row = services.award(people.staff, tree.community, **args)
    services.award(people.staff, tree.community, **args)  # replay
    services.reverse_award(people.staff, row.id, reason="错")
    with pytest.raises(Exception) as refused:
        services.reverse_award(people.staff, row.id, reason="错")
    assert getattr(refused.value, "code", None) == "already_reversed"
    db.session.commit()
    assert services.earned_in_month(people.resident, this_month()) == 0
    assert stored(this_month()) == recount(this_month()) == {}
    ledger.check_invariants()


def test_a_bad_month_is_a_400_for_the_figure_too(world):
    tree, people = world
    with pytest.raises(Exception) as bad:
        services.earned_in_month(people.resident, date(1999, 1, 1))
    assert getattr(bad.value, "code", None) is not None or "400" in repr(bad.value)


def test_the_migration_backfills_existing_awards(tmp_path):
    app = create_app(
        {**base_config(f"sqlite:///{tmp_path / 'old.db'}"), "JINDOU_PLUGINS": ["points"]}
    )
    with app.app_context():
        drop_everything()
        upgrade(revision="heads")
        district = make_org("盘龙区", "district")
        community = make_org("金星社区", "community", district)
        admin, staff = make_user("13000000001", "区管理员"), make_user("13000000003", "社工")
        add_member(admin, district, "admin")
        add_member(staff, community, "staff")
        folks = [make_user(f"1360000000{i}", f"居民{i}") for i in range(3)]
        for person in folks:
            add_member(person, community, "resident")
        enable(district, "points")
        db.session.commit()
        services.deposit(admin, district, amount=1000, key="fund")
        for i, person in enumerate(folks):
            services.award(
                staff, community, phone=person.phone, amount=10 * (i + 1), reason="x", key=f"{i}"
            )
        wrong = services.award(
            staff, community, phone=folks[0].phone, amount=99, reason="x", key="wrong"
        )
        services.reverse_award(staff, wrong.id, reason="错")
        # an award of last month (moved by hand: data from before the rows existed)
        last = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 1 April 00:30 in Kunming
        db.session.execute(
            Award.__table__.update().where(Award.source_key.like("%:2")).values(created_at=last)
        )
        db.session.commit()
        month, ids = this_month(), [p.id for p in folks]
        db.session.remove()
        downgrade(revision="0004_points_report_indexes")
        upgrade(revision="heads")
        assert stored(month) == recount(month) == {ids[0]: 10, ids[1]: 20}
        assert stored(date(2026, 4, 1)) == recount(date(2026, 4, 1)) == {ids[2]: 30}
        assert stored(date(2026, 3, 1)) == {}
        db.session.remove()


@pytest.mark.parametrize("walk_rows", [1, 2, 3, 1000])
def test_a_walk_cut_short_falls_back_to_the_same_board(busy, monkeypatch, walk_rows):
    tree, people, folks, far, month = busy
    monkeypatch.setattr(reports, "WALK_ROWS", walk_rows)
    for org in (tree.district, tree.subdistrict, tree.other_subdistrict):
        for limit in (20, 2):
            assert board(org, month, limit) == definition(org, month, limit), (org.name, limit)
