from decimal import Decimal
from typing import Annotated, Optional

from pydantic import Field, PlainSerializer

from billing_client.scalars import serialize_money

from .base_model import BaseModel


class CreateClientInput(BaseModel):
    login: str
    "3-64 characters: letters A-Z/a-z, digits, '.', '_', '-'. Unique ignoring case."
    name: str
    "1-200 characters in any script; trimmed; no control characters."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."


class ResupplyInput(BaseModel):
    wallet_id: str = Field(alias="walletId")
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, 2 decimals."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."


class TransferInput(BaseModel):
    wallet_from_id: str = Field(alias="walletFromId")
    wallet_to_id: str = Field(alias="walletToId")
    "Must differ from walletFromId."
    amount: Annotated[Decimal, PlainSerializer(serialize_money)]
    "Greater than 0, at most 10^15, 2 decimals."
    reference: Optional[str] = None
    "Optional free text up to 255 characters, e.g. an order id."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the same key and the same input returns the first result (replayed: true) instead of performing the operation again."
