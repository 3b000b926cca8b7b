"""治安巡逻 tables: routes with ordered checkpoints, shifts with their team,
scans (one per checkpoint per shift: a database guarantee) and incidents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import Organization, Timestamp, User, utcnow

INCIDENT_KINDS = ("hazard", "dispute", "suspicious", "other")
KIND_TITLES = {
    "hazard": "安全隐患",
    "dispute": "矛盾纠纷",
    "suspicious": "可疑情况",
    "other": "其他",
}
STATUS_TITLES = {
    "scheduled": "未开始",
    "on": "进行中",
    "completed": "已完成",
    "incomplete": "有漏巡",
}


class Route(db.Model):
    __tablename__ = "patrol_route"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    organization: Mapped[Organization] = relationship()


class Checkpoint(db.Model):
    """A place on a route with a printed static code; ``position`` orders the walk."""

    __tablename__ = "patrol_checkpoint"
    __table_args__ = (UniqueConstraint("route_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Copied from the route so core's owners lookup finds the organization in one step.
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_route.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    route: Mapped[Route] = relationship()


class Shift(db.Model):
    """A team walking a route in a time window.

    ``status`` is stored as scheduled, completed or incomplete; ``on`` is
    derived (the window has opened and nobody closed it yet). ``closes_at``
    (ends_at + grace) is stored so the window is plain SQL on every database.
    ``minutes`` is the scheduled length: what a completed shift records.
    """

    __tablename__ = "patrol_shift"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('scheduled','completed','incomplete')", name="status_known"),
        CheckConstraint("points >= 0 AND grace_minutes >= 0 AND minutes > 0", name="numbers_sane"),
        Index("ix_patrol_shift_org_start", "org_id", "starts_at"),
        Index("ix_patrol_shift_status_closes", "status", "closes_at"),
        # The close-shifts job walks scheduled shifts by id.
        Index(
            "ix_patrol_shift_scheduled_id",
            "id",
            "closes_at",
            sqlite_where=text("status = 'scheduled'"),
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_route.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=15)
    closes_at: Mapped[datetime] = mapped_column(Timestamp)
    minutes: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    route: Mapped[Route] = relationship()
    organization: Mapped[Organization] = relationship()


class Member(db.Model):
    """One person on a shift's team. ``points_awarded`` stays empty until the
    completed shift's service was announced (the job retries empty ones)."""

    __tablename__ = "patrol_member"
    __table_args__ = (
        UniqueConstraint("shift_id", "user_id"),
        Index("ix_patrol_member_user", "user_id"),
        # The job walks members not yet announced by id.
        Index(
            "ix_patrol_member_pending",
            "id",
            "shift_id",
            sqlite_where=text("points_awarded IS NULL"),
            postgresql_where=text("points_awarded IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("patrol_shift.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    points_awarded: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship()


class Scan(db.Model):
    """A checkpoint scanned during a shift: the first scan counts, once."""

    __tablename__ = "patrol_scan"
    __table_args__ = (UniqueConstraint("shift_id", "checkpoint_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("patrol_shift.id"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("patrol_checkpoint.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    scanned_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Incident(db.Model):
    """Something a team member reported during a shift, for the community's staff.
    The photo (re-encoded JPEG, at most 1600 px) lives in the row itself."""

    __tablename__ = "patrol_incident"
    __table_args__ = (
        CheckConstraint("kind IN ('hazard','dispute','suspicious','other')", name="kind_known"),
        CheckConstraint("status IN ('open','resolved')", name="status_known"),
        Index("ix_patrol_incident_org_status", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    shift_id: Mapped[int] = mapped_column(ForeignKey("patrol_shift.id"), index=True)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_checkpoint.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    has_photo: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="open")
    note: Mapped[str] = mapped_column(String(500), default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    checkpoint: Mapped[Checkpoint | None] = relationship()
