"""meals: the month's settlement figures from the (canteen, day) index alone

Revision ID: 0002_meals
Revises: 0001_meals
Create Date: 2026-12-02 01:15:00

The settlement and the district report sum price, subsidy, to_pay, funded and
tier_min_age over a month of servings per canteen; carried in the index
(PostgreSQL INCLUDE), they need no visit to the table rows. SQLite keeps the
plain index (it has no INCLUDE), as before.
"""

from alembic import op

revision = "0002_meals"
down_revision = "0001_meals"
branch_labels = None
depends_on = None

FIGURES = ["price", "subsidy", "to_pay", "funded", "tier_min_age"]


def upgrade():
    with op.batch_alter_table("meals_serving", schema=None) as batch_op:
        batch_op.drop_index("ix_meals_serving_canteen_day")
        batch_op.create_index(
            "ix_meals_serving_canteen_day", ["canteen_id", "day"], postgresql_include=FIGURES
        )


def downgrade():
    with op.batch_alter_table("meals_serving", schema=None) as batch_op:
        batch_op.drop_index("ix_meals_serving_canteen_day")
        batch_op.create_index("ix_meals_serving_canteen_day", ["canteen_id", "day"])
