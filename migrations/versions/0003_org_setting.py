"""org_setting: plugins' per-organization settings, stored by core

Revision ID: 0003_org_setting
Revises: 0002_ledger
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_org_setting'
down_revision = '0002_ledger'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('org_setting',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_org_setting_org_id_organization')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_org_setting_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('org_id', 'plugin', 'name', name=op.f('pk_org_setting'))
    )


def downgrade():
    op.drop_table('org_setting')
