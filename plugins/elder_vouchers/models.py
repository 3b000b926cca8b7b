"""居家养老服务券 tables. Balances live in the core ledger (namespace
``vouchers:<programme_id>``, currency ``fen``); these rows say why fen moved."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ledger import BigId
from core.models import Timestamp, utcnow

EXPIRIES = ("month_end", "year_end")
VISIT_STATUSES = ("open", "finished", "cancelled", "disputed", "refunded")
CLAIM_STATUSES = ("submitted", "approved", "rejected")


class Programme(db.Model):
    """A voucher programme (服务券项目) of an organization, covering its subtree."""

    __tablename__ = "elder_vouchers_programme"
    __table_args__ = (
        CheckConstraint("monthly_amount > 0", name="amount_positive"),
        CheckConstraint("expiry IN ('month_end','year_end')", name="expiry_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    monthly_amount: Mapped[int] = mapped_column(Integer)
    min_age: Mapped[int] = mapped_column(Integer, default=0)
    hardship_only: Mapped[bool] = mapped_column(Boolean, default=False)
    expiry: Mapped[str] = mapped_column(String(20), default="month_end")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Enrolment(db.Model):
    """A person enrolled in a programme; ``active`` false after removal (kept for history)."""

    __tablename__ = "elder_vouchers_enrolment"
    __table_args__ = (UniqueConstraint("programme_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_programme.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Issuance(db.Model):
    """One month's vouchers for one person (发放): at most one per person-month;
    ``expires_at`` is when what is left of them lapses back to the budget."""

    __tablename__ = "elder_vouchers_issuance"
    __table_args__ = (
        UniqueConstraint("programme_id", "month", "user_id"),
        Index("ix_elder_vouchers_issuance_expiry", "expires_at"),
        # A person's issuances oldest first (expiry, one probe per wallet).
        Index("ix_elder_vouchers_issuance_person", "programme_id", "user_id", "month"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_programme.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Provider(db.Model):
    """A home-care provider (服务商) approved in an organization's subtree."""

    __tablename__ = "elder_vouchers_provider"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Service(db.Model):
    """A priced service item (服务项目) of a provider."""

    __tablename__ = "elder_vouchers_service"
    __table_args__ = (CheckConstraint("price > 0", name="price_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_provider.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[int] = mapped_column(Integer)


class Worker(db.Model):
    """A provider's worker (the person at the elder's door)."""

    __tablename__ = "elder_vouchers_worker"
    __table_args__ = (UniqueConstraint("provider_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_provider.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Claim(db.Model):
    """A provider's monthly claim (结算申报), signed off level by level."""

    __tablename__ = "elder_vouchers_claim"
    __table_args__ = (
        CheckConstraint("status IN ('submitted','approved','rejected')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_provider.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    visits: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Approval(db.Model):
    """One level's sign-off of a claim; one per level (the unique key)."""

    __tablename__ = "elder_vouchers_approval"
    __table_args__ = (UniqueConstraint("claim_id", "org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_claim.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    level: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Visit(db.Model):
    """A verified home visit: who (worker), whom (person), what (service),
    where (the person's organization), start and end. The price is held on
    the person's vouchers while it is ``open`` (``hold_id``); finishing
    posts the hold (``spend_id``, the posted row an upheld dispute reverses)."""

    __tablename__ = "elder_vouchers_visit"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open','finished','cancelled','disputed','refunded')", name="status_known"
        ),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        # One open visit per worker, guaranteed by the database under any race.
        Index(
            "ix_elder_vouchers_visit_one_open",
            "worker_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # The settlement's month per provider from the index alone on PostgreSQL.
        Index(
            "ix_elder_vouchers_visit_provider_finished",
            "provider_id",
            "finished_at",
            postgresql_include=["status", "amount", "claim_id"],
        ),
        Index("ix_elder_vouchers_visit_person", "person_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_provider.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_programme.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("elder_vouchers_service.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    place_org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="open")
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    minutes: Mapped[int | None] = mapped_column(Integer)
    hold_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transfer.id"))
    spend_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transfer.id"))
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(200), default="")
    dispute_reason: Mapped[str] = mapped_column(String(200), default="")
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("elder_vouchers_claim.id"), index=True)
