"""The phone pages: wallet, catalog, redemption with QR, staff queue, pickup, reports."""

from __future__ import annotations

import re

from core.extensions import db
from plugins.points import services
from plugins.points.models import Redemption, Reward
from tests.plugins.points.conftest import FUND, give, login, reward


def text(response) -> str:
    return response.get_data(as_text=True)


def test_wallet_page_shows_balance_held_and_lines(client, world):
    tree, people = world
    give(people, tree, 42)
    item = reward(people, tree, cost=10)
    services.request_redemption(people.resident, item.id, quantity=1, key="r")
    login(client, people.resident)
    page = text(client.get("/points/wallet"))
    assert re.search(r'id="balance">\s*32\s*<', page)
    assert re.search(r'id="held">\s*10\s*<', page)
    assert "优秀楼栋长" in page and "盘龙区 金豆基金" in page and "暂扣（等待审核）" in page
    assert "洗衣液" in page and "待审核" in page


def test_wallet_page_needs_login(client, world):
    r = client.get("/points/wallet")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_redeem_from_catalog_page_then_cancel(client, world):
    tree, people = world
    give(people, tree, 30)
    item = reward(people, tree, cost=10, stock=3)
    login(client, people.resident)
    page = text(client.get(f"/points/orgs/{tree.building.id}/rewards"))
    assert "洗衣液" in page and "申请兑换" in page and 'name="csrf_token"' in page
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page).group(1)
    r = client.post(
        f"/points/rewards/{item.id}/redeem", data={"quantity": "2", "idempotency_key": key}
    )
    assert r.status_code == 302
    row = db.session.scalar(db.select(Redemption))
    assert r.headers["Location"].endswith(f"/points/redemptions/{row.id}")
    page = text(client.get(f"/points/redemptions/{row.id}"))
    assert row.code in page and "待审核" in page
    client.post(
        f"/points/rewards/{item.id}/redeem", data={"quantity": "2", "idempotency_key": key}
    )  # double tap
    assert db.session.query(Redemption).count() == 1
    client.post(f"/points/redemptions/{row.id}/cancel")  # not confirmed: nothing happens
    db.session.expire_all()
    assert services.wallet_summary(people.resident) == {"balance": 10, "held": 20}
    client.post(f"/points/redemptions/{row.id}/cancel", data={"confirm": "yes"})
    db.session.expire_all()
    assert services.wallet_summary(people.resident) == {"balance": 30, "held": 0}


def test_forms_without_csrf_token_are_refused(client, world):
    tree, people = world
    item = reward(people, tree, cost=10)
    login(client, people.resident)
    client.csrf_token = None
    client.application.config["WTF_CSRF_ENABLED"] = True  # the suite's default is off
    r = client.post(
        f"/points/rewards/{item.id}/redeem", data={"quantity": "1", "idempotency_key": "k"}
    )
    assert r.status_code == 400
    assert db.session.query(Redemption).count() == 0


def test_redeem_page_says_why_in_chinese(client, world):
    tree, people = world
    item = reward(people, tree, cost=10)
    login(client, people.resident)
    r = client.post(
        f"/points/rewards/{item.id}/redeem",
        data={"quantity": "1", "idempotency_key": "k"},
        follow_redirects=True,
    )
    assert "金豆不够" in text(r)
    r = client.post(
        f"/points/rewards/{item.id}/redeem",
        data={"quantity": "0", "idempotency_key": "k2"},
        follow_redirects=True,
    )
    assert "数量" in text(r)


