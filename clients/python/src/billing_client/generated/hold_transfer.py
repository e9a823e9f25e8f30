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
from .enums import ErrorCode, HoldStatus


class HoldTransfer(BaseModel):
    hold_transfer: Union[
        "HoldTransferHoldTransferHoldTransferSuccess",
        "HoldTransferHoldTransferInvalidInput",
        "HoldTransferHoldTransferWalletNotFound",
        "HoldTransferHoldTransferCurrencyMismatch",
        "HoldTransferHoldTransferInsufficientFunds",
        "HoldTransferHoldTransferIdempotencyKeyReused",
        "HoldTransferHoldTransferPermissionDenied",
        "HoldTransferHoldTransferTryAgain",
        "HoldTransferHoldTransferServiceUnavailable",
        "HoldTransferHoldTransferOutcomeUnknown",
    ] = Field(alias="holdTransfer", discriminator="typename__")


class HoldTransferHoldTransferHoldTransferSuccess(BaseModel):
    typename__: Literal["HoldTransferSuccess"] = Field(alias="__typename")
    hold: Optional["HoldTransferHoldTransferHoldTransferSuccessHold"]
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    expires_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="expiresAt"
    )
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    wallet_from: "HoldTransferHoldTransferHoldTransferSuccessWalletFrom" = Field(
        alias="walletFrom"
    )
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class HoldTransferHoldTransferHoldTransferSuccessHold(BaseModel):
    id: str
    status: HoldStatus
    currency: str
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
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


class HoldTransferHoldTransferHoldTransferSuccessWalletFrom(BaseModel):
    id: str
    currency: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class HoldTransferHoldTransferInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class HoldTransferHoldTransferWalletNotFound(BaseModel):
    typename__: Literal["WalletNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")


class HoldTransferHoldTransferCurrencyMismatch(BaseModel):
    typename__: Literal["CurrencyMismatch"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    currency: str
    expected: str


class HoldTransferHoldTransferInsufficientFunds(BaseModel):
    typename__: Literal["InsufficientFunds"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class HoldTransferHoldTransferIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class HoldTransferHoldTransferPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class HoldTransferHoldTransferTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class HoldTransferHoldTransferServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class HoldTransferHoldTransferOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


HoldTransfer.model_rebuild()
HoldTransferHoldTransferHoldTransferSuccess.model_rebuild()
