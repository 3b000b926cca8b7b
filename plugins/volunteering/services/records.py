"""Service records: a person's hours and stars, an organization's export rows
and month summary (aggregated in SQL over the subtree), and how minutes read."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import aliased

from core.access import subtree_ids
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


def _minutes(verified: bool):
    """Summed minutes of verified (信用) or honour (荣誉) service, 0 when none."""
    picked = Attendance.verified if verified else ~Attendance.verified
    return func.coalesce(func.sum(case((picked, Attendance.minutes), else_=0)), 0)


def service_totals(user: User) -> dict:
    """A person's verified and honour minutes, star level and activity count,
    summed in SQL (the dashboard card and the certificate need no rows)."""
    verified, honour, activities = db.session.execute(
        select(_minutes(True), _minutes(False), func.count()).where(
            Attendance.user_id == user.id, Attendance.status.in_(RECORDED)
        )
    ).one()
    return {
        "verified_minutes": verified,
        "honour_minutes": honour,
        "stars": star_level(verified),
        "activities": activities,
    }


def service_record(user: User) -> dict:
    """志愿服务记录: :func:`service_totals` and the activities (one person's rows)."""
    rows = db.session.execute(
        select(Attendance, Activity)
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.user_id == user.id, Attendance.status.in_(RECORDED))
        .order_by(Activity.starts_at.desc())
    ).all()
    return {**service_totals(user), "rows": rows}


def _month_activities(org: Organization, start: datetime, end: datetime):
    """Ids of the activities in ``org``'s subtree starting in [start, end)."""
    return select(Activity.id).where(
        Activity.org_id.in_(subtree_ids(org)),
        Activity.starts_at >= start,
        Activity.starts_at < end,
    )


def service_rows(org: Organization, start: datetime, end: datetime):
    """Recorded service in ``org``'s subtree for activities starting in [start, end):
    one statement of plain columns (the recorder's name joined, not looked up)."""
    recorder = aliased(User)
    return db.session.execute(
        select(
            User.name,
            User.phone,
            Organization.name.label("org_name"),
            Activity.title,
            Activity.starts_at,
            Attendance.minutes,
            Attendance.verified,
            recorder.name.label("recorder"),
        )
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .join(User, User.id == Attendance.user_id)
        .outerjoin(recorder, recorder.id == Attendance.recorded_by_id)
        .where(
            Attendance.activity_id.in_(_month_activities(org, start, end)),
            Attendance.status.in_(RECORDED),
        )
        .order_by(Activity.starts_at, User.name, Attendance.id)
    ).all()


EXPORT_HEADER = ["姓名", "手机号", "组织", "活动", "日期", "时长（小时）", "类型", "记录人"]


def export_rows(org: Organization, start: datetime, end: datetime) -> list[list]:
    """The rows of the service export (under :data:`EXPORT_HEADER`), phones masked.
    Raw values: the exports defuse formulas (``core.export.safe_cell``)."""
    return [
        [
            row.name,
            mask_phone(row.phone),
            row.org_name,
            row.title,
            format_local(row.starts_at, "%Y-%m-%d"),
            round(row.minutes / 60, 2),
            "信用时数" if row.verified else "荣誉时数",
            row.recorder or "扫码",
        ]
        for row in service_rows(org, start, end)
    ]


def month_summary(org: Organization, start: datetime, end: datetime) -> dict:
    """The report's figures for ``org``'s subtree, in one aggregate statement
    (read from ``ix_volunteering_attendance_report``; no rows reach Python)."""
    activities = _month_activities(org, start, end)
    count = select(func.count()).select_from(activities.subquery()).scalar_subquery()
    row = db.session.execute(
        select(
            count,
            func.count(distinct(Attendance.user_id)),
            _minutes(True),
            _minutes(False),
        ).where(Attendance.activity_id.in_(activities), Attendance.status.in_(RECORDED))
    ).one()
    return dict(
        zip(("activities", "volunteers", "verified_minutes", "honour_minutes"), row, strict=True)
    )


def format_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} 小时 {rest} 分"
    return f"{hours} 小时" if hours else f"{rest} 分"
