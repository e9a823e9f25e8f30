"""Plain values the domain hands back to its callers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: int
    login: str
    name: str


@dataclass(frozen=True, slots=True)
class WalletRecord:
    id: int
    client_id: int
    currency: str
    balance: Decimal
    # What unexpired holds reserve; None when not known with this balance (an idempotent
    # replay shows the balance an operation left behind, not what is held now).
    held: Decimal | None
    # The owner, when the operation that produced this record read it anyway: answering with
    # it needs no further read after the commit.
    owner: ClientRecord | None = None


@dataclass(frozen=True, slots=True)
class CurrencyRecord:
    code: str
    exponent: int
    name: str | None
    custom: bool


@dataclass(frozen=True, slots=True)
class HoldRecord:
    id: int
    status: str  # PENDING, CAPTURED, VOIDED or EXPIRED (a pending hold past its expiry)
    wallet_from_id: int
    wallet_to_id: int
    currency: str
    amount: Decimal
    captured_amount: Decimal | None
    expires_at: datetime
    reference: str | None
    metadata: dict[str, str]
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewClient:
    client: ClientRecord
    wallet: WalletRecord  # as it was when created
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class NewWallet:
    wallet: WalletRecord
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Posted:
    """A money movement as performed (or, on a dry run, as it would be)."""

    transaction_number: uuid.UUID
    kind: str
    amount: Decimal
    reference: str | None
    metadata: dict[str, str]
    # Each wallet the posting involved, as left by it, paying wallet first; None where the
    # caller may not see the wallet.
    wallets: list[WalletRecord | None]
    wallet_ids: list[int]
    leg_amounts: list[Decimal]  # per wallet: the signed change of its balance
    leg_references: list[str | None] = field(default_factory=list)
    hold: HoldRecord | None = None
    expires_at: datetime | None = None  # a hold's
    refund_of: uuid.UUID | None = None
    remaining: Decimal | None = None  # a refund: what stays refundable after it
    dry_run: bool = False
    replayed: bool = False

    @property
    def wallet(self) -> WalletRecord:
        """The paying wallet (the only one, for a resupply or a payout)."""
        first = self.wallets[0]
        assert first is not None, "the paying wallet is the caller's"
        return first

    wallet_from = wallet

    @property
    def wallet_to_id(self) -> int:
        return self.wallet_ids[1]

    @property
    def wallet_to(self) -> WalletRecord | None:
        return self.wallets[1]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One change of a wallet, as the ledger wrote it with the change (``wallet_events``)."""

    id: int  # unique across wallets; a webhook's id
    wallet_id: int
    client_id: int
    seq: int  # 1, 2, 3... per wallet, in commit order
    kind: str  # the transaction's kind, or HOLD_EXPIRED
    currency: str
    amount: Decimal  # signed change of the balance
    held_change: Decimal  # signed change of what holds reserve
    balance: Decimal  # after the change
    available: Decimal | None  # after the change; None for events from before they existed
    transaction_number: uuid.UUID | None  # None for an expiry
    hold_id: int | None
    reference: str | None
    metadata: dict[str, str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookEndpointRecord:
    """Where events are POSTed (its secret is shown once, when it is created)."""

    id: int
    url: str
    description: str
    events: list[str]  # the event kinds it receives; empty: all
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewWebhookEndpoint:
    endpoint: WebhookEndpointRecord
    secret: str  # whsec_..., the key of its signatures


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    """One event for one endpoint, and how its delivery went so far."""

    id: int
    endpoint_id: int
    status: str  # PENDING, DELIVERED or FAILED
    attempts: int
    next_attempt_at: datetime | None  # None once it is no longer pending
    last_attempt_at: datetime | None
    last_status: int | None  # the HTTP status of the last answer, if there was one
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    event: EventRecord
