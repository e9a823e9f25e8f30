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


class Resupply(BaseModel):
    resupply: Union[
        "ResupplyResupplyResupplySuccess",
        "ResupplyResupplyInvalidInput",
        "ResupplyResupplyWalletNotFound",
        "ResupplyResupplyBalanceLimitExceeded",
        "ResupplyResupplyIdempotencyKeyReused",
        "ResupplyResupplyPermissionDenied",
        "ResupplyResupplyTryAgain",
        "ResupplyResupplyServiceUnavailable",
        "ResupplyResupplyOutcomeUnknown",
    ] = Field(discriminator="typename__")


class ResupplyResupplyResupplySuccess(BaseModel):
    typename__: Literal["ResupplySuccess"] = Field(alias="__typename")
    wallet_id: str = Field(alias="walletId")
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    wallet_balance: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="walletBalance"
    )
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    dry_run: bool = Field(alias="dryRun")
    replayed: bool


class ResupplyResupplyInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class ResupplyResupplyWalletNotFound(BaseModel):
    typename__: Literal["WalletNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")


class ResupplyResupplyBalanceLimitExceeded(BaseModel):
    typename__: Literal["BalanceLimitExceeded"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    wallet_id: str = Field(alias="walletId")
    limit: Annotated[Decimal, BeforeValidator(parse_money)]


class ResupplyResupplyIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class ResupplyResupplyPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class ResupplyResupplyTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class ResupplyResupplyServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class ResupplyResupplyOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


Resupply.model_rebuild()
