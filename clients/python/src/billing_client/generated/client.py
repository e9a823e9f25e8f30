from decimal import Decimal
from typing import Annotated, Optional

from pydantic import BeforeValidator

from billing_client.scalars import parse_money

from .base_model import BaseModel


class Client(BaseModel):
    client: Optional["ClientClient"]


class ClientClient(BaseModel):
    id: str
    login: str
    name: str
    wallets: list["ClientClientWallets"]


class ClientClientWallets(BaseModel):
    id: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]


Client.model_rebuild()
ClientClient.model_rebuild()
