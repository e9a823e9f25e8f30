from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field

from billing_client.scalars import parse_money

from .base_model import BaseModel
from .enums import ErrorCode


class CreateWallet(BaseModel):
    create_wallet: Union[
        "CreateWalletCreateWalletCreateWalletSuccess",
        "CreateWalletCreateWalletInvalidInput",
        "CreateWalletCreateWalletClientNotFound",
        "CreateWalletCreateWalletIdempotencyKeyReused",
        "CreateWalletCreateWalletPermissionDenied",
        "CreateWalletCreateWalletTryAgain",
        "CreateWalletCreateWalletServiceUnavailable",
        "CreateWalletCreateWalletOutcomeUnknown",
    ] = Field(alias="createWallet", discriminator="typename__")


class CreateWalletCreateWalletCreateWalletSuccess(BaseModel):
    typename__: Literal["CreateWalletSuccess"] = Field(alias="__typename")
    wallet: "CreateWalletCreateWalletCreateWalletSuccessWallet"
    replayed: bool


class CreateWalletCreateWalletCreateWalletSuccessWallet(BaseModel):
    id: str
    currency: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    client: "CreateWalletCreateWalletCreateWalletSuccessWalletClient"


class CreateWalletCreateWalletCreateWalletSuccessWalletClient(BaseModel):
    id: str


class CreateWalletCreateWalletInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class CreateWalletCreateWalletClientNotFound(BaseModel):
    typename__: Literal["ClientNotFound"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    client_id: str = Field(alias="clientId")


class CreateWalletCreateWalletIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class CreateWalletCreateWalletPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class CreateWalletCreateWalletTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class CreateWalletCreateWalletServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class CreateWalletCreateWalletOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


CreateWallet.model_rebuild()
CreateWalletCreateWalletCreateWalletSuccess.model_rebuild()
CreateWalletCreateWalletCreateWalletSuccessWallet.model_rebuild()
