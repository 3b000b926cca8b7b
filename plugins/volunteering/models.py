"""Volunteering tables: activities, sign-ups, attendance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import Organization, Timestamp, User, utcnow

# Recorded service still waiting for its ``service_recorded`` answer.
UNANNOUNCED = "points_awarded IS NULL AND status IN ('completed', 'backfilled')"

CATEGORIES = ("清洁家园", "助老助残", "治安巡逻", "文明劝导", "政策宣传", "矛盾调解", "其他")


class Activity(db.Model):
    __tablename__ = "volunteering_activity"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("points >= 0 AND points_per_hour >= 0", name="points_not_negative"),
        Index("ix_volunteering_activity_org_start", "org_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    title: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20), default="其他")
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    signup_deadline: Mapped[datetime | None] = mapped_column(Timestamp)
    capacity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    points_per_hour: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # Cancelled by staff: kept (volunteers see it, with the reason), takes no sign-ups or scans.
    cancelled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")

    organization: Mapped[Organization] = relationship()


class Signup(db.Model):
    """One person's place on an activity. Cancelled rows stay (history);
    signing up again reuses the row and joins the end of the queue."""

    __tablename__ = "volunteering_signup"
    __table_args__ = (
        UniqueConstraint("activity_id", "user_id"),
        CheckConstraint("status IN ('confirmed','waitlisted','cancelled')", name="status_known"),
        Index("ix_volunteering_signup_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("volunteering_activity.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12))
    queued_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship()


class Attendance(db.Model):
    """Check-in and check-out of one person at one activity.

    ``status``: open (checked in), completed (both scans: verified hours
    信用时数), incomplete (no check-out in time), backfilled (entered by staff
    with a reason: honour hours 荣誉时数).
    """

    __tablename__ = "volunteering_attendance"
    __table_args__ = (
        UniqueConstraint("activity_id", "user_id"),
        CheckConstraint(
            "status IN ('open','completed','incomplete','backfilled')", name="status_known"
        ),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        Index("ix_volunteering_attendance_user", "user_id"),
        # Reports read only this index (no table rows): recorded service of the
        # month's activities, grouped or counted by person.
        Index(
            "ix_volunteering_attendance_report",
            "activity_id",
            "status",
            "user_id",
            "verified",
            "minutes",
        ),
        # The close-attendance job's two queues, small: check-ins still open,
        # and recorded service whose announcement has not been answered.
        Index(
            "ix_volunteering_attendance_open",
            "id",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "ix_volunteering_attendance_unannounced",
            "id",
            sqlite_where=text(UNANNOUNCED),
            postgresql_where=text(UNANNOUNCED),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("volunteering_activity.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")
    checked_in_at: Mapped[datetime | None] = mapped_column(Timestamp)
    checked_out_at: Mapped[datetime | None] = mapped_column(Timestamp)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    points_earned: Mapped[int] = mapped_column(Integer, default=0)
    points_awarded: Mapped[int | None] = mapped_column(Integer)
    checkin_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checkout_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
