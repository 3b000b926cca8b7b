"""Demo data: a canteen in community1 with a week of lunches, the Kunming
subsidy tiers at the district, a funded meals fund; the demo elders book lunch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.extensions import db
from core.models import User
from core.times import local_today
from plugins.meals.services.bookings import book
from plugins.meals.services.canteens import create_canteen, create_menu
from plugins.meals.services.funds import deposit
from plugins.meals.services.policy import put_policy

KUNMING_TIERS = [
    {"min_age": 60, "subsidy": 100},
    {"min_age": 70, "subsidy": 200},
    {"min_age": 80, "subsidy": 300},
    {"min_age": 90, "subsidy": 500},
]
DISHES = [
    ["红烧肉", "炒青菜", "番茄蛋汤"],
    ["清蒸鱼", "土豆丝", "紫菜汤"],
    ["宫保鸡丁", "炒白菜", "冬瓜汤"],
    ["汽锅鸡", "凉拌木耳", "米饭"],
    ["小炒肉", "豆腐", "青菜汤"],
    ["过桥米线", "卤蛋"],
    ["饺子", "凉菜"],
]


def seed_demo(orgs: dict, users: dict) -> None:
    admin, district = users["admin"], orgs["district"]
    community = orgs.get("community1", district)
    staff = users.get("staff", admin)
    put_policy(admin, district, tiers=KUNMING_TIERS, hardship_extra=300)
    deposit(admin, district, amount=1_000_000, key="demo-fund", note="区财政餐补（演示）")
    canteen = create_canteen(
        staff, community, name="金星社区爱心食堂", address="金星社区服务中心一楼"
    )
    today, menus = local_today(), []
    for i in range(7):
        menus.append(
            create_menu(
                staff,
                canteen,
                day=today + timedelta(days=i),
                slot="lunch",
                dishes=DISHES[i],
                price=1200,
                capacity=60,
            )
        )
    elders = db.session.scalars(select(User).where(User.name.in_(("王桂兰", "李德福")))).all()
    for elder in elders:  # tomorrow's lunch (today's deadline may have passed)
        book(staff, menus[1], elder)
