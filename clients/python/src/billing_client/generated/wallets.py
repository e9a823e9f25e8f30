from decimal import Decimal
from typing import Annotated, Optional

from pydantic import BeforeValidator

from billing_client.scalars import parse_money

from .base_model import BaseModel


class Wallets(BaseModel):
    wallets: list[Optional["WalletsWallets"]]


class WalletsWallets(BaseModel):
    id: str
    currency: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]


Wallets.model_rebuild()
