"""群众诉求 tables, each named casework_<thing>.

A case is raised at an organization (``org_id``, its origin: what enablement and
ownership follow) and handled by ``handler_org_id``, which climbs the tree.
Its timeline (``casework_event``) is append-only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from core.extensions import db
from core.models import Timestamp, utcnow

CATEGORIES = {
    "environment": "环境卫生",
    "facilities": "设施维修",
    "safety": "治安安全",
    "dispute": "邻里纠纷",
    "elderly": "养老助老",
    "other": "其他",
}
STATUSES = {"open": "待受理", "accepted": "已受理", "resolved": "已办结", "closed": "已关闭"}
ACTIONS = {
    "raised": "提出诉求",
    "accepted": "受理",
    "escalated": "上报上级",
    "resolved": "办结",
    "rated": "评价",
    "reopened": "重新办理",
}
LIVE = ("open", "accepted")  # statuses a handler still owes work on
_LIVE = text("status IN ('open','accepted')")


class Case(db.Model):
    __tablename__ = "casework_case"
    __table_args__ = (
        CheckConstraint("status IN ('open','accepted','resolved','closed')", name="status_known"),
        Index("ix_casework_case_live_due", "status", "due_at"),
        # The escalation job walks live cases by id; statistics read a subtree's dates.
        Index(
            "ix_casework_case_live_id", "id", "due_at", sqlite_where=_LIVE, postgresql_where=_LIVE
        ),
        Index("ix_casework_case_org_created", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)  # origin
    handler_org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)  # the resident
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(1000))
    location: Mapped[str | None] = mapped_column(String(100))
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    photo_type: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(Timestamp)  # first 受理
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)  # latest 办结
    resolution: Mapped[str | None] = mapped_column(String(500))
    # On time: resolved before its due time, never climbed by the timer.
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    overdue_climbs: Mapped[int] = mapped_column(Integer, default=0)
    rated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)  # the latest rating
    rating_comment: Mapped[str | None] = mapped_column(String(500))


class Event(db.Model):
    """One step on a case's timeline."""

    __tablename__ = "casework_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("casework_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    action: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))  # the handler after the step
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # None: the timer
    note: Mapped[str | None] = mapped_column(String(500))
