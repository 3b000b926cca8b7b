"""爱心食堂 tables. Subsidy money lives in the core ledger (namespace ``meals``,
currency ``fen``); these rows say what was cooked, booked and served."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.ledger import BigId
from core.models import Organization, Timestamp, User, utcnow

SLOTS = ("breakfast", "lunch", "dinner")
SLOT_TITLES = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐"}


class Canteen(db.Model):
    """A love canteen (爱心食堂) run under an organization."""

    __tablename__ = "meals_canteen"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    org: Mapped[Organization] = relationship()


class Menu(db.Model):
    """One canteen's meal on a date and slot. ``booked`` counts live bookings and
    ``walk_ins`` servings without one; both are changed by conditional UPDATEs
    so that ``booked + walk_ins`` never passes ``capacity`` under any race."""

    __tablename__ = "meals_menu"
    __table_args__ = (
        UniqueConstraint("canteen_id", "day", "slot"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("booked >= 0 AND walk_ins >= 0", name="counts_not_negative"),
        CheckConstraint("booked + walk_ins <= capacity", name="within_capacity"),
        CheckConstraint("slot IN ('breakfast','lunch','dinner')", name="slot_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    canteen_id: Mapped[int] = mapped_column(ForeignKey("meals_canteen.id"))
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(10))
    dishes: Mapped[list] = mapped_column(JSON, default=list)
    price: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    walk_ins: Mapped[int] = mapped_column(Integer, default=0)
    book_by: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    canteen: Mapped[Canteen] = relationship()

    @property
    def places_left(self) -> int:
        return self.capacity - self.booked - self.walk_ins


class Booking(db.Model):
    """A place on a menu for a person: ``booked``, ``cancelled`` or ``served``.
    One row per menu and person; booking again after cancelling revives it."""

    __tablename__ = "meals_booking"
    __table_args__ = (
        UniqueConstraint("menu_id", "user_id"),
        CheckConstraint("status IN ('booked','cancelled','served')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    menu_id: Mapped[int] = mapped_column(ForeignKey("meals_menu.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="booked")
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    menu: Mapped[Menu] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Serving(db.Model):
    """A meal handed out at the counter, with what the subsidy was and who paid it.

    ``funded`` is false when the fund could not cover ``subsidy``: the whole
    subsidy is then owed to the canteen (``transfer_id`` empty). The unique
    (user, day, slot) makes "one meal per person per slot, in any canteen" a
    database guarantee."""

    __tablename__ = "meals_serving"
    __table_args__ = (
        UniqueConstraint("user_id", "day", "slot"),
        CheckConstraint("subsidy >= 0 AND subsidy <= price", name="subsidy_within_price"),
        CheckConstraint("to_pay = price - subsidy", name="to_pay_is_rest"),
        # The month's figures come from the index alone on PostgreSQL (settlement, org report).
        Index(
            "ix_meals_serving_canteen_day",
            "canteen_id",
            "day",
            postgresql_include=["price", "subsidy", "to_pay", "funded", "tier_min_age"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    canteen_id: Mapped[int] = mapped_column(ForeignKey("meals_canteen.id"))
    menu_id: Mapped[int] = mapped_column(ForeignKey("meals_menu.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("meals_booking.id"))
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(10))
    price: Mapped[int] = mapped_column(Integer)
    subsidy: Mapped[int] = mapped_column(Integer)
    to_pay: Mapped[int] = mapped_column(Integer)
    funded: Mapped[bool] = mapped_column(Boolean, default=True)
    tier_min_age: Mapped[int | None] = mapped_column(Integer)
    fund_org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    transfer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_transfer.id"), unique=True
    )
    served_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class SubsidyPolicy(db.Model):
    """An organization's meal subsidy: ``tiers`` [{min_age, subsidy}] and
    ``hardship_extra``, in fen. The nearest ancestor-or-self's policy is in force."""

    __tablename__ = "meals_subsidy_policy"

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    tiers: Mapped[list] = mapped_column(JSON, default=list)
    hardship_extra: Mapped[int] = mapped_column(Integer, default=0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Deposit(db.Model):
    """Money put into an organization's meals fund (餐补基金)."""

    __tablename__ = "meals_deposit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    transfer_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_transfer.id"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
