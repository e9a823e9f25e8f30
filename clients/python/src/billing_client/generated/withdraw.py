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


class Withdraw(BaseModel):
    withdraw: Union[
        "WithdrawWithdrawWithdrawSuccess",
        "WithdrawWithdrawInvalidInput",
        "WithdrawWithdrawWalletNotFound",
        "WithdrawWithdrawInsufficientFunds",
        "WithdrawWithdrawIdempotencyKeyReused",
        "WithdrawWithdrawPermissionDenied",
        "WithdrawWithdrawTryAgain",
        "WithdrawWithdrawServiceUnavailable",
        "WithdrawWithdrawOutcomeUnknown",
    ] = Field(discriminator="typename__")


class WithdrawWithdrawWithdrawSuccess(BaseModel):
    typename__: Literal["WithdrawSuccess"] = Field(alias="__typename")
    wallet_id: str = Field(alias="walletId")
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    wallet_balance: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="walletBalance"
    )
    wallet: "WithdrawWithdrawWithdrawSuccessWallet"
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class WithdrawWithdrawWithdrawSuccessWallet(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


class WithdrawWithdrawInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class WithdrawWithdrawWalletNotFound(BaseModel):
    typename__: Literal["WalletNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")


class WithdrawWithdrawInsufficientFunds(BaseModel):
    typename__: Literal["InsufficientFunds"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    requested: Annotated[Decimal, BeforeValidator(parse_money)]


class WithdrawWithdrawIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class WithdrawWithdrawPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class WithdrawWithdrawTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class WithdrawWithdrawServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class WithdrawWithdrawOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


Withdraw.model_rebuild()
WithdrawWithdrawWithdrawSuccess.model_rebuild()
