"""points: partial indexes for the reports, 光荣榜 and the expiry job; the
outstanding snapshot of large subtrees (issue 15)

Revision ID: 0004_points_report_indexes
Revises: 0003_points_settings_to_core
Create Date: 2026-12-02 01:35:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0004_points_report_indexes"
down_revision = "0003_points_settings_to_core"
branch_labels = None
depends_on = None

LIVE = "status = 'paid' AND reversed_at IS NULL"
UNFUNDED = "status = 'unfunded'"


def upgrade():
    op.create_table(
        "points_outstanding",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_points_outstanding_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_points_outstanding")),
    )
    with op.batch_alter_table("points_award", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_award_live_user",
            ["user_id", "created_at", "amount", "expires_at"],
            unique=False,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "ix_points_award_live_month",
            ["created_at", "org_id", "user_id", "amount"],
            unique=False,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "ix_points_award_live_org",
            ["org_id", "created_at", "amount"],
            unique=False,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "ix_points_award_unfunded",
            ["org_id", "created_at"],
            unique=False,
            sqlite_where=sa.text(UNFUNDED),
            postgresql_where=sa.text(UNFUNDED),
        )


def downgrade():
    with op.batch_alter_table("points_award", schema=None) as batch_op:
        batch_op.drop_index("ix_points_award_unfunded")
        batch_op.drop_index("ix_points_award_live_org")
        batch_op.drop_index("ix_points_award_live_month")
        batch_op.drop_index("ix_points_award_live_user")
    op.drop_table("points_outstanding")
