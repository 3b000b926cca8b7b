"""The ledger engine: transfers, holds, reversals, batches, idempotency, concurrency."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import ledger
from core.api import ApiError, Conflict
from core.extensions import db
from core.ledger import Leg, Transfer
from core.testing import race


def accounts(n_wallets: int = 2):
    source = ledger.account("org", 1, currency="bean", kind="donations", allow_negative=True)
    fund = ledger.account("org", 1, currency="bean", kind="fund")
    wallets = [ledger.account("user", i, currency="bean", kind="wallet")
               for i in range(1, n_wallets + 1)]
    db.session.commit()
    return source.id, fund.id, [w.id for w in wallets]


def balance(account_id: int) -> tuple[int, int]:
    db.session.expire_all()
    acc = db.session.get(ledger.Account, account_id)
    return acc.balance, acc.held


def test_post_moves_both_sides_and_books_balance(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, fund, 100, reason="捐赠"))
    ledger.atomic(lambda: ledger.transfer(fund, wallet, 30, reason="奖励"))
    assert balance(source) == (-100, 0)
    assert balance(fund) == (70, 0)
    assert balance(wallet) == (30, 0)
    ledger.check_invariants()


def test_overdraw_is_409_and_writes_nothing(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, fund, 10, reason="捐赠"))
    with pytest.raises(ledger.InsufficientFunds):
        ledger.atomic(lambda: ledger.transfer(fund, wallet, 11, reason="奖励"))
    assert balance(fund) == (10, 0)
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 1
    ledger.check_invariants()


def test_idempotent_replay_returns_first_and_clash_is_409(app):
    source, fund, (wallet, _) = accounts()
    first = ledger.atomic(lambda: ledger.transfer(source, fund, 10, reason="捐赠", key="k1"))
    again = ledger.atomic(lambda: ledger.transfer(source, fund, 10, reason="捐赠", key="k1"))
    assert again.id == first.id and again.replayed and not first.replayed
    assert balance(fund) == (10, 0)
    with pytest.raises(Conflict):
        ledger.atomic(lambda: ledger.transfer(source, fund, 11, reason="捐赠", key="k1"))
    ledger.check_invariants()


def test_replay_still_answers_when_balance_is_now_short(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, fund, 10, reason="捐赠"))
    first = ledger.atomic(lambda: ledger.transfer(fund, wallet, 10, reason="奖励", key="a"))
    assert ledger.atomic(lambda: ledger.transfer(fund, wallet, 10, reason="奖励", key="a")).id == first.id


def test_hold_then_post_or_void(app):
    source, fund, (wallet, other) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 50, reason="奖励"))
    hold = ledger.atomic(lambda: ledger.transfer(wallet, fund, 30, reason="兑换", pending=True))
    assert balance(wallet) == (50, 30)
    assert ledger.spendable(wallet) == 20
    with pytest.raises(ledger.InsufficientFunds):  # the held 30 cannot be spent twice
        ledger.atomic(lambda: ledger.transfer(wallet, other, 21, reason="x"))
    ledger.atomic(lambda: ledger.post_pending(hold.id))
    assert balance(wallet) == (20, 0) and balance(fund) == (30, 0)
    assert ledger.atomic(lambda: ledger.post_pending(hold.id)).replayed
    with pytest.raises(Conflict):
        ledger.atomic(lambda: ledger.void_pending(hold.id))
    hold2 = ledger.atomic(lambda: ledger.transfer(wallet, fund, 20, reason="兑换", pending=True))
    ledger.atomic(lambda: ledger.void_pending(hold2.id))
    assert balance(wallet) == (20, 0)
    ledger.check_invariants()


def test_reversal_is_a_new_transfer_once(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, fund, 40, reason="捐赠"))
    award = ledger.atomic(lambda: ledger.transfer(fund, wallet, 15, reason="奖励"))
    back = ledger.atomic(lambda: ledger.reverse(award.id, reason="误发冲正"))
    assert balance(wallet) == (0, 0) and balance(fund) == (40, 0)
    assert ledger.atomic(lambda: ledger.reverse(award.id, reason="误发冲正")).id == back.id
    original = db.session.get(Transfer, award.id)
    assert original.status == "posted" and original.amount == 15  # never edited
    ledger.check_invariants()


def test_reversal_refused_when_money_already_spent(app):
    source, fund, (wallet, other) = accounts()
    award = ledger.atomic(lambda: ledger.transfer(source, wallet, 15, reason="奖励"))
    ledger.atomic(lambda: ledger.transfer(wallet, other, 10, reason="转出"))
    with pytest.raises(ledger.InsufficientFunds):
        ledger.atomic(lambda: ledger.reverse(award.id, reason="冲正"))
    ledger.check_invariants()


def test_bad_amounts_are_refused(app):
    source, fund, _ = accounts()
    for amount in (0, -1, 1.5, True, "3", 10**30):
        with pytest.raises(ValueError):
            ledger.atomic(lambda amount=amount: ledger.transfer(source, fund, amount, reason="x"))


def test_batch_posts_set_based_and_replays_nothing(app):
    source, fund, wallets = accounts(50)
    ledger.atomic(lambda: ledger.transfer(source, fund, 1000, reason="捐赠"))
    legs = [Leg(fund, w, 7, "月度发放", key=f"m:{w}") for w in wallets]
    assert ledger.atomic(lambda: ledger.post_batch(legs)) == 50
    assert ledger.atomic(lambda: ledger.post_batch(legs)) == 0
    assert balance(fund) == (1000 - 350, 0)
    assert all(balance(w) == (7, 0) for w in wallets)
    with pytest.raises(Conflict):
        ledger.atomic(lambda: ledger.post_batch([Leg(fund, wallets[0], 8, "x", key=f"m:{wallets[0]}")]))
    ledger.check_invariants()


def test_batch_that_fund_cannot_cover_posts_nothing(app):
    source, fund, wallets = accounts(10)
    ledger.atomic(lambda: ledger.transfer(source, fund, 50, reason="捐赠"))
    with pytest.raises(ledger.InsufficientFunds):
        ledger.atomic(lambda: ledger.post_batch([Leg(fund, w, 6, "发放") for w in wallets]))
    assert balance(fund) == (50, 0)
    ledger.check_invariants()


def test_atomic_rolls_back_everything_on_error(app):
    source, fund, (wallet, _) = accounts()

    def half_then_crash():
        ledger.transfer(source, fund, 10, reason="捐赠")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        ledger.atomic(half_then_crash)
    assert balance(fund) == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 0


def test_atomic_retries_then_gives_a_clean_503(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    calls = []

    def always_locked():
        calls.append(1)
        raise OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(ledger.time, "sleep", lambda _s: None)
    with pytest.raises(ApiError) as err:
        ledger.atomic(always_locked, attempts=3)
    assert err.value.status == 503 and len(calls) == 3


def test_twenty_threads_spend_one_wallet_none_overdraws(app):
    source, fund, (wallet, other) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 70, reason="奖励"))
    db.session.remove()
    results = race(app, 20, lambda i: ledger.atomic(
        lambda: ledger.transfer(wallet, other, 10, reason="消费", key=f"spend-{i}")))
    assert sum(1 for r in results if r[0] == "ok") == 7
    assert all(r == (409, "insufficient_balance") for r in results if r[0] != "ok")
    assert balance(wallet) == (0, 0) and balance(other) == (70, 0)
    ledger.check_invariants()


def test_concurrent_replays_of_one_key_post_once(app):
    source, fund, (wallet, _) = accounts()
    db.session.remove()
    results = race(app, 10, lambda i: ledger.atomic(
        lambda: ledger.transfer(source, wallet, 5, reason="奖励", key="same")).id)
    assert len({r[1] for r in results}) == 1 and all(r[0] == "ok" for r in results)
    assert balance(wallet) == (5, 0)


def test_unknown_account_and_mixed_currencies_are_refused(app):
    source, fund, (wallet, _) = accounts()
    fen = ledger.account("user", 1, currency="fen", kind="voucher")
    db.session.commit()
    with pytest.raises(ApiError) as err:
        ledger.atomic(lambda: ledger.transfer(source, 999_999, 1, reason="x"))
    assert err.value.status == 404
    with pytest.raises(ValueError):
        ledger.atomic(lambda: ledger.transfer(source, fen.id, 1, reason="x"))
    ledger.check_invariants()


def test_pending_replay_and_short_hold(app):
    source, fund, (wallet, other) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 10, reason="奖励"))
    hold = ledger.atomic(lambda: ledger.transfer(wallet, fund, 10, reason="兑换", pending=True,
                                                 key="h"))
    again = ledger.atomic(lambda: ledger.transfer(wallet, fund, 10, reason="兑换", pending=True,
                                                  key="h"))
    assert again.id == hold.id and again.replayed and balance(wallet) == (10, 10)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.atomic(lambda: ledger.transfer(wallet, other, 1, reason="x", pending=True))
    ledger.check_invariants()


def test_account_lookup_is_fresh_inside_a_transaction(app):
    source, fund, (wallet, _) = accounts()
    before = ledger.account("user", 1, currency="bean", kind="wallet")
    assert before.balance == 0
    ledger.transfer(source, wallet, 9, reason="奖励")  # same transaction, Core statements
    assert ledger.account("user", 1, currency="bean", kind="wallet").balance == 9
    db.session.rollback()


def test_only_unique_races_are_retried():
    from sqlalchemy.exc import IntegrityError

    class Orig(Exception):
        def __init__(self, message, sqlstate=None):
            super().__init__(message)
            self.sqlstate = sqlstate

    assert ledger.is_retryable(IntegrityError("INSERT", {}, Orig("dup", "23505")))
    assert ledger.is_retryable(IntegrityError("INSERT", {}, Orig("UNIQUE constraint failed: x")))
    assert not ledger.is_retryable(IntegrityError("INSERT", {}, Orig("CHECK", "23514")))
