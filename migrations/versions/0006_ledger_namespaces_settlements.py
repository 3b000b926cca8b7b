"""ledger: account namespaces; holds end with a settlement row (insert-only transfers)

Revision ID: 0006_ledger_namespaces
Revises: 0005_sessions_and_resets
Create Date: 2026-12-02 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0006_ledger_namespaces"
down_revision = "0005_sessions_and_resets"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_UNIQUE = "uq_ledger_account_owner_type_owner_id_currency_kind"
NEW_UNIQUE = "uq_ledger_account_namespace_owner_type_owner_id_currency_kind"
KEY = ["owner_type", "owner_id", "currency", "kind"]
COPIED = ("debit_account_id, credit_account_id, amount, currency, reason, cause_type, "
          "cause_id")


def upgrade():
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("namespace", sa.String(length=40), nullable=True))
    # Until now only the points plugin kept accounts.
    op.execute("UPDATE ledger_account SET namespace = 'points'")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.alter_column("namespace", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_constraint(OLD_UNIQUE, type_="unique")
        batch_op.create_unique_constraint(NEW_UNIQUE, ["namespace", *KEY])

    with op.batch_alter_table("ledger_transfer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_id", BigId, nullable=True))
    # A hold settled in place (status posted/voided, settled_at) becomes its pending row
    # plus a settlement row pointing at it, dated when it was settled (who is unknown).
    op.execute(
        f"INSERT INTO ledger_transfer ({COPIED}, status, pending_id, created_at) "
        f"SELECT {COPIED}, status, id, settled_at FROM ledger_transfer "
        "WHERE settled_at IS NOT NULL AND status IN ('posted', 'voided') ORDER BY id")
    op.execute("UPDATE ledger_transfer SET status = 'pending' WHERE settled_at IS NOT NULL")
    with op.batch_alter_table("ledger_transfer", schema=None) as batch_op:
        batch_op.drop_column("settled_at")
        batch_op.create_foreign_key(op.f("fk_ledger_transfer_pending_id_ledger_transfer"),
                                    "ledger_transfer", ["pending_id"], ["id"])
        batch_op.create_check_constraint(
            op.f("ck_ledger_transfer_settlement_shape"),
            "(pending_id IS NULL AND status <> 'voided') OR "
            "(pending_id IS NOT NULL AND status <> 'pending')")
        for name, column in (("ix_ledger_transfer_pending", "pending_id"),
                             ("ix_ledger_transfer_reverses", "reverses_id")):
            where = sa.text(f"{column} IS NOT NULL")
            batch_op.create_index(name, [column], unique=True, sqlite_where=where,
                                  postgresql_where=where)


def downgrade():
    with op.batch_alter_table("ledger_transfer", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transfer_reverses")
        batch_op.drop_index("ix_ledger_transfer_pending")
        batch_op.drop_constraint(op.f("ck_ledger_transfer_settlement_shape"), type_="check")
        batch_op.drop_constraint(op.f("fk_ledger_transfer_pending_id_ledger_transfer"),
                                 type_="foreignkey")
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE ledger_transfer SET "
        "status = (SELECT s.status FROM ledger_transfer s WHERE s.pending_id = ledger_transfer.id), "
        "settled_at = (SELECT s.created_at FROM ledger_transfer s "
        "WHERE s.pending_id = ledger_transfer.id) "
        "WHERE id IN (SELECT pending_id FROM ledger_transfer WHERE pending_id IS NOT NULL)")
    op.execute("DELETE FROM ledger_transfer WHERE pending_id IS NOT NULL")
    with op.batch_alter_table("ledger_transfer", schema=None) as batch_op:
        batch_op.drop_column("pending_id")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_constraint(NEW_UNIQUE, type_="unique")
        batch_op.create_unique_constraint(OLD_UNIQUE, KEY)
        batch_op.drop_column("namespace")
