"""points: the expiry setting moves to core's org_setting (data kept)

Revision ID: 0003_points_settings_to_core
Revises: 0002_points_award_reversed
Create Date: 2026-12-01 23:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0003_points_settings_to_core"
down_revision = "0002_points_award_reversed"
branch_labels = None
depends_on = "0003_org_setting"


def upgrade():
    # JSON of an integer is its digits; NULL means "never expire", stored as JSON null
    # (it overrides an ancestor's validity, so the row is kept).
    as_json = "CASE WHEN expiry_months IS NULL THEN 'null' ELSE CAST(expiry_months AS VARCHAR(12)) END"
    if op.get_bind().dialect.name == "postgresql":
        as_json = f"CAST({as_json} AS JSON)"
    op.execute(
        "INSERT INTO org_setting (org_id, plugin, name, value, updated_at) "
        f"SELECT org_id, 'points', 'expiry_months', {as_json}, CURRENT_TIMESTAMP "
        "FROM points_setting")
    op.drop_table("points_setting")


def downgrade():
    op.create_table(
        "points_setting",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("expiry_months", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"],
                                name=op.f("fk_points_setting_org_id_organization")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_points_setting")),
    )
    op.execute(
        "INSERT INTO points_setting (org_id, expiry_months) "
        "SELECT org_id, CAST(CAST(value AS VARCHAR(12)) AS INTEGER) FROM org_setting "
        "WHERE plugin = 'points' AND name = 'expiry_months' AND CAST(value AS VARCHAR(12)) <> 'null'")
    op.execute("DELETE FROM org_setting WHERE plugin = 'points'")
