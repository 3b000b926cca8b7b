"""meals tables

Revision ID: 0001_meals
Revises:
Create Date: 2026-12-01 23:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001_meals"
down_revision = None
branch_labels = ("meals",)
depends_on = "0007_people"


def upgrade():
    op.create_table('meals_canteen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meals_canteen_org_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meals_canteen'))
    )
    with op.batch_alter_table('meals_canteen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meals_canteen_org_id'), ['org_id'], unique=False)

    op.create_table('meals_subsidy_policy',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('hardship_extra', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meals_subsidy_policy_org_id_organization')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_meals_subsidy_policy_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_meals_subsidy_policy'))
    )
    op.create_table('meals_deposit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_meals_deposit_actor_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meals_deposit_org_id_organization')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfer.id'], name=op.f('fk_meals_deposit_transfer_id_ledger_transfer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meals_deposit')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_meals_deposit_transfer_id'))
    )
    with op.batch_alter_table('meals_deposit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meals_deposit_org_id'), ['org_id'], unique=False)

    op.create_table('meals_menu',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('canteen_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('slot', sa.String(length=10), nullable=False),
    sa.Column('dishes', sa.JSON(), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('walk_ins', sa.Integer(), nullable=False),
    sa.Column('book_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("slot IN ('breakfast','lunch','dinner')", name=op.f('ck_meals_menu_slot_known')),
    sa.CheckConstraint('booked + walk_ins <= capacity', name=op.f('ck_meals_menu_within_capacity')),
    sa.CheckConstraint('booked >= 0 AND walk_ins >= 0', name=op.f('ck_meals_menu_counts_not_negative')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_meals_menu_capacity_positive')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_meals_menu_price_not_negative')),
    sa.ForeignKeyConstraint(['canteen_id'], ['meals_canteen.id'], name=op.f('fk_meals_menu_canteen_id_meals_canteen')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meals_menu_org_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meals_menu')),
    sa.UniqueConstraint('canteen_id', 'day', 'slot', name=op.f('uq_meals_menu_canteen_id_day_slot'))
    )
    with op.batch_alter_table('meals_menu', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meals_menu_org_id'), ['org_id'], unique=False)

    op.create_table('meals_booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('menu_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('booked','cancelled','served')", name=op.f('ck_meals_booking_status_known')),
    sa.ForeignKeyConstraint(['booked_by_id'], ['user_account.id'], name=op.f('fk_meals_booking_booked_by_id_user_account')),
    sa.ForeignKeyConstraint(['menu_id'], ['meals_menu.id'], name=op.f('fk_meals_booking_menu_id_meals_menu')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meals_booking_org_id_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_meals_booking_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meals_booking')),
    sa.UniqueConstraint('menu_id', 'user_id', name=op.f('uq_meals_booking_menu_id_user_id'))
    )
    with op.batch_alter_table('meals_booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meals_booking_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meals_booking_user_id'), ['user_id'], unique=False)

    op.create_table('meals_serving',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('canteen_id', sa.Integer(), nullable=False),
    sa.Column('menu_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('slot', sa.String(length=10), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('subsidy', sa.Integer(), nullable=False),
    sa.Column('to_pay', sa.Integer(), nullable=False),
    sa.Column('funded', sa.Boolean(), nullable=False),
    sa.Column('tier_min_age', sa.Integer(), nullable=True),
    sa.Column('fund_org_id', sa.Integer(), nullable=True),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('served_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('subsidy >= 0 AND subsidy <= price', name=op.f('ck_meals_serving_subsidy_within_price')),
    sa.CheckConstraint('to_pay = price - subsidy', name=op.f('ck_meals_serving_to_pay_is_rest')),
    sa.ForeignKeyConstraint(['booking_id'], ['meals_booking.id'], name=op.f('fk_meals_serving_booking_id_meals_booking')),
    sa.ForeignKeyConstraint(['canteen_id'], ['meals_canteen.id'], name=op.f('fk_meals_serving_canteen_id_meals_canteen')),
    sa.ForeignKeyConstraint(['fund_org_id'], ['organization.id'], name=op.f('fk_meals_serving_fund_org_id_organization')),
    sa.ForeignKeyConstraint(['menu_id'], ['meals_menu.id'], name=op.f('fk_meals_serving_menu_id_meals_menu')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meals_serving_org_id_organization')),
    sa.ForeignKeyConstraint(['served_by_id'], ['user_account.id'], name=op.f('fk_meals_serving_served_by_id_user_account')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfer.id'], name=op.f('fk_meals_serving_transfer_id_ledger_transfer')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_meals_serving_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meals_serving')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_meals_serving_transfer_id')),
    sa.UniqueConstraint('user_id', 'day', 'slot', name=op.f('uq_meals_serving_user_id_day_slot'))
    )
    with op.batch_alter_table('meals_serving', schema=None) as batch_op:
        batch_op.create_index('ix_meals_serving_canteen_day', ['canteen_id', 'day'], unique=False)
        batch_op.create_index(batch_op.f('ix_meals_serving_menu_id'), ['menu_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meals_serving_org_id'), ['org_id'], unique=False)



def downgrade():
    with op.batch_alter_table('meals_serving', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meals_serving_org_id'))
        batch_op.drop_index(batch_op.f('ix_meals_serving_menu_id'))
        batch_op.drop_index('ix_meals_serving_canteen_day')

    op.drop_table('meals_serving')
    with op.batch_alter_table('meals_booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meals_booking_user_id'))
        batch_op.drop_index(batch_op.f('ix_meals_booking_org_id'))

    op.drop_table('meals_booking')
    with op.batch_alter_table('meals_menu', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meals_menu_org_id'))

    op.drop_table('meals_menu')
    with op.batch_alter_table('meals_deposit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meals_deposit_org_id'))

    op.drop_table('meals_deposit')
    op.drop_table('meals_subsidy_policy')
    with op.batch_alter_table('meals_canteen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meals_canteen_org_id'))

    op.drop_table('meals_canteen')
