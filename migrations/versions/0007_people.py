"""people without smartphones: optional phone and password, resident profile, cards, relatives

Revision ID: 0007_people
Revises: 0006_ledger_namespaces
Create Date: 2026-12-03 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0007_people"
down_revision = "0006_ledger_namespaces"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("phone", existing_type=sa.String(length=11), nullable=True)
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255),
                              nullable=True)
        batch_op.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("hardship", sa.Boolean(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("hardship_reason", sa.String(length=20), nullable=True))

    op.create_table(
        "person_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("short_code", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_person_card_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_person_card_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_card")),
    )
    with op.batch_alter_table("person_card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_card_short_code"), ["short_code"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_person_card_user_id"), ["user_id"], unique=False)

    op.create_table(
        "person_relative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("relative_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_person_relative_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["person_id"], ["user_account.id"],
                                name=op.f("fk_person_relative_person_id_user_account")),
        sa.ForeignKeyConstraint(["relative_id"], ["user_account.id"],
                                name=op.f("fk_person_relative_relative_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_relative")),
        sa.UniqueConstraint("person_id", "relative_id",
                            name=op.f("uq_person_relative_person_id_relative_id")),
    )
    with op.batch_alter_table("person_relative", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_relative_person_id"), ["person_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_person_relative_relative_id"), ["relative_id"],
                              unique=False)


def downgrade():
    op.drop_table("person_relative")
    op.drop_table("person_card")
    # Refuses (NOT NULL) while people registered without a phone or password remain.
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("hardship_reason")
        batch_op.drop_column("hardship")
        batch_op.drop_column("birth_date")
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255),
                              nullable=False)
        batch_op.alter_column("phone", existing_type=sa.String(length=11), nullable=False)
