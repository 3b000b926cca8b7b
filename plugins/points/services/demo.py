"""Demo data: a district fund, a few rewards, some beans (all via the ledger)."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import Membership, Organization
from plugins.points.services.accounts import deposit
from plugins.points.services.awards import award
from plugins.points.services.rewards import create_reward


def seed_demo(orgs: dict, users: dict) -> None:
    """A district fund, a few rewards, some beans for the demo volunteers (via the ledger)."""
    district, community = orgs["district"], orgs.get("community1", orgs["district"])
    admin = users["admin"]
    staff = users.get("staff", admin)
    deposit(
        admin, district, amount=100_000, key="demo-fund", donor="盘龙区爱心企业", note="演示数据"
    )
    for name, cost, stock, description in [
        ("洗衣液一瓶", 50, 30, "社区服务站领取"),
        ("理发券", 80, 20, "爱心商家提供"),
        ("大米5公斤", 200, 10, "每人限兑1件"),
    ]:
        create_reward(
            staff,
            community,
            name=name,
            cost=cost,
            stock=stock,
            description=description,
            per_person_limit=1 if cost >= 200 else None,
        )
    for i, key in enumerate(("volunteer1", "volunteer2", "volunteer3"), start=1):
        if key in users:
            person = users[key]
            home = db.session.scalar(
                select(Organization)
                .join(Membership, Membership.org_id == Organization.id)
                .where(Membership.user_id == person.id)
            )
            award(
                staff if home.is_within(community) else admin,
                home,
                phone=person.phone,
                amount=100 * i,
                reason="志愿服务积极分子",
                key=f"demo-{key}",
            )
