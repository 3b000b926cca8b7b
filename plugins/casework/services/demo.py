"""Demo data: a handful of cases at every stage, so the queue and statistics show something."""

from __future__ import annotations

from datetime import timedelta

from core.models import utcnow
from plugins.casework.services.cases import accept, raise_case, rate, resolve
from plugins.casework.services.escalation import escalate_overdue

CASES = [
    # resident key, org key, category, text, location, days ago, what happens
    (
        "volunteer1",
        "building1",
        "facilities",
        "楼道声控灯坏了，晚上上下楼看不清",
        "1单元3楼",
        9,
        "closed",
    ),
    (
        "volunteer2",
        "building2",
        "environment",
        "垃圾桶满了两天没人清运",
        "2栋东侧垃圾点",
        7,
        "closed",
    ),
    ("volunteer1", "community1", "elderly", "想给家里老人申请助餐服务", None, 5, "unhappy"),
    ("volunteer3", "building3", "dispute", "楼上装修噪音很大，中午也不停", "5栋", 4, "resolved"),
    ("volunteer2", "group1", "safety", "小区后门的监控好像坏了", "小区后门", 3, "overdue"),
    ("volunteer1", "building1", "other", "想了解社区老年大学报名", None, 0.3, "accepted"),
    ("volunteer3", "building3", "facilities", "单元门门禁刷不开", "5栋2单元", 0, "open"),
]


def seed(orgs: dict, users: dict) -> None:
    now = utcnow()
    staff = {"community1": users["staff"], "community3": users.get("staff2", users["staff"])}
    for person_key, org_key, category, text, location, days, fate in CASES:
        at = now - timedelta(days=days)
        case = raise_case(
            users[person_key],
            orgs[org_key],
            category=category,
            text=text,
            location=location,
            now=at,
        )
        worker = staff[
            "community3" if org_key.endswith("3") or org_key == "group2" else "community1"
        ]
        if fate in ("overdue", "open"):
            continue
        accept(worker, case.id, now=at + timedelta(hours=2))
        if fate == "accepted":
            continue
        resolve(worker, case.id, note="已联系相关部门处理完毕", now=at + timedelta(hours=20))
        if fate == "closed":
            rate(
                users[person_key],
                case.id,
                satisfied=True,
                comment="处理很及时",
                now=at + timedelta(days=1),
            )
        elif fate == "unhappy":
            rate(
                users[person_key],
                case.id,
                satisfied=False,
                comment="还没解决",
                now=at + timedelta(days=1),
            )
    escalate_overdue(now)  # the ignored one climbs: the group to the community
