"""volunteering: its setting moves to core's org_setting (data kept)

Revision ID: 0002_volunteering_settings
Revises: 0001_volunteering
Create Date: 2026-12-01 22:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0002_volunteering_settings"
down_revision = "0001_volunteering"
branch_labels = None
depends_on = "0003_org_setting"


def upgrade():
    as_json = "CASE WHEN honour_hours_earn_points THEN 'true' ELSE 'false' END"
    if op.get_bind().dialect.name == "postgresql":
        as_json = f"CAST({as_json} AS JSON)"
    op.execute(
        "INSERT INTO org_setting (org_id, plugin, name, value, updated_at) "
        f"SELECT org_id, 'volunteering', 'honour_hours_earn_points', {as_json}, "
        "CURRENT_TIMESTAMP FROM volunteering_org_setting")
    op.drop_table("volunteering_org_setting")


def downgrade():
    op.create_table(
        "volunteering_org_setting",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("honour_hours_earn_points", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"],
                                name=op.f("fk_volunteering_org_setting_org_id_organization")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_volunteering_org_setting")),
    )
    op.execute(
        "INSERT INTO volunteering_org_setting (org_id, honour_hours_earn_points) "
        "SELECT org_id, CAST(value AS VARCHAR(8)) = 'true' FROM org_setting "
        "WHERE plugin = 'volunteering' AND name = 'honour_hours_earn_points'")
    op.execute("DELETE FROM org_setting WHERE plugin = 'volunteering'")
