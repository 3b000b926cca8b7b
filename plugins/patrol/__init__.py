"""治安巡逻 — routes with printed checkpoint codes, team shifts, missed-checkpoint
detection, incidents, and verified patrol hours announced as ``service_recorded``."""

from __future__ import annotations

from datetime import timedelta

from core import hookimpl
from core.plugins import PluginMeta, PluginRole
from plugins.patrol.models import Checkpoint, Incident, Route, Shift


@hookimpl
def describe():
    return PluginMeta(
        name="patrol",
        title="治安巡逻",
        title_en="Patrol",
        version="0.1.0",
        description="巡逻路线与巡逻点码、排班、漏巡提醒、事件上报、巡逻时长",
        owners={
            "route_id": Route,
            "checkpoint_id": Checkpoint,
            "shift_id": Shift,
            "incident_id": Incident,
        },
        roles=(PluginRole("leader", "巡逻队长", "Patrol leader"),),
    )


@hookimpl
def blueprints():
    from plugins.patrol import cli, pages, views  # noqa: F401  (pages and jobs attach to views.bp)

    return [views.bp]


@hookimpl
def nav_items(user, org):
    from flask import url_for

    from core.plugins import NavItem

    return [
        NavItem("治安巡逻", url_for("patrol.index_page", org_id=org.id), 60),
        NavItem("我的巡逻班次", url_for("patrol.my_shifts"), 61),
    ]


@hookimpl
def scan_token(user, purpose, payload):
    if purpose != "patrol":
        return None
    from core.qr import ScanOutcome
    from plugins.patrol import services

    scan = services.scan_checkpoint(user, payload.get("c"))
    headline = f"{scan.checkpoint_name} 已打卡 {scan.scanned}/{scan.total} ✓"
    if scan.left:
        detail = f"下一个：{scan.left[0]}；还剩 {len(scan.left)} 个：{'、'.join(scan.left)}"
    else:
        detail = f"“{scan.route_name}”全部巡逻点已完成，辛苦了！"
    return ScanOutcome(headline, detail, scan.data())


@hookimpl
def seed_demo(orgs, users):
    from core.extensions import db
    from core.models import utcnow
    from core.times import local_today, start_of_day
    from plugins.patrol.models import Member

    community = orgs["community1"]
    route = Route(org_id=community.id, name="金星社区夜间巡逻", created_by_id=users["staff"].id)
    db.session.add(route)
    db.session.flush()
    for n, name in enumerate(("东大门", "3号院", "自行车棚", "北门岗亭"), start=1):
        db.session.add(Checkpoint(org_id=community.id, route_id=route.id, position=n, name=name))
    # Tonight at 19:00 local time, or the next full hour when that has passed.
    evening = start_of_day(local_today()) + timedelta(hours=19)
    tonight = max(evening, utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    shift = Shift(
        org_id=community.id,
        route_id=route.id,
        starts_at=tonight,
        ends_at=tonight + timedelta(hours=2),
        grace_minutes=15,
        closes_at=tonight + timedelta(hours=2, minutes=15),
        minutes=120,
        points=20,
        status="scheduled",
        created_by_id=users["staff"].id,
    )
    db.session.add(shift)
    db.session.flush()
    for key in ("volunteer1", "volunteer2"):
        db.session.add(Member(shift_id=shift.id, user_id=users[key].id))
