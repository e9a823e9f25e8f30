"""ORM models: the tables and the invariants the database enforces."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MONEY = Numeric(20, 2, asdecimal=True)


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (Index("uq_clients_login_lower", func.lower(text("login")), unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Wallet(Base):
    __tablename__ = "wallets"
    __table_args__ = (CheckConstraint("balance >= 0", name="ck_wallets_balance_not_negative"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    balance: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Transaction(Base):
    """One money movement; its legs are the wallet operations."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
        CheckConstraint("kind IN ('RESUPPLY', 'TRANSFER')", name="ck_transactions_kind_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    number: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WalletOperation(Base):
    """One leg of a transaction: a signed change of one wallet's balance."""

    __tablename__ = "wallet_operations"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="ck_wallet_operations_amount_not_zero"),
        CheckConstraint(
            "balance_after >= 0", name="ck_wallet_operations_balance_after_not_negative"
        ),
        Index("ix_wallet_operations_wallet_id_created_at_id", "wallet_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # No foreign key to transactions: see migration 0004 (the audit checks the link).
    transaction_id: Mapped[int] = mapped_column(BigInteger, index=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    balance_after: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotencyKey(Base):
    """A caller's key for one operation, stored in the same transaction as the operation."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        PrimaryKeyConstraint("caller", "key", name="pk_idempotency_keys"),
        CheckConstraint(
            "num_nonnulls(transaction_id, client_id) = 1", name="ck_idempotency_keys_one_result"
        ),
        CheckConstraint(
            "operation IN ('CREATE_CLIENT', 'RESUPPLY', 'TRANSFER')",
            name="ck_idempotency_keys_operation_known",
        ),
    )

    caller: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)  # see migration 0004
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('OPERATOR', 'CLIENT')", name="ck_api_tokens_kind_known"),
        CheckConstraint(
            "(kind = 'CLIENT') = (client_id IS NOT NULL)", name="ck_api_tokens_client_kind"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
