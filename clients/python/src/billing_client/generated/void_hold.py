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


class VoidHold(BaseModel):
    void_hold: Union[
        "VoidHoldVoidHoldVoidHoldSuccess",
        "VoidHoldVoidHoldInvalidInput",
        "VoidHoldVoidHoldHoldNotFound",
        "VoidHoldVoidHoldHoldNotPending",
        "VoidHoldVoidHoldHoldExpired",
        "VoidHoldVoidHoldIdempotencyKeyReused",
        "VoidHoldVoidHoldPermissionDenied",
        "VoidHoldVoidHoldTryAgain",
        "VoidHoldVoidHoldServiceUnavailable",
        "VoidHoldVoidHoldOutcomeUnknown",
    ] = Field(alias="voidHold", discriminator="typename__")


class VoidHoldVoidHoldVoidHoldSuccess(BaseModel):
    typename__: Literal["VoidHoldSuccess"] = Field(alias="__typename")
    hold: "VoidHoldVoidHoldVoidHoldSuccessHold"
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    wallet_from: "VoidHoldVoidHoldVoidHoldSuccessWalletFrom" = Field(alias="walletFrom")
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class VoidHoldVoidHoldVoidHoldSuccessHold(BaseModel):
    id: str
    status: HoldStatus
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    resolved_at: Optional[Annotated[datetime, BeforeValidator(parse_datetime)]] = Field(
        alias="resolvedAt"
    )


class VoidHoldVoidHoldVoidHoldSuccessWalletFrom(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class VoidHoldVoidHoldInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class VoidHoldVoidHoldHoldNotFound(BaseModel):
    typename__: Literal["HoldNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    hold_id: str = Field(alias="holdId")


class VoidHoldVoidHoldHoldNotPending(BaseModel):
    typename__: Literal["HoldNotPending"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    hold_id: str = Field(alias="holdId")
    hold_status: str = Field(alias="holdStatus")


class VoidHoldVoidHoldHoldExpired(BaseModel):
    typename__: Literal["HoldExpired"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    hold_id: str = Field(alias="holdId")


class VoidHoldVoidHoldIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class VoidHoldVoidHoldPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class VoidHoldVoidHoldTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class VoidHoldVoidHoldServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class VoidHoldVoidHoldOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


VoidHold.model_rebuild()
VoidHoldVoidHoldVoidHoldSuccess.model_rebuild()
