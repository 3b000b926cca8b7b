"""金豆 rules called as plain functions, and every hook points implements or adds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

import plugins.points as points_plugin
from core import hookimpl, ledger
from core.api import Conflict, NotFound
from core.extensions import db
from core.models import AuditLog, utcnow
from core.plugins import Card, NavItem, ReportSection
from core.testing import add_member, enable, make_user
from core.times import this_month
from plugins.points import services
from plugins.points.models import Award, Redemption, Reward
from tests.plugins.points.conftest import FUND, give, reward


def manager():
    return current_app.extensions["jindou_plugins"]


def spendable(user) -> int:
    db.session.expire_all()
    return services.wallet_summary(user)["balance"]


def record_service(org, user, *, points=15, key="activity-1:user"):
    return manager().emit(
        org,
        "service_recorded",
        user=user,
        activity_id=1,
        title="敬老院探访",
        minutes=90,
        verified=True,
        points=points,
        key=key,
    )


# -- hooks ------------------------------------------------------------------------------------


def test_hook_describe(app):
    meta = points_plugin.describe()
    assert meta.name == "points" and meta.title == "金豆"
    assert {"reward_id", "redemption_id"} <= set(meta.owners)


def test_hook_blueprints(app):
    assert "points" in app.blueprints
    assert {bp.name for bp in points_plugin.blueprints()} == {"points"}


def test_hook_cli_commands(app, world):
    result = app.test_cli_runner().invoke(args=["points", "expire"])
    assert result.exit_code == 0 and "expired 0 beans" in result.output


def test_hook_service_recorded(world):
    """Pays once, inside the caller's transaction."""
    tree, people = world
    # The caller (volunteering) writes its own row, emits, then commits once.
    add_member(make_user("13100000000", "新志愿者"), tree.building, "resident")
    newcomer = db.session.scalar(
        select(type(people.resident)).where(type(people.resident).phone == "13100000000")
    )
    assert record_service(tree.community, newcomer) == [15]
    db.session.commit()
    assert record_service(tree.community, newcomer) == [15]  # replayed key: no second payment
    db.session.commit()
    assert spendable(newcomer) == 15
    line = services.history(newcomer)[0]
    assert line["amount"] == 15 and "敬老院探访" in line["reason"]
    ledger.check_invariants()


def test_hook_service_recorded_is_undone_with_the_callers_rollback(world):
    tree, people = world
    record_service(tree.community, people.resident)
    db.session.rollback()
    assert spendable(people.resident) == 0
    ledger.check_invariants()


def test_hook_service_recorded_short_fund_never_raises_and_is_paid_later(world):
    tree, people = world
    assert record_service(tree.community, people.resident, points=FUND + 1) == [0]
    db.session.commit()
    owed = services.unfunded_awards(tree.community)
    assert [a.amount for a in owed] == [FUND + 1] and spendable(people.resident) == 0
    assert record_service(tree.community, people.resident, points=FUND + 1) == [0]  # replay
    with pytest.raises(ledger.InsufficientFunds):
        services.pay_unfunded(people.staff, owed[0].id)
    services.deposit(people.district_admin, tree.district, amount=5, key="top-up")
    services.pay_unfunded(people.staff, owed[0].id)
    assert spendable(people.resident) == FUND + 1
    assert services.unfunded_awards(tree.community) == []
    ledger.check_invariants()


def test_hook_service_recorded_not_delivered_where_points_is_off(world):
    tree, people = world
    enable(tree.community, "points", False)
    db.session.commit()
    assert record_service(tree.building, people.resident) == []
    assert spendable(people.resident) == 0


def test_hook_org_report(world):
    tree, people = world
    give(people, tree, 100)
    item = reward(people, tree, cost=10)
    row = services.request_redemption(people.resident, item.id, quantity=3, key="r")
    services.approve(people.staff, row.id)
    month = this_month()
    sections = manager().emit(tree.community, "org_report", month=month)
    assert len(sections) == 1 and isinstance(sections[0], ReportSection)
    figures = dict(sections[0].rows)
    assert figures["本月发放"] == 100 and figures["本月兑换"] == 30
    assert figures["成员持有（未使用）"] == 70
    assert services.report(tree.district, month)["fund_balance"] == FUND - 100
    last_year = date(month.year - 1, month.month, 1)
    assert services.report(tree.community, last_year)["issued"] == 0


