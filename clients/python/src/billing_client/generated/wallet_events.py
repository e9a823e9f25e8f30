from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Optional, Union
from uuid import UUID

from pydantic import BeforeValidator, Field

from billing_client.scalars import (
    Metadata,
    parse_datetime,
    parse_metadata,
    parse_money,
    parse_uuid,
)

from .base_model import BaseModel
from .enums import ErrorCode, SubscriptionEndReason, WalletEventKind


class WalletEvents(BaseModel):
    wallet_events: Union[
        "WalletEventsWalletEventsWalletEvent",
        "WalletEventsWalletEventsSubscriptionEnded",
        "WalletEventsWalletEventsWalletNotFound",
        "WalletEventsWalletEventsInvalidInput",
    ] = Field(alias="walletEvents", discriminator="typename__")


class WalletEventsWalletEventsWalletEvent(BaseModel):
    typename__: Literal["WalletEvent"] = Field(alias="__typename")
    cursor: str
    id: str
    wallet_id: str = Field(alias="walletId")
    sequence: int
    kind: WalletEventKind
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    held_change: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="heldChange"
    )
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Optional[Annotated[Decimal, BeforeValidator(parse_money)]]
    currency: str
    transaction_number: Optional[Annotated[UUID, BeforeValidator(parse_uuid)]] = Field(
        alias="transactionNumber"
    )
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    hold_id: Optional[str] = Field(alias="holdId")
    created_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="createdAt"
    )


class WalletEventsWalletEventsSubscriptionEnded(BaseModel):
    typename__: Literal["SubscriptionEnded"] = Field(alias="__typename")
    reason: SubscriptionEndReason
    message: str
    resume_after: str = Field(alias="resumeAfter")


class WalletEventsWalletEventsWalletNotFound(BaseModel):
    typename__: Literal["WalletNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")


class WalletEventsWalletEventsInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


WalletEvents.model_rebuild()
