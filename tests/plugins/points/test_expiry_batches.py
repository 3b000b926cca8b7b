"""Expiry runs in batches of wallets (issue 15): same amounts as one wallet at a
time, a fixed number of statements per batch, restartable after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import ledger
from core.extensions import db
from core.models import AuditLog, utcnow
from core.testing import add_member, make_user
from core.times import this_month
from plugins.points import services
from plugins.points.models import Award
from tests.core.test_query_budget import count_statements
from tests.plugins.points.conftest import FUND, reward

LATER = timedelta(days=40)


def crowd(tree, people, n: int, start: int = 0) -> list:
    """``n`` residents of the building, each awarded 10 + i beans by the community."""
    users = []
    for i in range(start, start + n):
        user = make_user(f"1380000{i:04d}", f"居民{i}")
        add_member(user, tree.building, "resident")
        users.append(user)
    db.session.commit()
    for i, user in enumerate(users, start):
        services.award(
            people.staff, tree.community, phone=user.phone, amount=10 + i, reason="x", key=f"c{i}"
        )
    return users


def balance(user) -> int:
    db.session.expire_all()
    return services.wallet_summary(user)["balance"]


@pytest.fixture
def expiring(world):
    tree, people = world
    services.set_expiry(people.district_admin, tree.district, 1)
    db.session.commit()
    return tree, people


def test_batches_expire_the_same_as_one_wallet_at_a_time(expiring):
    tree, people = expiring
    users = crowd(tree, people, 5)
    # The first spends part of their beans: only the rest expires.
    item = reward(people, tree, cost=4)
    services.request_redemption(users[0], item.id, quantity=1, key="r")
    steps = []
    assert services.expire_all(utcnow() + LATER, batch=2, progress=steps.append) == (
        5,
        (10 - 4) + 11 + 12 + 13 + 14,
    )
    assert [(s.wallets, s.people, s.beans) for s in steps] == [(2, 2, 17), (2, 2, 25), (1, 1, 14)]
    assert steps[-1].last_user_id == users[-1].id
    assert [balance(u) for u in users] == [0] * 5
    assert services.fund_balance(tree.district) == FUND - 4
    audited = db.session.scalars(
        select(AuditLog.details).where(AuditLog.action == "points.expired")
    ).all()
    assert sorted(d["amount"] for d in audited) == [6, 11, 12, 13, 14]
    assert services.report(tree.community, this_month())["expired"] == 56
    ledger.check_invariants()


def test_a_rerun_expires_nothing(expiring):
    tree, people = expiring
    crowd(tree, people, 3)
    later = utcnow() + LATER
    assert services.expire_all(later, batch=2) == (3, 33)
    transfers = db.session.scalar(select(func.count()).select_from(ledger.Transfer))
    assert services.expire_all(later, batch=2) == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(ledger.Transfer)) == transfers


def test_a_crash_midway_loses_one_batch_and_the_rerun_finishes(expiring, monkeypatch):
    tree, people = expiring
    users = crowd(tree, people, 5)
    later = utcnow() + LATER
    real, calls = ledger.post_batch, []

    def crash_on_second(legs, **kw):
        calls.append(len(legs))
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real(legs, **kw)

    monkeypatch.setattr(ledger, "post_batch", crash_on_second)
    with pytest.raises(RuntimeError):
        services.expire_all(later, batch=2)
    db.session.rollback()
    assert [balance(u) for u in users] == [0, 0, 12, 13, 14]  # the first batch committed
    monkeypatch.setattr(ledger, "post_batch", real)
    assert services.expire_all(later, batch=2) == (3, 12 + 13 + 14)
    assert [balance(u) for u in users] == [0] * 5
    assert services.fund_balance(tree.district) == FUND
    ledger.check_invariants()


def test_replaying_a_batch_with_the_same_keys_posts_nothing(expiring):
    """The key names the outflow the sums saw: the same batch twice is one expiry."""
    tree, people = expiring
    users = crowd(tree, people, 2)
    later = utcnow() + LATER
    ids = [u.id for u in users]
    accounts = [services.wallet_account(u.id).id for u in users]
    rows = services.expiry._left_to_expire(accounts, ids, later)
    legs = [
        ledger.Leg(
            r.account_id,
            r.fund_account_id,
            int(r.beans),
            "金豆过期",
            f"points:expire:{r.account_id}:{int(r.out)}:{r.org_id}:{r.fund_org_id}",
            ("points_expiry", r.org_id),
        )
        for r in rows
    ]
    assert ledger.atomic(lambda: ledger.post_batch(legs)) == 2
    assert ledger.atomic(lambda: ledger.post_batch(legs)) == 0
    assert services.expire_all(later) == (0, 0)
    assert [balance(u) for u in users] == [0, 0]


def test_statements_per_batch_do_not_grow_with_wallets(expiring):
    tree, people = expiring
    crowd(tree, people, 2)
    later = utcnow() + LATER
    with count_statements() as few:
        assert services.expire_all(later)[0] == 2
    crowd(tree, people, 12, start=2)
    later += timedelta(days=1)
    with count_statements() as many:
        assert services.expire_all(later)[0] == 12
    assert len(many) == len(few) <= 16, many


def test_only_the_part_past_its_date_expires_oldest_first(expiring):
    tree, people = expiring
    (user,) = crowd(tree, people, 1)  # 10 beans, will expire
    services.award(
        people.staff, tree.community, phone=user.phone, amount=50, reason="y", key="newer"
    )
    db.session.execute(
        Award.__table__.update()
        .where(Award.source_key.like("%newer%"))
        .values(expires_at=utcnow() + timedelta(days=400))
    )
    db.session.commit()
    item = reward(people, tree, cost=7)
    services.request_redemption(user, item.id, quantity=1, key="r")  # eats the older 10 first
    assert services.expire_all(utcnow() + LATER) == (1, 3)
    assert balance(user) == 50


def test_people_without_beans_left_are_not_examined(expiring):
    tree, people = expiring
    users = crowd(tree, people, 2)
    later = utcnow() + LATER
    services.expire_all(later)
    assert services.expiry._next_batch(0, later, 10) == []
    assert [balance(u) for u in users] == [0, 0]


def test_bad_inputs(expiring):
    tree, people = expiring
    with pytest.raises(ValueError):
        services.expire_all(batch=0)
    assert services.expire_wallet(people.outsider.id, utcnow() + LATER) == 0  # no wallet
    assert services.expire_wallet(10**9, utcnow() + LATER) == 0  # nobody
    assert services.expiry.expire_batch([], utcnow()) == {}
