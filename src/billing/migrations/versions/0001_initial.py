"""Clients, wallets, transactions and wallet operations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 2)


def _created_at() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _created_at(),
    )
    op.create_index("uq_clients_login_lower", "clients", [sa.text("lower(login)")], unique=True)

    op.create_table(
        "wallets",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("client_id", sa.BigInteger(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("balance", MONEY, server_default=sa.text("0"), nullable=False),
        _created_at(),
        sa.CheckConstraint("balance >= 0", name="ck_wallets_balance_not_negative"),
    )
    op.create_index("ix_wallets_client_id", "wallets", ["client_id"])

    op.create_table(
        "transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("number", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        _created_at(),
        sa.CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
        sa.CheckConstraint("kind IN ('RESUPPLY', 'TRANSFER')", name="ck_transactions_kind_known"),
    )

    op.create_table(
        "wallet_operations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "transaction_id", sa.BigInteger(), sa.ForeignKey("transactions.id"), nullable=False
        ),
        sa.Column("wallet_id", sa.BigInteger(), sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("balance_after", MONEY, nullable=False),
        _created_at(),
        sa.CheckConstraint("amount <> 0", name="ck_wallet_operations_amount_not_zero"),
        sa.CheckConstraint(
            "balance_after >= 0", name="ck_wallet_operations_balance_after_not_negative"
        ),
    )
    op.create_index("ix_wallet_operations_transaction_id", "wallet_operations", ["transaction_id"])
    op.create_index("ix_wallet_operations_wallet_id_id", "wallet_operations", ["wallet_id", "id"])


def downgrade() -> None:
    op.drop_table("wallet_operations")
    op.drop_table("transactions")
    op.drop_table("wallets")
    op.drop_table("clients")