def test_hook_redemption_approved(world):
    tree, people = world
    heard = []

    class Listener:
        @hookimpl
        def redemption_approved(self, org, user, redemption_id, reward_name, quantity, total):
            heard.append((org.id, user.id, redemption_id, reward_name, quantity, total))

    manager().pm.register(Listener(), name="listener")
    give(people, tree, 50)
    item = reward(people, tree, cost=10)
    row = services.request_redemption(people.resident, item.id, quantity=2, key="r")
    services.approve(people.staff, row.id)
    services.approve(people.staff, row.id)  # a repeated approval is not a new event
    assert heard == [(tree.community.id, people.resident.id, row.id, "洗衣液", 2, 20)]


def test_hook_nav_items(app, world):
    tree, people = world
    with app.test_request_context():
        staff_items = [
            i
            for items in manager().for_org(tree.community, "nav_items")(
                user=people.staff, org=tree.community
            )
            for i in items
        ]
        resident_items = [
            i
            for items in manager().for_org(tree.building, "nav_items")(
                user=people.resident, org=tree.building
            )
            for i in items
        ]
    assert all(isinstance(i, NavItem) for i in staff_items)
    assert "我的金豆" in {i.label for i in resident_items}
    assert "兑换审核" in {i.label for i in staff_items}
    assert "兑换审核" not in {i.label for i in resident_items}


def test_hook_dashboard_cards(app, world):
    tree, people = world
    give(people, tree, 12)
    with app.test_request_context():
        cards = [
            c
            for cs in manager().for_org(tree.building, "dashboard_cards")(
                user=people.resident, org=tree.building
            )
            for c in cs
        ]
        staff_cards = [
            c
            for cs in manager().for_org(tree.community, "dashboard_cards")(
                user=people.staff, org=tree.community
            )
            for c in cs
        ]
    assert all(isinstance(c, Card) for c in cards)
    assert [c.value for c in cards if c.title == "我的金豆"] == ["12"]
    assert {"待审核兑换", "金豆基金"} <= {c.title for c in staff_cards}


def test_hook_seed_demo(app):
    from core.demo import seed

    seed()
    assert db.session.scalar(select(func.count()).select_from(Reward)) == 3
    volunteers = db.session.scalars(select(Award.amount).order_by(Award.id)).all()
    assert volunteers == [100, 200, 300]
    ledger.check_invariants()


# -- rules ---------------------------------------------------------------------------------


def test_crash_between_hold_and_redemption_row_leaves_neither(world, monkeypatch):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree, cost=10, stock=5)

    def crash():
        raise RuntimeError("power cut")

    monkeypatch.setattr(services.rewards, "_new_code", crash)
    with pytest.raises(RuntimeError):
        services.request_redemption(people.resident, item.id, quantity=2, key="r")
    db.session.expire_all()
    assert services.wallet_summary(people.resident) == {"balance": 50, "held": 0}
    assert db.session.get(Reward, item.id).stock == 5
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 0
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ledger.Transfer)
            .where(ledger.Transfer.status == "pending")
        )
        == 0
    )
    ledger.check_invariants()


def test_reversing_an_award(world):
    tree, people = world
    row = give(people, tree, 30)
    services.reverse_award(people.staff, row.id, reason="发错人")
    with pytest.raises(Conflict) as again:  # once only; a repeat is told so
        services.reverse_award(people.staff, row.id, reason="发错人")
    assert again.value.code == "already_reversed"
    assert spendable(people.resident) == 0
    assert services.fund_balance(tree.district) == FUND
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "points.award_reversed")
        )
        == 1
    )
    ledger.check_invariants()


