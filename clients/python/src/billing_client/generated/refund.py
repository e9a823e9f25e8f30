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


class Refund(BaseModel):
    refund: Union[
        "RefundRefundRefundSuccess",
        "RefundRefundInvalidInput",
        "RefundRefundTransactionNotFound",
        "RefundRefundRefundExceedsRemaining",
        "RefundRefundInsufficientFunds",
        "RefundRefundBalanceLimitExceeded",
        "RefundRefundIdempotencyKeyReused",
        "RefundRefundPermissionDenied",
        "RefundRefundTryAgain",
        "RefundRefundServiceUnavailable",
        "RefundRefundOutcomeUnknown",
    ] = Field(discriminator="typename__")


class RefundRefundRefundSuccess(BaseModel):
    typename__: Literal["RefundSuccess"] = Field(alias="__typename")
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    refund_of: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(alias="refundOf")
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    remaining: Annotated[Decimal, BeforeValidator(parse_money)]
    wallet_to: Optional["RefundRefundRefundSuccessWalletTo"] = Field(alias="walletTo")
    wallets_from: list["RefundRefundRefundSuccessWalletsFrom"] = Field(
        alias="walletsFrom"
    )
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class RefundRefundRefundSuccessWalletTo(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class RefundRefundRefundSuccessWalletsFrom(BaseModel):
    wallet_id: str = Field(alias="walletId")
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    wallet: Optional["RefundRefundRefundSuccessWalletsFromWallet"]


class RefundRefundRefundSuccessWalletsFromWallet(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class RefundRefundInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class RefundRefundTransactionNotFound(BaseModel):
    typename__: Literal["TransactionNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )


class RefundRefundRefundExceedsRemaining(BaseModel):
    typename__: Literal["RefundExceedsRemaining"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    remaining: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class RefundRefundInsufficientFunds(BaseModel):
    typename__: Literal["InsufficientFunds"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class RefundRefundBalanceLimitExceeded(BaseModel):
    typename__: Literal["BalanceLimitExceeded"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    limit: Annotated[Decimal, BeforeValidator(parse_money)]


class RefundRefundIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class RefundRefundPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class RefundRefundTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class RefundRefundServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class RefundRefundOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


Refund.model_rebuild()
RefundRefundRefundSuccess.model_rebuild()
RefundRefundRefundSuccessWalletsFrom.model_rebuild()
