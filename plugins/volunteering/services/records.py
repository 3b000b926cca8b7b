"""Service records: a person's hours and stars, an organization's export rows
and month summary, and how minutes read."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from core.extensions import db
from core.models import Organization, User
from core.people.services import mask_phone
from core.times import format_local
from plugins.volunteering.models import Activity, Attendance

DEFAULT_STAR_HOURS = (100, 300, 600, 1000, 1500)
RECORDED = ("completed", "backfilled")


def star_level(verified_minutes: int, thresholds=None) -> int:
    hours = verified_minutes // 60
    thresholds = thresholds or current_app.config.get(
        "JINDOU_VOLUNTEERING_STAR_HOURS", DEFAULT_STAR_HOURS
    )
    return sum(1 for limit in thresholds if hours >= limit)


def service_record(user: User) -> dict:
    """志愿服务记录: verified and honour minutes, star level, the activities."""
    rows = db.session.execute(
        select(Attendance, Activity)
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.user_id == user.id, Attendance.status.in_(RECORDED))
        .order_by(Activity.starts_at.desc())
    ).all()
    verified = sum(a.minutes for a, _ in rows if a.verified)
    honour = sum(a.minutes for a, _ in rows if not a.verified)
    return {
        "verified_minutes": verified,
        "honour_minutes": honour,
        "stars": star_level(verified),
        "rows": rows,
        "activities": len(rows),
    }


def service_rows(org: Organization, start: datetime, end: datetime):
    """Recorded service in ``org``'s subtree for activities starting in [start, end)."""
    return db.session.execute(
        select(Attendance, Activity, Organization, User)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .join(User, User.id == Attendance.user_id)
        .where(
            Organization.path.startswith(org.path),
            Attendance.status.in_(RECORDED),
            Activity.starts_at >= start,
            Activity.starts_at < end,
        )
        .order_by(Activity.starts_at, User.name, Attendance.id)
    ).all()


EXPORT_HEADER = ["姓名", "手机号", "组织", "活动", "日期", "时长（小时）", "类型", "记录人"]


def export_rows(org: Organization, start: datetime, end: datetime) -> list[list]:
    """The rows of the service export (under :data:`EXPORT_HEADER`), phones masked.
    Raw values: the exports defuse formulas (``core.export.safe_cell``)."""
    table = []
    for att, act, act_org, user in service_rows(org, start, end):
        recorder = db.session.get(User, att.recorded_by_id).name if att.recorded_by_id else "扫码"
        table.append(
            [
                user.name,
                mask_phone(user.phone),
                act_org.name,
                act.title,
                format_local(act.starts_at, "%Y-%m-%d"),
                round(att.minutes / 60, 2),
                "信用时数" if att.verified else "荣誉时数",
                recorder,
            ]
        )
    return table


def month_summary(org: Organization, start: datetime, end: datetime) -> dict:
    rows = service_rows(org, start, end)
    activities = db.session.scalar(
        select(func.count())
        .select_from(Activity)
        .join(Organization, Organization.id == Activity.org_id)
        .where(
            Organization.path.startswith(org.path),
            Activity.starts_at >= start,
            Activity.starts_at < end,
        )
    )
    return {
        "activities": activities,
        "volunteers": len({u.id for _, _, _, u in rows}),
        "verified_minutes": sum(a.minutes for a, *_ in rows if a.verified),
        "honour_minutes": sum(a.minutes for a, *_ in rows if not a.verified),
    }


def format_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} 小时 {rest} 分"
    return f"{hours} 小时" if hours else f"{rest} 分"