def test_expiry_spends_oldest_first_and_is_idempotent(world):
    tree, people = world
    services.set_expiry(people.district_admin, tree.district, 1)
    db.session.commit()
    give(people, tree, 100)
    item = reward(people, tree, cost=30)
    row = services.request_redemption(people.resident, item.id, quantity=1, key="r")
    later = utcnow() + timedelta(days=40)
    assert services.expire_all(later) == (1, 70)  # the 30 held are not expired
    assert services.expire_all(later) == (0, 0)
    assert services.wallet_summary(people.resident) == {"balance": 0, "held": 30}
    services.reject(people.staff, row.id, reason="缺货")
    assert services.expire_all(later) == (1, 30)  # returned beans are old beans
    assert services.expire_all(later) == (0, 0)
    assert spendable(people.resident) == 0
    assert services.fund_balance(tree.district) == FUND  # expired beans go back to the fund
    # booked when the command ran (now), counted for the community that awarded them
    assert services.report(tree.community, this_month())["expired"] == 100
    ledger.check_invariants()


def test_awards_without_expiry_never_expire(world):
    tree, people = world
    give(people, tree, 10)
    assert services.expire_all(utcnow() + timedelta(days=3650)) == (0, 0)


def test_leaderboard_ranks_the_months_earners(world):
    tree, people = world
    neighbour = make_user("13100000001", "邻居")
    add_member(neighbour, tree.building, "resident")
    db.session.commit()
    give(people, tree, 10, key="a")
    services.award(
        people.staff, tree.community, phone=neighbour.phone, amount=25, reason="x", key="b"
    )
    board = services.leaderboard(tree.community, this_month())
    assert [(u.name, total) for u, total in board] == [("邻居", 25), ("居民", 10)]
    assert services.leaderboard(tree.other_community, this_month()) == []


def test_reward_outside_its_window_cannot_be_redeemed(world):
    tree, people = world
    give(people, tree, 50)
    item = reward(people, tree, starts_at=utcnow() + timedelta(days=1))
    with pytest.raises(Conflict):
        services.request_redemption(people.resident, item.id, quantity=1, key="r")
    assert spendable(people.resident) == 50


def test_hook_service_recorded_ignores_insane_points_and_long_titles(world):
    tree, people = world
    assert record_service(tree.community, people.resident, points=10**12, key="big") == [0]
    assert record_service(tree.community, people.resident, points=0, key="zero") == [0]
    assert manager().emit(
        tree.community,
        "service_recorded",
        user=people.resident,
        activity_id=2,
        title="长" * 500,
        minutes=30,
        verified=False,
        points=3,
        key="long",
    ) == [3]
    db.session.commit()
    assert spendable(people.resident) == 3


def test_report_month_parsing_never_fails(world):
    from core.api import BadRequest
    from core.times import parse_month

    tree, people = world
    for value in ("", None):
        assert services.report(tree.community, parse_month(value))["issued"] == 0
    for value in ("9999-12", "2026-13", "abc", "2026-1-1", "２０２６-１２"):
        with pytest.raises(BadRequest):
            parse_month(value)


def test_award_batch_pays_everyone_once_or_nobody(world):
    tree, people = world
    others = []
    for i in range(5):
        person = make_user(f"1330000000{i}", f"活动志愿者{i}")
        add_member(person, tree.building, "resident")
        others.append(person)
    db.session.commit()
    lines = [(p.phone, 20) for p in others]
    assert (
        services.award_batch(
            people.staff, tree.community, lines=lines, reason="重阳节敬老", key="ev1"
        )
        == 5
    )
    assert (
        services.award_batch(
            people.staff, tree.community, lines=lines, reason="重阳节敬老", key="ev1"
        )
        == 0
    )  # replayed
    assert [spendable(p) for p in others] == [20] * 5
    assert db.session.scalar(select(func.count()).select_from(Award)) == 5
    with pytest.raises(ledger.InsufficientFunds):  # the fund cannot cover the batch: nobody paid
        services.award_batch(
            people.staff,
            tree.community,
            lines=[(p.phone, FUND // 4) for p in others],
            reason="x",
            key="ev2",
        )
    assert [spendable(p) for p in others] == [20] * 5
    with pytest.raises(NotFound):
        services.award_batch(
            people.staff,
            tree.community,
            lines=[(people.other_staff.phone, 1)],
            reason="x",
            key="ev3",
        )
    ledger.check_invariants()
