"""casework: indexes for the escalation job and the statistics at district scale

Revision ID: 0002_casework_scale_indexes
Revises: 0001_casework
Create Date: 2026-12-02 01:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0002_casework_scale_indexes"
down_revision = "0001_casework"
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('open','accepted')")


def upgrade():
    with op.batch_alter_table("casework_case", schema=None) as batch_op:
        # The job walks live cases by id (keyset); closed ones, the bulk, are not in it.
        batch_op.create_index(
            "ix_casework_case_live_id", ["id", "due_at"], unique=False,
            sqlite_where=LIVE, postgresql_where=LIVE,
        )
        # Statistics: cases raised in a subtree's organizations within a date range.
        batch_op.create_index(
            "ix_casework_case_org_created", ["org_id", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("casework_case", schema=None) as batch_op:
        batch_op.drop_index("ix_casework_case_org_created")
        batch_op.drop_index("ix_casework_case_live_id", sqlite_where=LIVE, postgresql_where=LIVE)
