"""Plain values the domain hands back to its callers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
    balance: Decimal
    # The owner, when the operation that produced this record read it anyway: answering with
    # it needs no further read after the commit.
    owner: ClientRecord | None = None


@dataclass(frozen=True, slots=True)
class NewClient:
    client: ClientRecord
    wallet: WalletRecord  # as it was when created
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Resupplied:
    transaction_number: uuid.UUID
    amount: Decimal
    wallet: WalletRecord  # as it was right after the resupply
    reference: str | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Transferred:
    transaction_number: uuid.UUID
    amount: Decimal
    wallet_from: WalletRecord  # both as they were right after the transfer
    wallet_to_id: int
    wallet_to: WalletRecord | None  # None when the caller may not see the receiving wallet
    reference: str | None = None
    replayed: bool = False
