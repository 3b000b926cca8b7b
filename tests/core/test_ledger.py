"""The ledger engine: transfers, holds, reversals, batches, idempotency, concurrency."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from core import ledger
from core.api import ApiError
from core.extensions import db
from core.ledger import Leg, Transfer
from core.testing import make_user, race


def accounts(n_wallets: int = 2):
    source = ledger.account(
        "org", 1, namespace="points", currency="bean", kind="donations", allow_negative=True
    )
    fund = ledger.account("org", 1, namespace="points", currency="bean", kind="fund")
    wallets = [
        ledger.account("user", i, namespace="points", currency="bean", kind="wallet")
        for i in range(1, n_wallets + 1)
    ]
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
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.atomic(lambda: ledger.transfer(source, fund, 11, reason="捐赠", key="k1"))
    ledger.check_invariants()


def test_replay_still_answers_when_balance_is_now_short(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, fund, 10, reason="捐赠"))
    first = ledger.atomic(lambda: ledger.transfer(fund, wallet, 10, reason="奖励", key="a"))
    assert (
        ledger.atomic(lambda: ledger.transfer(fund, wallet, 10, reason="奖励", key="a")).id
        == first.id
    )


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
    with pytest.raises(ledger.AlreadySettled):
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
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.atomic(
            lambda: ledger.post_batch([Leg(fund, wallets[0], 8, "x", key=f"m:{wallets[0]}")])
        )
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
    results = race(
        app,
        20,
        lambda i: ledger.atomic(
            lambda: ledger.transfer(wallet, other, 10, reason="消费", key=f"spend-{i}")
        ),
    )
    assert sum(1 for r in results if r[0] == "ok") == 7
    assert all(r == (409, "insufficient_balance") for r in results if r[0] != "ok")
    assert balance(wallet) == (0, 0) and balance(other) == (70, 0)
    ledger.check_invariants()


def test_concurrent_replays_of_one_key_post_once(app):
    source, fund, (wallet, _) = accounts()
    db.session.remove()
    results = race(
        app,
        10,
        lambda i: (
            ledger.atomic(lambda: ledger.transfer(source, wallet, 5, reason="奖励", key="same")).id
        ),
    )
    assert len({r[1] for r in results}) == 1 and all(r[0] == "ok" for r in results)
    assert balance(wallet) == (5, 0)


def test_unknown_account_and_mixed_currencies_are_refused(app):
    source, fund, (wallet, _) = accounts()
    fen = ledger.account("user", 1, namespace="points", currency="fen", kind="voucher")
    db.session.commit()
    with pytest.raises(ledger.AccountNotFound):
        ledger.atomic(lambda: ledger.transfer(source, 999_999, 1, reason="x"))
    with pytest.raises(ValueError):
        ledger.atomic(lambda: ledger.transfer(source, fen.id, 1, reason="x"))
    ledger.check_invariants()


def test_pending_replay_and_short_hold(app):
    source, fund, (wallet, other) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 10, reason="奖励"))
    hold = ledger.atomic(
        lambda: ledger.transfer(wallet, fund, 10, reason="兑换", pending=True, key="h")
    )
    again = ledger.atomic(
        lambda: ledger.transfer(wallet, fund, 10, reason="兑换", pending=True, key="h")
    )
    assert again.id == hold.id and again.replayed and balance(wallet) == (10, 10)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.atomic(lambda: ledger.transfer(wallet, other, 1, reason="x", pending=True))
    ledger.check_invariants()


def test_account_lookup_is_fresh_inside_a_transaction(app):
    source, fund, (wallet, _) = accounts()
    before = ledger.account("user", 1, namespace="points", currency="bean", kind="wallet")
    assert before.balance == 0
    ledger.transfer(source, wallet, 9, reason="奖励")  # same transaction, Core statements
    assert (
        ledger.account("user", 1, namespace="points", currency="bean", kind="wallet").balance == 9
    )
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


# -- namespaces --------------------------------------------------------------------------------


def test_namespaces_keep_a_meals_fund_and_a_voucher_budget_apart(app):
    meals = ledger.account("org", 7, namespace="meals", currency="fen", kind="fund")
    vouchers = ledger.account("org", 7, namespace="vouchers:12", currency="fen", kind="fund")
    source = ledger.account(
        "org", 7, namespace="meals", currency="fen", kind="donations", allow_negative=True
    )
    db.session.commit()
    assert meals.id != vouchers.id
    ledger.atomic(lambda: ledger.transfer(source, meals, 500, reason="捐赠"))
    assert balance(meals.id) == (500, 0) and balance(vouchers.id) == (0, 0)
    assert (
        ledger.account("org", 7, namespace="vouchers:12", currency="fen", kind="fund").id
        == vouchers.id
    )
    with pytest.raises(TypeError):
        ledger.account("org", 7, currency="fen", kind="fund")  # no namespace
    ledger.check_invariants()


# -- holds: settling inserts, never updates ----------------------------------------------------


def raw_row(transfer_id: int) -> tuple:
    return tuple(
        db.session.execute(
            text("SELECT * FROM ledger_transfer WHERE id = :id"), {"id": transfer_id}
        ).one()
    )


def test_post_and_void_insert_a_row_and_leave_the_hold_untouched(app):
    source, fund, (wallet, _) = accounts()
    actor = make_user("13900000001", "审核员")
    db.session.commit()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 50, reason="奖励"))
    hold = ledger.atomic(lambda: ledger.transfer(wallet, fund, 30, reason="兑换", pending=True))
    before = raw_row(hold.id)
    posted = ledger.atomic(lambda: ledger.post_pending(hold.id, actor_id=actor.id))
    assert raw_row(hold.id) == before  # byte-identical
    row = db.session.get(Transfer, posted.id)
    assert (row.status, row.pending_id, row.actor_id, row.amount) == (
        "posted",
        hold.id,
        actor.id,
        30,
    )
    assert (row.debit_account_id, row.credit_account_id) == (wallet, fund)
    assert balance(wallet) == (20, 0) and balance(fund) == (30, 0)
    again = ledger.atomic(lambda: ledger.post_pending(hold.id))
    assert again.id == posted.id and again.replayed
    assert balance(wallet) == (20, 0)

    hold2 = ledger.atomic(lambda: ledger.transfer(wallet, fund, 5, reason="兑换", pending=True))
    before = raw_row(hold2.id)
    voided = ledger.atomic(lambda: ledger.void_pending(hold2.id, actor_id=actor.id))
    assert raw_row(hold2.id) == before and voided.status == "voided"
    assert ledger.atomic(lambda: ledger.void_pending(hold2.id)).id == voided.id
    with pytest.raises(ledger.AlreadySettled) as err:
        ledger.atomic(lambda: ledger.post_pending(hold2.id))
    assert err.value.code == "transfer_settled"
    assert balance(wallet) == (20, 0)
    with pytest.raises(ledger.NotPending):
        ledger.atomic(lambda: ledger.post_pending(posted.id))
    with pytest.raises(ledger.TransferNotFound):
        ledger.atomic(lambda: ledger.void_pending(999_999))
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 5
    ledger.check_invariants()


def test_the_database_allows_one_settlement_per_hold_and_one_reversal(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 50, reason="奖励"))
    hold = ledger.atomic(lambda: ledger.transfer(wallet, fund, 30, reason="兑换", pending=True))
    ledger.atomic(lambda: ledger.void_pending(hold.id))
    award = ledger.atomic(lambda: ledger.transfer(source, wallet, 5, reason="奖励"))
    ledger.atomic(lambda: ledger.reverse(award.id, reason="冲正"))
    insert = (
        "INSERT INTO ledger_transfer (debit_account_id, credit_account_id, amount, "
        "currency, reason, status, pending_id, reverses_id, created_at) VALUES "
        "(:d, :c, :amount, 'bean', 'x', 'posted', :pending, :reverses, :now)"
    )
    for params in (
        {"d": wallet, "c": fund, "amount": 30, "pending": hold.id, "reverses": None},
        {"d": wallet, "c": source, "amount": 5, "pending": None, "reverses": award.id},
    ):
        with pytest.raises(IntegrityError):
            db.session.execute(text(insert), {**params, "now": ledger.utcnow()})
        db.session.rollback()
    ledger.check_invariants()


def test_post_and_void_racing_on_one_hold_settle_it_once(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 50, reason="奖励"))
    hold = ledger.atomic(lambda: ledger.transfer(wallet, fund, 30, reason="兑换", pending=True))
    db.session.remove()
    results = race(
        app,
        10,
        lambda i: ledger.atomic(
            lambda: (ledger.post_pending if i % 2 else ledger.void_pending)(hold.id).status
        ),
    )
    outcomes = {r[1] for r in results if r[0] == "ok"}
    assert len(outcomes) == 1
    assert all(r == (409, "transfer_settled") for r in results if r[0] != "ok")
    assert balance(wallet) == ((20, 0) if outcomes == {"posted"} else (50, 0))
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.pending_id == hold.id)
        )
        == 1
    )
    ledger.check_invariants()


def test_history_shows_open_holds_and_settled_ones_once(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 50, reason="奖励"))
    kept = ledger.atomic(lambda: ledger.transfer(wallet, fund, 10, reason="兑换", pending=True))
    posted = ledger.atomic(
        lambda: ledger.post_pending(
            ledger.transfer(wallet, fund, 20, reason="兑换", pending=True).id
        )
    )
    ledger.atomic(
        lambda: ledger.void_pending(
            ledger.transfer(wallet, fund, 5, reason="兑换", pending=True).id
        )
    )
    rows = db.session.scalars(ledger.transfers_of(wallet).order_by(Transfer.id)).all()
    assert [(r.status, r.amount) for r in rows] == [("posted", 50), ("pending", 10), ("posted", 20)]
    assert rows[1].id == kept.id and rows[2].id == posted.id
    assert ledger.posted_sum(wallet) == 30 == balance(wallet)[0]


# -- reversals and replays ----------------------------------------------------------------------


def test_a_second_reversal_is_already_reversed(app):
    source, fund, (wallet, _) = accounts()
    award = ledger.atomic(lambda: ledger.transfer(source, wallet, 15, reason="奖励"))
    back = ledger.atomic(lambda: ledger.reverse(award.id, reason="误发冲正", actor_id=None))
    assert db.session.get(Transfer, back.id).reverses_id == award.id  # set by the INSERT
    with pytest.raises(ledger.AlreadyReversed) as err:
        ledger.atomic(lambda: ledger.reverse(award.id, reason="再冲一次"))
    assert err.value.code == "already_reversed"
    with pytest.raises(ledger.NotReversible) as err:
        ledger.atomic(lambda: ledger.reverse(back.id, reason="冲正的冲正"))
    assert err.value.code == "is_reversal"
    assert balance(wallet) == (0, 0)
    ledger.check_invariants()


def test_single_and_batch_replays_follow_one_rule(app):
    source, fund, (wallet, other) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, fund, 100, reason="捐赠"))
    first = ledger.atomic(
        lambda: ledger.transfer(fund, wallet, 7, reason="发放", key="s", cause=("org", 1))
    )
    # Same content: a batch skips the leg, a single transfer answers the first.
    assert (
        ledger.atomic(
            lambda: ledger.post_batch([Leg(fund, wallet, 7, "发放", key="s", cause=("org", 1))])
        )
        == 0
    )
    assert (
        ledger.atomic(
            lambda: ledger.transfer(fund, wallet, 7, reason="发放", key="s", cause=("org", 1))
        ).id
        == first.id
    )
    ledger.atomic(lambda: ledger.post_batch([Leg(fund, other, 3, "发放", key="b")]))
    assert ledger.atomic(lambda: ledger.transfer(fund, other, 3, reason="发放", key="b")).replayed
    # Any difference (reason, cause, amount, accounts, hold or not) is a clash in both paths.
    changes = [
        dict(reason="别的"),
        dict(cause=("org", 2)),
        dict(amount=8),
        dict(credit=other),
        dict(pending=True),
    ]
    for change in changes:
        wanted = dict(debit=fund, credit=wallet, amount=7, reason="发放", cause=("org", 1))
        wanted.update(change)
        pending = wanted.pop("pending", False)
        with pytest.raises(ledger.IdempotencyConflict):
            ledger.atomic(
                lambda w=wanted, p=pending: ledger.transfer(
                    w["debit"],
                    w["credit"],
                    w["amount"],
                    reason=w["reason"],
                    cause=w["cause"],
                    key="s",
                    pending=p,
                )
            )
        if not pending:
            with pytest.raises(ledger.IdempotencyConflict):
                ledger.atomic(
                    lambda w=wanted: ledger.post_batch(
                        [
                            Leg(
                                w["debit"],
                                w["credit"],
                                w["amount"],
                                w["reason"],
                                key="s",
                                cause=w["cause"],
                            )
                        ]
                    )
                )
    assert balance(wallet) == (7, 0) and balance(other) == (3, 0)
    ledger.check_invariants()


# -- errors at the HTTP edge ------------------------------------------------------------------


@pytest.mark.parametrize(
    "error, status, code",
    [
        (ledger.InsufficientFunds(), 409, "insufficient_balance"),
        (ledger.InsufficientFunds("金豆不够", "fund_short"), 409, "fund_short"),
        (ledger.IdempotencyConflict(), 409, "idempotency_conflict"),
        (ledger.AlreadyReversed(), 409, "already_reversed"),
        (ledger.AlreadySettled(), 409, "transfer_settled"),
        (ledger.NotPending(), 409, "not_pending"),
        (ledger.NotReversible(), 409, "not_posted"),
        (ledger.AccountNotFound(), 404, "account_not_found"),
        (ledger.TransferNotFound(), 404, "transfer_not_found"),
    ],
)
def test_ledger_errors_answer_the_json_error_contract(make_app, error, status, code):
    app = make_app()

    def boom():
        raise error

    app.add_url_rule("/api/v1/test-ledger-error", "test_ledger_error", boom)
    app.add_url_rule("/test-ledger-error", "test_ledger_error_page", boom)
    client = app.test_client()
    r = client.get("/api/v1/test-ledger-error")
    assert r.status_code == status
    assert r.json == {"error": {"code": code, "message": error.message}}
    assert error.message and not error.message.isascii()  # Chinese for people
    page = client.get("/test-ledger-error")
    assert page.status_code == status and error.message in page.get_data(as_text=True)


# -- the audit ---------------------------------------------------------------------------------


def test_ledger_check_command_passes_then_names_the_broken_invariant(app):
    source, fund, (wallet, _) = accounts()
    ledger.atomic(lambda: ledger.transfer(source, wallet, 50, reason="奖励"))
    hold = ledger.atomic(lambda: ledger.transfer(wallet, fund, 30, reason="兑换", pending=True))
    ledger.atomic(lambda: ledger.post_pending(hold.id))
    award = ledger.atomic(lambda: ledger.transfer(source, wallet, 5, reason="奖励"))
    ledger.atomic(lambda: ledger.reverse(award.id, reason="冲正"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == len(ledger.INVARIANTS)
    assert ledger.failures() == []

    db.session.execute(
        text("UPDATE ledger_account SET balance = balance + 1 WHERE id = :id"), {"id": fund}
    )
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code != 0
    assert f"FAIL balance_is_posted_transfers: {fund}" in result.output
    assert "ledger invariant fails: currencies_sum_to_zero" in result.output
    with pytest.raises(AssertionError, match="balance_is_posted_transfers"):
        ledger.check_invariants()

    db.session.execute(
        text("UPDATE ledger_account SET balance = balance - 1, held = held + 2 WHERE id = :id"),
        {"id": fund},
    )
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code != 0 and "ledger invariant fails: held_is_open_holds" in result.output
    assert [f.split(":")[0] for f in ledger.failures()] == ["held_is_open_holds"]
    db.session.execute(text("UPDATE ledger_account SET held = 0 WHERE id = :id"), {"id": fund})
    db.session.commit()
