from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
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
from .enums import HoldStatus, TransactionKind


class Hold(BaseModel):
    hold: Optional["HoldHold"]


class HoldHold(BaseModel):
    id: str
    status: HoldStatus
    currency: str
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    captured_amount: Optional[Annotated[Decimal, BeforeValidator(parse_money)]] = Field(
        alias="capturedAmount"
    )
    expires_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="expiresAt"
    )
    wallet_from_id: str = Field(alias="walletFromId")
    wallet_to_id: str = Field(alias="walletToId")
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    created_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="createdAt"
    )
    resolved_at: Optional[Annotated[datetime, BeforeValidator(parse_datetime)]] = Field(
        alias="resolvedAt"
    )
    wallet_from: Optional["HoldHoldWalletFrom"] = Field(alias="walletFrom")
    wallet_to: Optional["HoldHoldWalletTo"] = Field(alias="walletTo")
    transactions: list["HoldHoldTransactions"]


class HoldHoldWalletFrom(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class HoldHoldWalletTo(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class HoldHoldTransactions(BaseModel):
    number: Annotated[UUID, BeforeValidator(parse_uuid)]
    kind: TransactionKind
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    created_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="createdAt"
    )


Hold.model_rebuild()
HoldHold.model_rebuild()
