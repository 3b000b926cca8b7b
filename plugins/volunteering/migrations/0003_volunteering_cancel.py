"""volunteering: staff may cancel an activity (when, and why)

Revision ID: 0003_volunteering_cancel
Revises: 0002_volunteering_settings
Create Date: 2026-12-01 23:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0003_volunteering_cancel"
down_revision = "0002_volunteering_settings"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("volunteering_activity") as batch:
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=200), nullable=False,
                                   server_default=""))


def downgrade():
    with op.batch_alter_table("volunteering_activity") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("cancelled_at")
