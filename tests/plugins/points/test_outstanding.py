"""成员持有 (issue 15): 金豆 wallets only, live for small subtrees, a snapshot
with its time for districts and sub-districts, rebuilt by the daily job."""

from __future__ import annotations

from sqlalchemy import func, select

from core import ledger
from core.extensions import db
from core.times import this_month
from plugins.points import services
from plugins.points.models import Outstanding
from tests.plugins.points.conftest import give


def test_voucher_wallets_and_meal_funds_are_not_beans(world):
    tree, people = world
    give(people, tree, 30)
    source = ledger.account(
        "org", tree.district.id, namespace="vouchers:1", currency="fen", kind="funding",
        allow_negative=True,
    )  # fmt: skip
    wallet = ledger.account(
        "user", people.resident.id, namespace="vouchers:1", currency="fen", kind="wallet"
    )
    meals = ledger.account("org", tree.district.id, namespace="meals", currency="fen", kind="fund")
    ledger.atomic(lambda: ledger.transfer(source, wallet, 5000, reason="发券"))
    ledger.atomic(lambda: ledger.transfer(source, meals, 7000, reason="餐补"))
    figures = services.report(tree.community, this_month())
    assert figures["outstanding"] == 30
    assert figures["outstanding_as_of"] is None
    assert services.report(tree.district, this_month())["fund_balance"] == 10_000 - 30


def test_districts_read_the_snapshot_communities_sum_now(world):
    tree, people = world
    give(people, tree, 30, key="a")
    assert services.outstanding_of(tree.district) == (30, None)  # no snapshot yet: live
    assert services.refresh_outstanding() == 3  # the district and its two sub-districts
    give(people, tree, 12, key="b")
    amount, as_of = services.outstanding_of(tree.district)
    assert amount == 30 and as_of is not None  # yesterday's figure, with its time
    assert services.outstanding_of(tree.subdistrict)[0] == 30
    assert services.outstanding_of(tree.other_subdistrict)[0] == 0
    assert services.outstanding_of(tree.community) == (42, None)
    assert services.refresh_outstanding() == 3  # a rerun replaces, never adds
    assert db.session.scalar(select(func.count()).select_from(Outstanding)) == 3
    assert services.outstanding_of(tree.district)[0] == 42


def test_report_page_and_section_say_when_the_snapshot_was_taken(app, client, world):
    tree, people = world
    give(people, tree, 30)
    services.refresh_outstanding()
    section = app.extensions["jindou_plugins"].pm.hook.org_report(
        org=tree.district, month=this_month()
    )
    rows = next(s for s in section if s.title == "金豆").rows
    assert [value for label, value in rows if label.startswith("成员持有（未使用，截至")] == [30]
    from tests.plugins.points.conftest import login

    login(client, people.district_admin)
    page = client.get(f"/points/orgs/{tree.district.id}/report").get_data(as_text=True)
    assert "成员持有为每日统计" in page
    page = client.get(f"/points/orgs/{tree.community.id}/report").get_data(as_text=True)
    assert "成员持有为每日统计" not in page


def test_the_daily_job_refreshes_the_snapshot(app, world):
    tree, people = world
    give(people, tree, 30)
    result = app.test_cli_runner().invoke(args=["points", "expire"])
    assert result.exit_code == 0, result.output
    assert "outstanding refreshed for 3 organizations" in result.output
    assert db.session.get(Outstanding, tree.district.id).amount == 30
