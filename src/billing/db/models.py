"""ORM models: the tables and the invariants the database enforces."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Exact, with the digits of the currency: a wallet's CHECK keeps its balance at its exponent.
MONEY = Numeric(asdecimal=True)


TRANSACTION_KINDS = (
    "'RESUPPLY', 'WITHDRAWAL', 'TRANSFER', 'SPLIT', 'HOLD', 'CAPTURE', 'VOID', 'REFUND'"
)
IDEMPOTENT_OPERATIONS = (
    "'CREATE_CLIENT', 'CREATE_WALLET', 'RESUPPLY', 'WITHDRAW', 'TRANSFER', 'SPLIT_TRANSFER',"
    " 'HOLD_TRANSFER', 'CAPTURE_HOLD', 'VOID_HOLD', 'REFUND'"
)


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (Index("uq_clients_login_lower", func.lower(text("login")), unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Currency(Base):
    """An ISO 4217 currency or an operator's own asset, with its number of decimals."""

    __tablename__ = "currencies"
    __table_args__ = (
        CheckConstraint("code ~ '^[A-Z][A-Z0-9_]{2,11}$'", name="ck_currencies_code_form"),
        CheckConstraint("exponent BETWEEN 0 AND 8", name="ck_currencies_exponent_range"),
    )

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    exponent: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str | None] = mapped_column(String(100))
    custom: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Wallet(Base):
    """A balance in one currency. ``held`` is the sum of its pending holds (expired ones too,
    until they are resolved); ``held_until`` is at most the earliest expiry among them."""

    __tablename__ = "wallets"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="ck_wallets_balance_not_negative"),
        CheckConstraint(
            "scale(balance) = exponent AND scale(held) = exponent", name="ck_wallets_exact_digits"
        ),
        CheckConstraint("held >= 0", name="ck_wallets_held_not_negative"),
        CheckConstraint("balance < 1e18", name="ck_wallets_balance_below_limit"),
        Index("ix_wallets_held_until", "held_until", postgresql_where=text("held > 0")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    currency: Mapped[str] = mapped_column(
        Text, ForeignKey("currencies.code", name="fk_wallets_currency")
    )
    exponent: Mapped[int] = mapped_column(SmallInteger)
    balance: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    held: Mapped[Decimal] = mapped_column(MONEY)
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    event_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))  # its last event
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Transaction(Base):
    """One money movement; its legs are the wallet operations."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
        CheckConstraint(f"kind IN ({TRANSACTION_KINDS})", name="ck_transactions_kind_known"),
        CheckConstraint(
            "refunded >= 0 AND refunded <= amount", name="ck_transactions_refunded_within_amount"
        ),
        Index("ix_transactions_kind_id", "kind", "id"),
        Index("ix_transactions_created_at", "created_at"),
        Index(
            "ix_transactions_reference", "reference", postgresql_where=text("reference IS NOT NULL")
        ),
        Index(
            "ix_transactions_metadata",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
            postgresql_where=text("metadata <> '{}'"),
        ),
        Index("ix_transactions_parties", "parties", postgresql_using="gin"),
        Index(
            "ix_transactions_refund_of", "refund_of", postgresql_where=text("refund_of IS NOT NULL")
        ),
        Index("ix_transactions_hold_id", "hold_id", postgresql_where=text("hold_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    number: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    kind: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, str]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'")
    )
    # The clients whose wallets it touches: who may see it.
    parties: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    # Links checked by the audit, not by foreign keys (see migration 0004).
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    refund_of: Mapped[int | None] = mapped_column(BigInteger)
    refunded: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Hold(Base):
    """Money reserved on one wallet for another, until captured, voided or expired."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_holds_amount_positive"),
        CheckConstraint(
            "status IN ('PENDING', 'CAPTURED', 'VOIDED', 'EXPIRED')", name="ck_holds_status_known"
        ),
        CheckConstraint(
            "(status = 'CAPTURED') = (captured_amount IS NOT NULL)"
            " AND (captured_amount > 0 AND captured_amount <= amount)",
            name="ck_holds_captured_within_amount",
        ),
        CheckConstraint(
            "(status = 'PENDING') = (resolved_at IS NULL)", name="ck_holds_resolved_once"
        ),
        CheckConstraint("wallet_from_id <> wallet_to_id", name="ck_holds_two_wallets"),
        # No index on what resolving a hold changes (status...): see migration 0005.
        Index(
            "ix_holds_wallet_from_id_expires_at",
            "wallet_from_id",
            "expires_at",
            postgresql_include=["amount"],
        ),
        Index("ix_holds_wallet_from_id_id", "wallet_from_id", "id"),
        Index("ix_holds_wallet_to_id_id", "wallet_to_id", "id"),
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    wallet_from_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"))
    wallet_to_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"))
    currency: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    captured_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reference: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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
    reference: Mapped[str | None] = mapped_column(String(255))  # a split leg's own
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotencyKey(Base):
    """A caller's key for one operation, stored in the same transaction as the operation."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        PrimaryKeyConstraint("caller", "key", name="pk_idempotency_keys"),
        CheckConstraint(
            "num_nonnulls(transaction_id, client_id, wallet_id) = 1",
            name="ck_idempotency_keys_one_result",
        ),
        CheckConstraint(
            f"operation IN ({IDEMPOTENT_OPERATIONS})", name="ck_idempotency_keys_operation_known"
        ),
    )

    caller: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)  # see migration 0004
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    wallet_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('OPERATOR', 'CLIENT')", name="ck_api_tokens_kind_known"),
        CheckConstraint(
            "(kind = 'CLIENT') = (client_id IS NOT NULL)", name="ck_api_tokens_client_kind"
        ),
        # Revocations, polled where they cannot be heard (see billing.db.token_cache).
        Index(
            "ix_api_tokens_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


EVENT_KINDS = TRANSACTION_KINDS + ", 'HOLD_EXPIRED'"
CURRENT_TX = "CAST(CAST(pg_current_xact_id() AS text) AS bigint)"


class WalletEvent(Base):
    """One change of a wallet, written with it: the outbox of subscriptions and webhooks."""

    __tablename__ = "wallet_events"
    __table_args__ = (
        CheckConstraint("seq > 0", name="ck_wallet_events_seq_positive"),
        CheckConstraint(f"kind IN ({EVENT_KINDS})", name="ck_wallet_events_kind_known"),
        UniqueConstraint("wallet_id", "seq", name="uq_wallet_events_wallet_id_seq"),
        Index("ix_wallet_events_tx_id", "tx", "id"),  # the relay's reading order
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger, server_default=text(CURRENT_TX))
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"))
    seq: Mapped[int] = mapped_column(BigInteger)  # 1, 2, 3... per wallet, in commit order
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)  # signed change of the balance
    held_change: Mapped[Decimal] = mapped_column(MONEY)  # signed change of what holds reserve
    balance: Mapped[Decimal] = mapped_column(MONEY)  # after it
    available: Mapped[Decimal | None] = mapped_column(MONEY)  # after it (NULL before 0006)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)  # see migration 0004
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookEndpoint(Base):
    """Where events are POSTed, signed with the endpoint's own secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(
            "enabled = (disabled_reason IS NULL)", name="ck_webhook_endpoints_disabled_why"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))  # event kinds; empty: all
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one endpoint, until it is delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING', 'DELIVERED', 'FAILED')", name="ck_webhook_deliveries_status"
        ),
        UniqueConstraint(
            "endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_id_event_id"
        ),
        Index(
            "ix_webhook_deliveries_pending",
            "endpoint_id",
            "wallet_id",
            "seq",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("wallet_events.id"))
    wallet_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, server_default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EventRelay(Base):
    """How far a relay has read the events: every transaction below ``horizon``."""

    __tablename__ = "event_relay"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    horizon: Mapped[int] = mapped_column(BigInteger)
