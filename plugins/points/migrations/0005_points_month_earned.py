"""points: what each person earned per month, kept by the writes, so the
district 光荣榜 walks one month's ranking instead of summing every award (issue 15)

Revision ID: 0005_points_month_earned
Revises: 0004_points_report_indexes
Create Date: 2026-12-02 02:30:00

"""
from datetime import UTC, date

import sqlalchemy as sa
from alembic import op

from core.times import month_bounds

revision = "0005_points_month_earned"
down_revision = "0004_points_report_indexes"
branch_labels = None
depends_on = None

award = sa.table(
    "points_award",
    sa.column("user_id", sa.Integer),
    sa.column("amount", sa.Integer),
    sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("reversed_at", sa.DateTime(timezone=True)),
)
earned = sa.table(
    "points_month_earned",
    sa.column("month", sa.Date),
    sa.column("user_id", sa.Integer),
    sa.column("amount", sa.BigInteger),
)


def upgrade():
    op.create_table(
        "points_month_earned",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_points_month_earned_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("month", "user_id", name=op.f("pk_points_month_earned")),
    )
    op.create_index(
        "ix_points_month_earned_rank",
        "points_month_earned",
        ["month", sa.column("amount").desc(), "user_id"],
        unique=False,
    )
    _backfill()


def _backfill():
    """One grouped INSERT … SELECT per local month that has awards (the
    months follow the app's time zone, as the reports do)."""
    conn = op.get_bind()
    first, last = conn.execute(
        sa.select(sa.func.min(award.c.created_at), sa.func.max(award.c.created_at))
    ).one()
    if first is None:
        return
    month, final = _month_of(first), _month_of(last)
    # A UTC moment may fall in the next local month: start one early, end one late.
    month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    final = date(final.year + final.month // 12, final.month % 12 + 1, 1)
    while month <= final:
        start, end = month_bounds(month)
        conn.execute(
            sa.insert(earned).from_select(
                ["month", "user_id", "amount"],
                sa.select(sa.literal(month, sa.Date), award.c.user_id, sa.func.sum(award.c.amount))
                .where(
                    award.c.status == "paid",
                    award.c.reversed_at.is_(None),
                    award.c.created_at >= _utc(start, conn),
                    award.c.created_at < _utc(end, conn),
                )
                .group_by(award.c.user_id),
            )
        )
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_of(moment) -> date:
    if isinstance(moment, str):  # SQLite hands back its text: "YYYY-MM-DD HH:MM:SS"
        return date(int(moment[:4]), int(moment[5:7]), 1)
    return date(moment.year, moment.month, 1)


def _utc(moment, conn):
    """As the app's column type binds it: UTC, and naive on SQLite."""
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if conn.dialect.name == "sqlite" else moment


def downgrade():
    op.drop_index("ix_points_month_earned_rank", table_name="points_month_earned")
    op.drop_table("points_month_earned")
