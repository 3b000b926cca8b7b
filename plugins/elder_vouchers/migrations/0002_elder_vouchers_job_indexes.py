"""elder_vouchers: indexes for the jobs and the settlement

Revision ID: 0002_elder_vouchers
Revises: 0001_elder_vouchers
Create Date: 2026-12-02 01:20:00

- issuances by (programme, person, month): expiry finds a wallet's issuances
  oldest first and asks whether any has expired, one probe per wallet (the
  unique key starts with the month, so it cannot serve that);
- the settlement sums a month of visits per provider: status, amount and
  claim carried in the (provider, finished_at) index (PostgreSQL INCLUDE), so
  it needs no visit to the table rows. SQLite keeps the plain index.
"""

from alembic import op

revision = "0002_elder_vouchers"
down_revision = "0001_elder_vouchers"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("elder_vouchers_issuance", schema=None) as batch_op:
        batch_op.create_index(
            "ix_elder_vouchers_issuance_person", ["programme_id", "user_id", "month"]
        )
    with op.batch_alter_table("elder_vouchers_visit", schema=None) as batch_op:
        batch_op.drop_index("ix_elder_vouchers_visit_provider_finished")
        batch_op.create_index(
            "ix_elder_vouchers_visit_provider_finished",
            ["provider_id", "finished_at"],
            postgresql_include=["status", "amount", "claim_id"],
        )


def downgrade():
    with op.batch_alter_table("elder_vouchers_visit", schema=None) as batch_op:
        batch_op.drop_index("ix_elder_vouchers_visit_provider_finished")
        batch_op.create_index(
            "ix_elder_vouchers_visit_provider_finished", ["provider_id", "finished_at"]
        )
    with op.batch_alter_table("elder_vouchers_issuance", schema=None) as batch_op:
        batch_op.drop_index("ix_elder_vouchers_issuance_person")
