"""casework tables

Revision ID: 0001_casework
Revises:
Create Date: 2026-12-01 23:21:51

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001_casework"
down_revision = None
branch_labels = ("casework",)
depends_on = "0008_join_requests"


def upgrade():
    op.create_table(
        "casework_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("handler_org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("overdue_climbs", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("rating_comment", sa.String(length=500), nullable=True),
        sa.CheckConstraint("status IN ('open','accepted','resolved','closed')",
                           name=op.f("ck_casework_case_status_known")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_casework_case_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["handler_org_id"], ["organization.id"],
                                name=op.f("fk_casework_case_handler_org_id_organization")),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"],
                                name=op.f("fk_casework_case_org_id_organization")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_casework_case_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casework_case")),
    )
    with op.batch_alter_table("casework_case", schema=None) as batch_op:
        batch_op.create_index("ix_casework_case_live_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_casework_case_created_at"), ["created_at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_casework_case_handler_org_id"), ["handler_org_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_casework_case_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_casework_case_user_id"), ["user_id"], unique=False)

    op.create_table(
        "casework_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["casework_case.id"],
                                name=op.f("fk_casework_event_case_id_casework_case")),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"],
                                name=op.f("fk_casework_event_org_id_organization")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_casework_event_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casework_event")),
    )
    with op.batch_alter_table("casework_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_casework_event_case_id"), ["case_id"], unique=False)


def downgrade():
    op.drop_table("casework_event")
    op.drop_table("casework_case")
