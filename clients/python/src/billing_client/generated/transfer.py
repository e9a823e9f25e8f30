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


class Transfer(BaseModel):
    transfer: Union[
        "TransferTransferTransferSuccess",
        "TransferTransferInvalidInput",
        "TransferTransferWalletNotFound",
        "TransferTransferCurrencyMismatch",
        "TransferTransferInsufficientFunds",
        "TransferTransferBalanceLimitExceeded",
        "TransferTransferIdempotencyKeyReused",
        "TransferTransferPermissionDenied",
        "TransferTransferTryAgain",
        "TransferTransferServiceUnavailable",
        "TransferTransferOutcomeUnknown",
    ] = Field(discriminator="typename__")


class TransferTransferTransferSuccess(BaseModel):
    typename__: Literal["TransferSuccess"] = Field(alias="__typename")
    wallet_from_id: str = Field(alias="walletFromId")
    wallet_to_id: str = Field(alias="walletToId")
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    wallet_from_balance: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="walletFromBalance"
    )
    wallet_to_balance: Optional[Annotated[Decimal, BeforeValidator(parse_money)]] = (
        Field(alias="walletToBalance")
    )
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class TransferTransferInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class TransferTransferWalletNotFound(BaseModel):
    typename__: Literal["WalletNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")


class TransferTransferCurrencyMismatch(BaseModel):
    typename__: Literal["CurrencyMismatch"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    currency: str
    expected: str


class TransferTransferInsufficientFunds(BaseModel):
    typename__: Literal["InsufficientFunds"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class TransferTransferBalanceLimitExceeded(BaseModel):
    typename__: Literal["BalanceLimitExceeded"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    limit: Annotated[Decimal, BeforeValidator(parse_money)]


class TransferTransferIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class TransferTransferPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class TransferTransferTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class TransferTransferServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class TransferTransferOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


Transfer.model_rebuild()
