"""volunteering: indexes for the reports (read from the index alone) and for
the close-attendance job's queues (open check-ins, unanswered announcements)

Revision ID: 0004_volunteering_report_indexes
Revises: 0003_volunteering_cancel
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0004_volunteering_report_indexes"
down_revision = "0003_volunteering_cancel"
branch_labels = None
depends_on = None

OPEN = "status = 'open'"
UNANNOUNCED = "points_awarded IS NULL AND status IN ('completed', 'backfilled')"


def upgrade():
    with op.batch_alter_table("volunteering_attendance") as batch:
        batch.create_index(
            "ix_volunteering_attendance_report",
            ["activity_id", "status", "user_id", "verified", "minutes"],
            unique=False,
        )
        batch.create_index(
            "ix_volunteering_attendance_open",
            ["id"],
            unique=False,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch.create_index(
            "ix_volunteering_attendance_unannounced",
            ["id"],
            unique=False,
            sqlite_where=sa.text(UNANNOUNCED),
            postgresql_where=sa.text(UNANNOUNCED),
        )


def downgrade():
    with op.batch_alter_table("volunteering_attendance") as batch:
        batch.drop_index("ix_volunteering_attendance_unannounced")
        batch.drop_index("ix_volunteering_attendance_open")
        batch.drop_index("ix_volunteering_attendance_report")
