from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Optional, Union
from uuid import UUID

from pydantic import BeforeValidator, Field

from billing_client.scalars import (
    parse_datetime,
    parse_money,
    parse_uuid,
)

from .base_model import BaseModel
from .enums import ErrorCode, HoldStatus


class CaptureHold(BaseModel):
    capture_hold: Union[
        "CaptureHoldCaptureHoldCaptureHoldSuccess",
        "CaptureHoldCaptureHoldInvalidInput",
        "CaptureHoldCaptureHoldHoldNotFound",
        "CaptureHoldCaptureHoldHoldNotPending",
        "CaptureHoldCaptureHoldHoldExpired",
        "CaptureHoldCaptureHoldInsufficientFunds",
        "CaptureHoldCaptureHoldBalanceLimitExceeded",
        "CaptureHoldCaptureHoldIdempotencyKeyReused",
        "CaptureHoldCaptureHoldPermissionDenied",
        "CaptureHoldCaptureHoldTryAgain",
        "CaptureHoldCaptureHoldServiceUnavailable",
        "CaptureHoldCaptureHoldOutcomeUnknown",
    ] = Field(alias="captureHold", discriminator="typename__")


class CaptureHoldCaptureHoldCaptureHoldSuccess(BaseModel):
    typename__: Literal["CaptureHoldSuccess"] = Field(alias="__typename")
    hold: "CaptureHoldCaptureHoldCaptureHoldSuccessHold"
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    wallet_from: "CaptureHoldCaptureHoldCaptureHoldSuccessWalletFrom" = Field(
        alias="walletFrom"
    )
    wallet_to: Optional["CaptureHoldCaptureHoldCaptureHoldSuccessWalletTo"] = Field(
        alias="walletTo"
    )
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class CaptureHoldCaptureHoldCaptureHoldSuccessHold(BaseModel):
    id: str
    status: HoldStatus
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    captured_amount: Optional[Annotated[Decimal, BeforeValidator(parse_money)]] = Field(
        alias="capturedAmount"
    )
    resolved_at: Optional[Annotated[datetime, BeforeValidator(parse_datetime)]] = Field(
        alias="resolvedAt"
    )


class CaptureHoldCaptureHoldCaptureHoldSuccessWalletFrom(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class CaptureHoldCaptureHoldCaptureHoldSuccessWalletTo(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class CaptureHoldCaptureHoldInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class CaptureHoldCaptureHoldHoldNotFound(BaseModel):
    typename__: Literal["HoldNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    hold_id: str = Field(alias="holdId")


class CaptureHoldCaptureHoldHoldNotPending(BaseModel):
    typename__: Literal["HoldNotPending"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    hold_id: str = Field(alias="holdId")
    hold_status: str = Field(alias="holdStatus")


class CaptureHoldCaptureHoldHoldExpired(BaseModel):
    typename__: Literal["HoldExpired"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    hold_id: str = Field(alias="holdId")


class CaptureHoldCaptureHoldInsufficientFunds(BaseModel):
    typename__: Literal["InsufficientFunds"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class CaptureHoldCaptureHoldBalanceLimitExceeded(BaseModel):
    typename__: Literal["BalanceLimitExceeded"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    limit: Annotated[Decimal, BeforeValidator(parse_money)]


class CaptureHoldCaptureHoldIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class CaptureHoldCaptureHoldPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class CaptureHoldCaptureHoldTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class CaptureHoldCaptureHoldServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class CaptureHoldCaptureHoldOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


CaptureHold.model_rebuild()
CaptureHoldCaptureHoldCaptureHoldSuccess.model_rebuild()
