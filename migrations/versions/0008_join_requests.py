"""join requests: a person asks to become a resident; staff approve

Revision ID: 0008_join_requests
Revises: 0007_people (re-point to 0007_people when that lands)
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0008_join_requests"
down_revision = "0007_people"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "join_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('pending','approved','rejected')",
                           name=op.f("ck_join_request_status_known")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"],
                                name=op.f("fk_join_request_decided_by_id_user_account")),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"],
                                name=op.f("fk_join_request_org_id_organization")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_join_request_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_request")),
    )
    with op.batch_alter_table("join_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_join_request_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_join_request_user_id"), ["user_id"], unique=False)
        batch_op.create_index("uq_join_request_pending", ["user_id", "org_id"], unique=True,
                              sqlite_where=sa.text("status = 'pending'"),
                              postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    with op.batch_alter_table("join_request", schema=None) as batch_op:
        batch_op.drop_index("uq_join_request_pending")
        batch_op.drop_index(batch_op.f("ix_join_request_user_id"))
        batch_op.drop_index(batch_op.f("ix_join_request_org_id"))
    op.drop_table("join_request")
