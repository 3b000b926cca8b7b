"""志愿服务 — activities, sign-up, QR check-in/out, service hours."""

from __future__ import annotations

from datetime import timedelta

from core import hookimpl
from core.extensions import db
from core.plugins import PluginMeta, SettingSpec
from plugins.volunteering.models import Activity
from plugins.volunteering.schemas import MAX_POINTS, MAX_POINTS_PER_HOUR


@hookimpl
def describe():
    return PluginMeta(
        name="volunteering",
        title="志愿服务",
        title_en="Volunteering",
        description="活动、报名、扫码签到签退、服务时长",
        owners={"activity_id": Activity},
        settings=(
            SettingSpec(
                "honour_hours_earn_points",
                bool,
                False,
                "补录的荣誉时数也发放金豆",
                "Back-filled honour hours earn points",
            ),
            SettingSpec(
                "max_points_per_activity",
                int,
                200,
                "每个活动的完成奖励金豆上限",
                "Most points an activity may give on completion",
                minimum=0,
                maximum=MAX_POINTS,
            ),
            SettingSpec(
                "max_points_per_hour",
                int,
                50,
                "每个活动的每小时金豆上限",
                "Most points an activity may give per hour",
                minimum=0,
                maximum=MAX_POINTS_PER_HOUR,
            ),
        ),
    )


@hookimpl
def blueprints():
    # pages and cli add their routes and jobs to views.bp
    from plugins.volunteering import cli, pages, views  # noqa: F401

    return [views.bp]


@hookimpl
def nav_items(user, org):
    from flask import url_for
    from flask_babel import gettext as _

    from core.plugins import NavItem

    return [
        NavItem(_("志愿活动"), url_for("volunteering.activities", org_id=org.id), order=20),
        NavItem(_("服务记录"), url_for("volunteering.record"), order=21),
        NavItem(_("我的签到码"), url_for("volunteering.my_code"), order=22),
    ]


@hookimpl
def dashboard_cards(user, org):
    from flask import url_for

    from core.plugins import Card
    from plugins.volunteering import services

    record = services.service_totals(user)
    return [
        Card(
            "志愿服务时长",
            services.format_minutes(record["verified_minutes"]),
            url=url_for("volunteering.record"),
            note=f"{'★' * record['stars'] or '尚无星级'} · 荣誉时数 "
            f"{services.format_minutes(record['honour_minutes'])}",
        )
    ]


@hookimpl
def scan_token(user, purpose, payload):
    if purpose not in ("checkin", "checkout"):
        return None
    from core.qr import ScanOutcome
    from plugins.volunteering import services

    scan = services.scan(user, payload.get("a"), "in" if purpose == "checkin" else "out")
    if scan.kind == "checkin":
        return ScanOutcome("签到成功", scan.title, scan.data())
    detail = f"服务 {services.format_minutes(scan.minutes)}"
    if scan.points_awarded:
        detail += f" · +{scan.points_awarded} 金豆"
    return ScanOutcome("签退成功", detail, scan.data())


@hookimpl
def seed_demo(orgs, users):
    from core.models import utcnow
    from plugins.volunteering.models import Signup

    now = utcnow().replace(second=0, microsecond=0)
    plans = [
        ("community1", "金星社区楼道清洁", "清洁家园", -1, 2, 10, 5, 6),
        ("community1", "陪伴独居老人", "助老助残", 24, 3, 5, 10, 8),
        ("community1", "夜间治安巡逻", "治安巡逻", 48, 2, 8, 5, 10),
        ("subdistrict1", "垃圾分类宣传", "政策宣传", 72, 3, 20, 5, 5),
        ("community3", "东华小区文明劝导", "文明劝导", 30, 2, 6, 5, 5),
    ]
    created = []
    for org_key, title, category, start_h, hours, capacity, points, per_hour in plans:
        starts = now + timedelta(hours=start_h)
        activity = Activity(
            org_id=orgs[org_key].id,
            title=title,
            category=category,
            location=f"{orgs[org_key].name}活动室",
            starts_at=starts,
            ends_at=starts + timedelta(hours=hours),
            capacity=capacity,
            points=points,
            points_per_hour=per_hour,
            description=f"{title}，欢迎居民报名参加。",
            created_by_id=users["staff"].id,
        )
        db.session.add(activity)
        created.append(activity)
    db.session.flush()
    running = created[0]  # running now: volunteer1 is signed up and can scan in
    db.session.add(
        Signup(activity_id=running.id, user_id=users["volunteer1"].id, status="confirmed")
    )
    db.session.add(
        Signup(activity_id=running.id, user_id=users["volunteer2"].id, status="confirmed")
    )


@hookimpl
def org_report(org, month):
    from core.plugins import ReportSection
    from core.times import month_bounds
    from plugins.volunteering import services

    start, end = month_bounds(month)
    summary = services.month_summary(org, start, end)
    return ReportSection(
        "志愿服务",
        [
            ("活动数", summary["activities"]),
            ("参与志愿者", summary["volunteers"]),
            ("信用时数", services.format_minutes(summary["verified_minutes"])),
            ("荣誉时数", services.format_minutes(summary["honour_minutes"])),
        ],
    )
