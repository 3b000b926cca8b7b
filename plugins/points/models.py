"""金豆 tables. Balances live in the core ledger; these rows say why beans moved."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.ledger import BigId
from core.models import Organization, Timestamp, User, utcnow


class Deposit(db.Model):
    """A donation into an organization's fund (金豆基金)."""

    __tablename__ = "points_deposit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    donor: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    transfer_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_transfer.id"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


LIVE = "status = 'paid' AND reversed_at IS NULL"  # an award that counts


class Award(db.Model):
    """Beans given to a person, by hand (``manual``) or for service (``service``).

    ``transfer_id`` is empty while the award is ``unfunded``: the fund could
    not cover it when the service was recorded (or it was above what one
    award may pay); staff pay it later. ``reversed_at`` marks a paid award
    undone by a reversing transfer.
    """

    __tablename__ = "points_award"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('paid','unfunded')", name="status_known"),
        Index("ix_points_award_org_created", "org_id", "created_at"),
        # Partial indexes over the awards that count (paid, not reversed), wide
        # enough that the reports read them without touching the table:
        # a person's month (光荣榜, wallet) and the expiry job's per-person scan,
        Index(
            "ix_points_award_live_user",
            "user_id",
            "created_at",
            "amount",
            "expires_at",
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
        # a month everywhere (district 光荣榜 and report: issued per organization),
        Index(
            "ix_points_award_live_month",
            "created_at",
            "org_id",
            "user_id",
            "amount",
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
        # a month in a few organizations (a community's report: issued),
        Index(
            "ix_points_award_live_org",
            "org_id",
            "created_at",
            "amount",
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
        # and the few unfunded ones (金豆管理, report).
        Index(
            "ix_points_award_unfunded",
            "org_id",
            "created_at",
            postgresql_where=text("status = 'unfunded'"),
            sqlite_where=text("status = 'unfunded'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    fund_org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="manual")
    status: Mapped[str] = mapped_column(String(20), default="paid")
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    transfer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_transfer.id"), unique=True
    )
    activity_id: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Set when a reversing transfer undid the award: it no longer counts
    # (光荣榜, report, expiry). The ledger keeps both transfers.
    reversed_at: Mapped[datetime | None] = mapped_column(Timestamp)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    org: Mapped[Organization] = relationship(foreign_keys=[org_id])


class Reward(db.Model):
    """Something in an organization's catalog that beans buy."""

    __tablename__ = "points_reward"
    __table_args__ = (
        CheckConstraint("cost > 0", name="cost_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)  # still available (held ones excluded)
    per_person_limit: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ends_at: Mapped[datetime | None] = mapped_column(Timestamp)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    org: Mapped[Organization] = relationship()


REDEMPTION_STATUSES = ("pending", "approved", "rejected", "cancelled", "fulfilled")


def N_(text: str) -> str:
    """Marks a word for the translation catalog; pages translate it when shown."""
    return text


STATUS_TITLES = {
    "pending": N_("待审核"),
    "approved": N_("待领取"),
    "rejected": N_("已拒绝"),
    "cancelled": N_("已取消"),
    "fulfilled": N_("已领取"),
}


class Redemption(db.Model):
    """A request to swap beans for a reward: pending → approved → fulfilled,
    or rejected / cancelled (beans and stock come back)."""

    __tablename__ = "points_redemption"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "status IN ('pending','approved','rejected','cancelled','fulfilled')",
            name="status_known",
        ),
        Index("ix_points_redemption_org_status", "org_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("points_reward.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    code: Mapped[str] = mapped_column(String(12), unique=True)  # short pickup code
    request_key: Mapped[str] = mapped_column(String(200), unique=True)
    transfer_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_transfer.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    fulfilled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    fulfilled_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    reward: Mapped[Reward] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def status_title(self) -> str:
        return STATUS_TITLES[self.status]


class Outstanding(db.Model):
    """成员持有 of a large subtree (district, sub-district) as of a moment.

    Summing a million wallets takes too long for a report page, so the daily
    job (``jindou points expire``) rebuilds these rows; the report shows the
    figure with its ``as_of``. Smaller subtrees are summed live.
    """

    __tablename__ = "points_outstanding"

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[datetime] = mapped_column(Timestamp)


class MonthEarned(db.Model):
    """What a person earned in a local month (the ``_earned`` sum), kept current.

    The 光荣榜 of a district would otherwise sum a month of awards of a million
    people per page view. Every write that changes what counts (an award paid,
    paid late, reversed) adds to its row in the same transaction; the daily job
    and the migration rebuild a month from the awards (``rebuild_month_earned``).
    A row may fall to 0 after a reversal: the board skips those.
    """

    __tablename__ = "points_month_earned"
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day, local
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


# The district board walks a month from the top until 20 people of the subtree.
Index(
    "ix_points_month_earned_rank",
    MonthEarned.month,
    MonthEarned.amount.desc(),
    MonthEarned.user_id,
)
