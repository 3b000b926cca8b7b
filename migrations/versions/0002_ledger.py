"""ledger tables

Revision ID: 0002_ledger
Revises: 0001_core
Create Date: 2026-12-01 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_ledger'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_type', sa.String(length=40), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.BigInteger(), nullable=False),
    sa.Column('allow_negative', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('allow_negative OR balance - held >= 0', name=op.f('ck_ledger_account_not_overdrawn')),
    sa.CheckConstraint('held >= 0', name=op.f('ck_ledger_account_held_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_account')),
    sa.UniqueConstraint('owner_type', 'owner_id', 'currency', 'kind', name=op.f('uq_ledger_account_owner_type_owner_id_currency_kind'))
    )
    op.create_table('ledger_transfer',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debit_account_id', sa.Integer(), nullable=False),
    sa.Column('credit_account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('cause_type', sa.String(length=40), nullable=True),
    sa.Column('cause_id', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_ledger_transfer_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_ledger_transfer_two_accounts')),
    sa.CheckConstraint("status IN ('pending','posted','voided')", name=op.f('ck_ledger_transfer_status_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_ledger_transfer_actor_id_user_account')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_account.id'], name=op.f('fk_ledger_transfer_credit_account_id_ledger_account')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['ledger_account.id'], name=op.f('fk_ledger_transfer_debit_account_id_ledger_account')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_transfer.id'], name=op.f('fk_ledger_transfer_reverses_id_ledger_transfer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transfer')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_transfer_idempotency_key'))
    )
    with op.batch_alter_table('ledger_transfer', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_transfer_cause', ['cause_type', 'cause_id'], unique=False)
        batch_op.create_index('ix_ledger_transfer_credit', ['credit_account_id', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfer_debit', ['debit_account_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('ledger_transfer', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transfer_debit')
        batch_op.drop_index('ix_ledger_transfer_credit')
        batch_op.drop_index('ix_ledger_transfer_cause')
    op.drop_table('ledger_transfer')
    op.drop_table('ledger_account')
