"""patrol: indexes for the close-shifts job at district scale

Revision ID: 0002_patrol_job_indexes
Revises: 0001_patrol
Create Date: 2026-12-02 01:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0002_patrol_job_indexes"
down_revision = "0001_patrol"
branch_labels = None
depends_on = None

SCHEDULED = sa.text("status = 'scheduled'")
PENDING = sa.text("points_awarded IS NULL")


def upgrade():
    # The job walks scheduled shifts and unannounced members by id (keyset);
    # closed shifts and announced members, the bulk, are not in these.
    with op.batch_alter_table("patrol_shift", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patrol_shift_scheduled_id", ["id", "closes_at"], unique=False,
            sqlite_where=SCHEDULED, postgresql_where=SCHEDULED,
        )
    with op.batch_alter_table("patrol_member", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patrol_member_pending", ["id", "shift_id"], unique=False,
            sqlite_where=PENDING, postgresql_where=PENDING,
        )


def downgrade():
    with op.batch_alter_table("patrol_member", schema=None) as batch_op:
        batch_op.drop_index("ix_patrol_member_pending", sqlite_where=PENDING,
                            postgresql_where=PENDING)
    with op.batch_alter_table("patrol_shift", schema=None) as batch_op:
        batch_op.drop_index("ix_patrol_shift_scheduled_id", sqlite_where=SCHEDULED,
                            postgresql_where=SCHEDULED)
