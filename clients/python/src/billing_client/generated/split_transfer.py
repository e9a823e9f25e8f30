from decimal import Decimal
from typing import Annotated, Literal, Optional, Union
from uuid import UUID

from pydantic import BeforeValidator, Field

from billing_client.scalars import (
    Metadata,
    parse_metadata,
    parse_money,
    parse_uuid,
)

from .base_model import BaseModel
from .enums import ErrorCode


class SplitTransfer(BaseModel):
    split_transfer: Union[
        "SplitTransferSplitTransferSplitTransferSuccess",
        "SplitTransferSplitTransferInvalidInput",
        "SplitTransferSplitTransferWalletNotFound",
        "SplitTransferSplitTransferCurrencyMismatch",
        "SplitTransferSplitTransferInsufficientFunds",
        "SplitTransferSplitTransferBalanceLimitExceeded",
        "SplitTransferSplitTransferIdempotencyKeyReused",
        "SplitTransferSplitTransferPermissionDenied",
        "SplitTransferSplitTransferTryAgain",
        "SplitTransferSplitTransferServiceUnavailable",
        "SplitTransferSplitTransferOutcomeUnknown",
    ] = Field(alias="splitTransfer", discriminator="typename__")


class SplitTransferSplitTransferSplitTransferSuccess(BaseModel):
    typename__: Literal["SplitTransferSuccess"] = Field(alias="__typename")
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    wallet_from_balance: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="walletFromBalance"
    )
    wallet_from: "SplitTransferSplitTransferSplitTransferSuccessWalletFrom" = Field(
        alias="walletFrom"
    )
    legs: list["SplitTransferSplitTransferSplitTransferSuccessLegs"]
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class SplitTransferSplitTransferSplitTransferSuccessWalletFrom(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class SplitTransferSplitTransferSplitTransferSuccessLegs(BaseModel):
    wallet_to_id: str = Field(alias="walletToId")
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    reference: Optional[str]
    wallet_to: Optional[
        "SplitTransferSplitTransferSplitTransferSuccessLegsWalletTo"
    ] = Field(alias="walletTo")


class SplitTransferSplitTransferSplitTransferSuccessLegsWalletTo(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]


class SplitTransferSplitTransferInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class SplitTransferSplitTransferWalletNotFound(BaseModel):
    typename__: Literal["WalletNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")


class SplitTransferSplitTransferCurrencyMismatch(BaseModel):
    typename__: Literal["CurrencyMismatch"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    currency: str
    expected: str


class SplitTransferSplitTransferInsufficientFunds(BaseModel):
    typename__: Literal["InsufficientFunds"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class SplitTransferSplitTransferBalanceLimitExceeded(BaseModel):
    typename__: Literal["BalanceLimitExceeded"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    limit: Annotated[Decimal, BeforeValidator(parse_money)]


class SplitTransferSplitTransferIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class SplitTransferSplitTransferPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class SplitTransferSplitTransferTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class SplitTransferSplitTransferServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class SplitTransferSplitTransferOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


SplitTransfer.model_rebuild()
SplitTransferSplitTransferSplitTransferSuccess.model_rebuild()
SplitTransferSplitTransferSplitTransferSuccessLegs.model_rebuild()
