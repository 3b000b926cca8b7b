"""Random sequences of deposits, awards, redemptions, decisions, reversals and
replays against a simple model; the books must always balance."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from core import ledger
from core.api import Conflict
from core.extensions import db
from core.ledger import LedgerError
from core.testing import add_member, make_user
from core.times import month_bounds, this_month
from plugins.points import services
from plugins.points.models import Award, MonthEarned, Reward

examples = itertools.count()


def test_points_state_machine(world):
    tree, people = world
    staff, admin = people.staff, people.district_admin

    class Points(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.n = next(examples)
            self.users = []
            for i in range(3):
                user = make_user(f"15{self.n:05d}{i:04d}", f"志愿者{i}")
                add_member(user, tree.building, "resident")
                self.users.append(user)
            self.reward = services.create_reward(staff, tree.community, name="米", cost=7, stock=6)
            db.session.commit()
            self.fund = services.fund_balance(tree.district)
            self.spendable = [0, 0, 0]
            self.held = [0, 0, 0]
            self.stock = 6
            self.deposits: dict[str, int] = {}
            self.awards: dict[str, tuple[int, int, int]] = {}  # key -> (user, amount, award id)
            self.reversed: set[str] = set()
            self.redemptions: list[list] = []  # [id, user, total, qty, status, key]

        def key(self, k: int) -> str:
            return f"{self.n}-{k}"

        @rule(amount=st.integers(1, 60), k=st.integers(0, 3))
        def deposit(self, amount, k):
            key = self.key(k)
            try:
                services.deposit(admin, tree.district, amount=amount, key=key)
            except (Conflict, LedgerError):
                assert key in self.deposits and self.deposits[key] != amount
                return
            if key not in self.deposits:
                self.deposits[key] = amount
                self.fund += amount
            else:
                assert self.deposits[key] == amount

        @rule(who=st.integers(0, 2), amount=st.integers(1, 80), k=st.integers(0, 5))
        def award(self, who, amount, k):
            key = self.key(k)
            user = self.users[who]
            try:
                row = services.award(
                    staff, tree.community, phone=user.phone, amount=amount, reason="奖励", key=key
                )
            except (Conflict, LedgerError) as err:
                if key in self.awards:
                    assert self.awards[key][:2] != (who, amount)
                else:
                    assert err.code == "fund_short" and amount > self.fund
                return
            if key in self.awards:
                assert self.awards[key][:2] == (who, amount)  # a replay
            else:
                self.awards[key] = (who, amount, row.id)
                self.fund -= amount
                self.spendable[who] += amount

        @rule(k=st.integers(0, 5))
        def reverse(self, k):
            key = self.key(k)
            if key not in self.awards:
                return
            who, amount, award_id = self.awards[key]
            try:
                services.reverse_award(staff, award_id, reason="冲正")
            except (Conflict, LedgerError) as err:
                if key in self.reversed:  # a second reversal is always refused
                    assert err.code == "already_reversed"
                else:
                    assert self.spendable[who] < amount
                return
            assert key not in self.reversed
            self.reversed.add(key)
            self.fund += amount
            self.spendable[who] -= amount

        @rule(who=st.integers(0, 2), qty=st.integers(1, 3), k=st.integers(0, 5))
        def redeem(self, who, qty, k):
            key = self.key(k)
            mine = [r for r in self.redemptions if r[1] == who and r[5] == key]
            try:
                row = services.request_redemption(
                    self.users[who], self.reward.id, quantity=qty, key=key
                )
            except (Conflict, LedgerError) as err:
                if mine:
                    assert mine[0][3] != qty
                elif err.code == "out_of_stock":
                    assert qty > self.stock
                else:
                    assert err.code == "insufficient_balance"
                    assert qty <= self.stock and self.spendable[who] < 7 * qty
                return
            if mine:
                assert mine[0][0] == row.id  # a replay
                return
            self.redemptions.append([row.id, who, 7 * qty, qty, "pending", key])
            self.stock -= qty
            self.spendable[who] -= 7 * qty
            self.held[who] += 7 * qty

        @rule(i=st.integers(0, 20), verb=st.sampled_from(["approve", "reject", "cancel"]))
        def decide(self, i, verb):
            if i >= len(self.redemptions):
                return
            entry = self.redemptions[i]
            rid, who, total, qty, status, _key = entry
            wanted = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}[verb]
            try:
                if verb == "cancel":
                    services.cancel(self.users[who], rid)
                elif verb == "approve":
                    services.approve(staff, rid)
                else:
                    services.reject(staff, rid, reason="")
            except (Conflict, LedgerError):
                assert status not in ("pending", wanted)
                return
            assert status in ("pending", wanted)
            if status == "pending":
                entry[4] = wanted
                self.held[who] -= total
                if wanted != "approved":
                    self.spendable[who] += total
                    self.stock += qty

        @invariant()
        def books_balance(self):
            db.session.expire_all()
            ledger.check_invariants()

        @invariant()
        def model_agrees(self):
            db.session.expire_all()
            for i, user in enumerate(self.users):
                assert services.wallet_summary(user) == {
                    "balance": self.spendable[i],
                    "held": self.held[i],
                }
            assert db.session.get(Reward, self.reward.id).stock == self.stock
            assert services.fund_balance(tree.district) == self.fund

        @invariant()
        def month_rows_agree(self):
            # the 光荣榜's month rows, kept by each write, equal a recount of the awards
            month = this_month()
            start, end = month_bounds(month)
            recount = dict(
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
            rows = dict(
                db.session.execute(
                    select(MonthEarned.user_id, MonthEarned.amount).where(
                        MonthEarned.month == month, MonthEarned.amount != 0
                    )
                ).all()
            )
            assert rows == recount
            for user in self.users:
                assert services.earned_in_month(user, month) == recount.get(user.id, 0)

    run_state_machine_as_test(
        Points,
        settings=settings(
            max_examples=12,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
