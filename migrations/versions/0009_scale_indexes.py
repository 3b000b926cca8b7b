"""scale indexes: subtree prefix matches and a cause's transfers by time

Revision ID: 0009_scale_indexes
Revises: 0008_join_requests
Create Date: 2026-12-02 02:00:00

The organization path index gets varchar_pattern_ops on PostgreSQL so that
``path LIKE '/1/4/%'`` (every subtree query) is an index range instead of a scan
of every organization; SQLite's index is unchanged. The ledger's cause index
gains ``created_at`` so a month's transfers of one cause under a subtree are one
range.
"""
from alembic import op

revision = "0009_scale_indexes"
down_revision = "0008_join_requests"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_organization_path", table_name="organization")
        op.create_index(
            "ix_organization_path",
            "organization",
            ["path"],
            postgresql_ops={"path": "varchar_pattern_ops"},
        )
    op.drop_index("ix_ledger_transfer_cause", table_name="ledger_transfer")
    op.create_index(
        "ix_ledger_transfer_cause", "ledger_transfer", ["cause_type", "cause_id", "created_at"]
    )


def downgrade():
    op.drop_index("ix_ledger_transfer_cause", table_name="ledger_transfer")
    op.create_index("ix_ledger_transfer_cause", "ledger_transfer", ["cause_type", "cause_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_organization_path", table_name="organization")
        op.create_index("ix_organization_path", "organization", ["path"])
