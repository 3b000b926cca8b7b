"""membership: plugin roles (``<plugin>.<name>``) beside the core role

One person may hold several roles at one organization (a resident who is
also a patrol leader): unique per (user, org, role) instead of (user, org);
the role check admits core roles or a ``plugin.name`` pattern.

Revision ID: 0004_plugin_roles
Revises: 0003_org_setting
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_plugin_roles'
down_revision = '0003_org_setting'
branch_labels = None
depends_on = None


def upgrade():
    # batch mode: SQLite rebuilds the table; PostgreSQL alters it in place
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_membership_user_id_org_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('ck_membership_role_known'), type_='check')
        batch_op.alter_column('role', existing_type=sa.String(length=20),
                              type_=sa.String(length=64), existing_nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_membership_user_id_org_id_role'),
                                          ['user_id', 'org_id', 'role'])
        batch_op.create_check_constraint(
            batch_op.f('ck_membership_role_known'),
            "role IN ('resident','staff','admin') OR role LIKE '_%._%'")


def downgrade():
    # plugin roles and second roles cannot survive the old constraints
    op.execute("DELETE FROM membership WHERE role NOT IN ('resident','staff','admin')")
    op.execute("DELETE FROM membership WHERE id NOT IN "
               "(SELECT MIN(id) FROM membership GROUP BY user_id, org_id)")
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_membership_user_id_org_id_role'), type_='unique')
        batch_op.drop_constraint(batch_op.f('ck_membership_role_known'), type_='check')
        batch_op.alter_column('role', existing_type=sa.String(length=64),
                              type_=sa.String(length=20), existing_nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_membership_user_id_org_id'),
                                          ['user_id', 'org_id'])
        batch_op.create_check_constraint(
            batch_op.f('ck_membership_role_known'), "role IN ('resident','staff','admin')")
