"""points: an award remembers when it was reversed

Revision ID: 0002_points_award_reversed
Revises: 0001_points
Create Date: 2026-12-01 14:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0002_points_award_reversed"
down_revision = "0001_points"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("points_award", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
    # Awards reversed before this column existed.
    op.execute(
        "UPDATE points_award SET reversed_at = (SELECT r.created_at FROM ledger_transfer r "
        "WHERE r.reverses_id = points_award.transfer_id) WHERE transfer_id IN "
        "(SELECT reverses_id FROM ledger_transfer WHERE reverses_id IS NOT NULL)")


def downgrade():
    with op.batch_alter_table("points_award", schema=None) as batch_op:
        batch_op.drop_column("reversed_at")
