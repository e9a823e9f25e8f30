"""History index, references and idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("reference", sa.String(255), nullable=True))
    # History is read newest first per wallet, by time: one index serves pages, time windows
    # and balance-at-time lookups.
    op.create_index(
        "ix_wallet_operations_wallet_id_created_at_id",
        "wallet_operations",
        ["wallet_id", "created_at", "id"],
    )
    op.drop_index("ix_wallet_operations_wallet_id_id", table_name="wallet_operations")
    op.create_table(
        "idempotency_keys",
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger(), sa.ForeignKey("transactions.id"), nullable=True
        ),
        sa.Column("client_id", sa.BigInteger(), sa.ForeignKey("clients.id"), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("caller", "key", name="pk_idempotency_keys"),
        sa.CheckConstraint(
            "num_nonnulls(transaction_id, client_id) = 1", name="ck_idempotency_keys_one_result"
        ),
        sa.CheckConstraint(
            "operation IN ('CREATE_CLIENT', 'RESUPPLY', 'TRANSFER')",
            name="ck_idempotency_keys_operation_known",
        ),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.create_index("ix_wallet_operations_wallet_id_id", "wallet_operations", ["wallet_id", "id"])
    op.drop_index("ix_wallet_operations_wallet_id_created_at_id", table_name="wallet_operations")
    op.drop_column("transactions", "reference")
