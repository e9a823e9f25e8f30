from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field

from billing_client.scalars import parse_money

from .base_model import BaseModel
from .enums import ErrorCode


class CreateClient(BaseModel):
    create_client: Union[
        "CreateClientCreateClientCreateClientSuccess",
        "CreateClientCreateClientInvalidInput",
        "CreateClientCreateClientLoginTaken",
        "CreateClientCreateClientIdempotencyKeyReused",
        "CreateClientCreateClientPermissionDenied",
        "CreateClientCreateClientTryAgain",
        "CreateClientCreateClientServiceUnavailable",
        "CreateClientCreateClientOutcomeUnknown",
    ] = Field(alias="createClient", discriminator="typename__")


class CreateClientCreateClientCreateClientSuccess(BaseModel):
    typename__: Literal["CreateClientSuccess"] = Field(alias="__typename")
    client: "CreateClientCreateClientCreateClientSuccessClient"
    wallet: "CreateClientCreateClientCreateClientSuccessWallet"
    replayed: bool


class CreateClientCreateClientCreateClientSuccessClient(BaseModel):
    id: str
    login: str
    name: str


class CreateClientCreateClientCreateClientSuccessWallet(BaseModel):
    id: str
    currency: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]


class CreateClientCreateClientInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    field: str


class CreateClientCreateClientLoginTaken(BaseModel):
    typename__: Literal["LoginTaken"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    login: str


class CreateClientCreateClientIdempotencyKeyReused(BaseModel):
    typename__: Literal["IdempotencyKeyReused"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    idempotency_key: str = Field(alias="idempotencyKey")


class CreateClientCreateClientPermissionDenied(BaseModel):
    typename__: Literal["PermissionDenied"] = Field(alias="__typename")
    code: ErrorCode
    message: str
    operation: str


class CreateClientCreateClientTryAgain(BaseModel):
    typename__: Literal["TryAgain"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class CreateClientCreateClientServiceUnavailable(BaseModel):
    typename__: Literal["ServiceUnavailable"] = Field(alias="__typename")
    code: ErrorCode
    message: str


class CreateClientCreateClientOutcomeUnknown(BaseModel):
    typename__: Literal["OutcomeUnknown"] = Field(alias="__typename")
    code: ErrorCode
    message: str


CreateClient.model_rebuild()
CreateClientCreateClientCreateClientSuccess.model_rebuild()