def test_staff_queue_approve_then_scan_pickup_code(client, world):
    tree, people = world
    give(people, tree, 30)
    item = reward(people, tree, cost=10)
    row = services.request_redemption(people.resident, item.id, quantity=1, key="r")
    login(client, people.staff)
    page = text(client.get(f"/points/orgs/{tree.community.id}/redemptions"))
    assert row.code in page and "通过" in page
    client.post(f"/points/redemptions/{row.id}/approve")
    db.session.expire_all()
    assert db.session.get(Redemption, row.id).status == "approved"
    # The volunteer's page now shows an inline SVG QR code leading to the pickup URL.
    login(client, people.resident)
    page = text(client.get(f"/points/redemptions/{row.id}"))
    assert "<svg" in page and row.code in page
    # Staff type the code (lower case, spaces) and hand the reward over.
    login(client, people.staff)
    r = client.post(
        f"/points/orgs/{tree.community.id}/pickup", data={"code": " " + row.code.lower() + " "}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/points/p/{row.code}")
    assert "确认已交付" in text(client.get(f"/points/p/{row.code}"))
    client.post(f"/points/redemptions/{row.id}/fulfil")
    db.session.expire_all()
    assert db.session.get(Redemption, row.id).status == "fulfilled"


def test_pickup_page_refuses_residents_and_unknown_codes(client, world):
    tree, people = world
    give(people, tree, 30)
    item = reward(people, tree, cost=10)
    row = services.request_redemption(people.resident, item.id, quantity=1, key="r")
    login(client, people.other_staff)
    assert client.get(f"/points/p/{row.code}").status_code in (403, 404)
    assert client.get("/points/p/NOSUCHCD").status_code == 404
    login(client, people.resident)  # the owner is sent to their own page
    assert (
        client.get(f"/points/p/{row.code}")
        .headers["Location"]
        .endswith(f"/points/redemptions/{row.id}")
    )


def test_manage_page_award_and_deposit_forms(client, world):
    tree, people = world
    login(client, people.staff)
    page = text(client.get(f"/points/orgs/{tree.community.id}"))
    assert "发放金豆" in page and "存入金豆基金" not in page
    r = client.post(
        f"/points/orgs/{tree.community.id}/awards",
        data={
            "phone": people.resident.phone,
            "amount": "15",
            "reason": "优秀楼栋长",
            "idempotency_key": "f1",
        },
        follow_redirects=True,
    )
    assert "金豆已发放" in text(r)
    r = client.post(
        f"/points/orgs/{tree.community.id}/awards",
        data={
            "phone": people.resident.phone,
            "amount": "1.5",
            "reason": "x",
            "idempotency_key": "f2",
        },
        follow_redirects=True,
    )
    assert "金豆数量：请输入整数" in text(r)
    assert (
        client.post(
            f"/points/orgs/{tree.community.id}/deposits",
            data={"amount": "5", "idempotency_key": "d"},
        ).status_code
        == 403
    )
    login(client, people.district_admin)
    r = client.post(
        f"/points/orgs/{tree.district.id}/deposits",
        data={"amount": "5", "donor": "爱心人士", "idempotency_key": "d"},
        follow_redirects=True,
    )
    assert "已存入" in text(r)
    db.session.expire_all()
    assert services.fund_balance(tree.district) == FUND - 15 + 5


def test_resident_cannot_open_staff_pages(client, world):
    tree, people = world
    login(client, people.resident)
    for url in (
        f"/points/orgs/{tree.building.id}",
        f"/points/orgs/{tree.building.id}/redemptions",
        f"/points/orgs/{tree.building.id}/report",
    ):
        assert client.get(url).status_code == 403, url
    # the community above: visible to its residents, but not its staff pages
    assert client.get(f"/points/orgs/{tree.community.id}").status_code == 403
    assert client.get(f"/points/orgs/{tree.other_community.id}").status_code == 404


def test_create_reward_form(client, world):
    tree, people = world
    login(client, people.staff)
    r = client.post(
        f"/points/orgs/{tree.community.id}/rewards",
        data={
            "name": "理发券",
            "cost": "80",
            "stock": "5",
            "description": "",
            "per_person_limit": "",
        },
        follow_redirects=True,
    )
    assert "已上架" in text(r) and "理发券" in text(r)
    r = client.post(
        f"/points/orgs/{tree.community.id}/rewards",
        data={"name": "坏的", "cost": "-3", "stock": "5"},
        follow_redirects=True,
    )
    assert "坏的" not in text(r)
    r = client.post(
        f"/points/orgs/{tree.community.id}/rewards",
        data={
            "name": "中秋月饼",
            "cost": "20",
            "stock": "5",
            "starts_at": "2030-09-01T08:00",
            "ends_at": "2030-09-15T18:00",
        },
        follow_redirects=True,
    )
    assert "中秋月饼" in text(r) and "截止 2030年9月15日 周日 18:00" in text(r)
    cake = db.session.scalar(db.select(Reward).where(Reward.name == "中秋月饼"))
    assert cake.starts_at.isoformat() == "2030-09-01T00:00:00+00:00"  # 08:00 in Kunming
    r = client.post(
        f"/points/orgs/{tree.community.id}/rewards",
        data={
            "name": "倒序",
            "cost": "20",
            "stock": "5",
            "starts_at": "2030-09-15T08:00",
            "ends_at": "2030-09-01T18:00",
        },
        follow_redirects=True,
    )
    assert "结束时间" in text(r)


def test_leaderboard_report_and_csv(client, world):
    tree, people = world
    give(people, tree, 25)
    login(client, people.staff)
    assert "居民" in text(client.get(f"/points/orgs/{tree.community.id}/leaderboard"))
    page = text(client.get(f"/points/orgs/{tree.community.id}/report"))
    assert re.search(r'id="issued">25<', page)
    r = client.get(f"/points/orgs/{tree.community.id}/report.csv")
    assert r.mimetype == "text/csv"
    lines = text(r).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("组织,月份,本月发放") and lines[1].split(",")[2] == "25"


def test_manage_page_lists_recent_awards_with_reversal(client, world):
    tree, people = world
    row = give(people, tree, 9)
    login(client, people.staff)
    assert "撤回发放" in text(client.get(f"/points/orgs/{tree.community.id}"))
    r = client.post(
        f"/points/awards/{row.id}/reverse", data={"reason": "发错人"}, follow_redirects=True
    )  # without the second tap
    assert "请先确认" in text(r)
    db.session.expire_all()
    assert services.wallet_summary(people.resident)["balance"] == 9
    r = client.post(
        f"/points/awards/{row.id}/reverse",
        data={"reason": "发错人", "confirm": "yes"},
        follow_redirects=True,
    )
    assert "已撤回" in text(r)
    db.session.expire_all()
    assert services.wallet_summary(people.resident)["balance"] == 0


def test_batch_award_form(client, world):
    tree, people = world
    login(client, people.staff)
    r = client.post(
        f"/points/orgs/{tree.community.id}/awards/batch",
        data={
            "lines": f"{people.resident.phone} 7\n\n",
            "reason": "敬老活动",
            "idempotency_key": "b1",
        },
        follow_redirects=True,
    )
    assert "已向 1 人发放金豆" in text(r)
    r = client.post(
        f"/points/orgs/{tree.community.id}/awards/batch",
        data={"lines": "abc 7", "reason": "敬老活动", "idempotency_key": "b2"},
        follow_redirects=True,
    )
    assert "有误的行：abc 7" in text(r)
    db.session.expire_all()
    assert services.wallet_summary(people.resident)["balance"] == 7


def test_award_to_a_non_member_is_flashed_and_keeps_the_input(client, world):
    # Issue 9 item 6: this was a full error page that lost what staff typed.
    tree, people = world
    login(client, people.staff)
    r = client.post(
        f"/points/orgs/{tree.community.id}/awards",
        data={
            "phone": "13999999999",
            "amount": "7",
            "reason": "楼道清洁",
            "idempotency_key": "k-non-member",
        },
        follow_redirects=True,
    )
    page = text(r)
    assert r.status_code == 200 and "不是本组织的成员" in page
    assert 'value="13999999999"' in page and "楼道清洁" in page


def test_rejecting_needs_the_second_tap(client, world):
    tree, people = world
    give(people, tree, 30)
    item = reward(people, tree, cost=10)
    row = services.request_redemption(people.resident, item.id, quantity=1, key="r1")
    login(client, people.staff)
    client.post(f"/points/redemptions/{row.id}/reject", data={"reason": "缺货"})
    db.session.expire_all()
    assert db.session.get(Redemption, row.id).status == "pending"
    page = text(client.get(f"/points/orgs/{tree.community.id}/redemptions"))
    assert "确定拒绝" in page and 'name="confirm" value="yes"' in page
    client.post(f"/points/redemptions/{row.id}/reject", data={"reason": "缺货", "confirm": "yes"})
    db.session.expire_all()
    assert db.session.get(Redemption, row.id).status == "rejected"
