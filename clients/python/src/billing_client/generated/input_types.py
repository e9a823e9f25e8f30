from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from pydantic import Field, PlainSerializer

from billing_client.scalars import (
    Metadata,
    serialize_datetime,
    serialize_metadata,
    serialize_money,
    serialize_uuid,
)

from .base_model import BaseModel
from .enums import TransactionKind


class CaptureHoldInput(BaseModel):
    hold_id: str = Field(alias="holdId")
    amount: Optional[Annotated[Decimal, PlainSerializer(serialize_money)]] = None
    "At most what the hold reserves; without it, all of it."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class CreateClientInput(BaseModel):
    login: str
    "3-64 characters: letters A-Z/a-z, digits, '.', '_', '-'. Unique ignoring case."
    name: str
    "1-200 characters in any script; trimmed; no control characters."
    currency: Optional[str] = None
    "The first wallet's currency code; the server's default (USD unless set)."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."


class CreateCurrencyInput(BaseModel):
    code: str
    "3-12 capitals, digits or '_', e.g. POINTS."
    exponent: int
    "Its number of decimals, 0 to 8."
    name: str


class CreateWalletInput(BaseModel):
    client_id: str = Field(alias="clientId")
    currency: str
    "A currency code, e.g. EUR (see currencies)."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."


class CreateWebhookEndpointInput(BaseModel):
    url: str
    "http:// or https://, leading to a public address; at most 2000 characters."
    events: list[str] = Field(default_factory=lambda: [])
    "The kinds of events to receive: RESUPPLY, WITHDRAWAL, TRANSFER, SPLIT, HOLD, CAPTURE, VOID, REFUND, HOLD_EXPIRED. Empty (the default): all."
    description: Optional[str] = None
    "Free text for people, at most 500 characters."


class HoldTransferInput(BaseModel):
    wallet_from_id: str = Field(alias="walletFromId")
    wallet_to_id: str = Field(alias="walletToId")
    "Must differ from walletFromId."
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, with at most the currency's decimals."
    expires_at: Optional[Annotated[datetime, PlainSerializer(serialize_datetime)]] = (
        Field(alias="expiresAt", default=None)
    )
    "When it lapses (the database's clock); at most 366 days ahead, default 7 days. Times without an offset are UTC."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Optional labels of your own, stored with the transaction."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class RefundInput(BaseModel):
    transaction_number: Annotated[UUID, PlainSerializer(serialize_uuid)] = Field(
        alias="transactionNumber"
    )
    "The number of a TRANSFER, SPLIT or CAPTURE."
    amount: Optional[Annotated[Decimal, PlainSerializer(serialize_money)]] = None
    "Without it, all that remains refundable."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Optional labels of your own, stored with the transaction."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class ResupplyInput(BaseModel):
    wallet_id: str = Field(alias="walletId")
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, with at most the currency's decimals."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Optional labels of your own, stored with the transaction."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class SplitLegInput(BaseModel):
    wallet_to_id: str = Field(alias="walletToId")
    "Differs from walletFromId and from every other leg's."
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, with at most the currency's decimals."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."


class SplitTransferInput(BaseModel):
    wallet_from_id: str = Field(alias="walletFromId")
    legs: list["SplitLegInput"]
    "1 to 100 receiving wallets."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Optional labels of your own, stored with the transaction."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class TransactionFilter(BaseModel):
    """Every condition given must hold."""

    reference: Optional[str] = None
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Transactions whose metadata holds all these keys and values."
    kind: Optional[TransactionKind] = None
    since: Optional[Annotated[datetime, PlainSerializer(serialize_datetime)]] = None
    "Created at or after."
    until: Optional[Annotated[datetime, PlainSerializer(serialize_datetime)]] = None
    "Created before."


class TransferInput(BaseModel):
    wallet_from_id: str = Field(alias="walletFromId")
    wallet_to_id: str = Field(alias="walletToId")
    "Must differ from walletFromId."
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, with at most the currency's decimals."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Optional labels of your own, stored with the transaction."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class VoidHoldInput(BaseModel):
    hold_id: str = Field(alias="holdId")
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


class WithdrawInput(BaseModel):
    wallet_id: str = Field(alias="walletId")
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, with at most the currency's decimals."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    metadata: Optional[Annotated[Metadata, PlainSerializer(serialize_metadata)]] = None
    "Optional labels of your own, stored with the transaction."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
    dry_run: bool = Field(alias="dryRun", default=False)
    "Run every check and answer with the would-be result, changing nothing (and using no idempotency key)."


SplitTransferInput.model_rebuild()
