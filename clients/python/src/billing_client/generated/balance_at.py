from decimal import Decimal
from typing import Annotated, Optional

from pydantic import BeforeValidator, Field

from billing_client.scalars import parse_money

from .base_model import BaseModel


class BalanceAt(BaseModel):
    wallet: Optional["BalanceAtWallet"]


class BalanceAtWallet(BaseModel):
    id: str
    balance_at: Optional[Annotated[Decimal, BeforeValidator(parse_money)]] = Field(
        alias="balanceAt"
    )


BalanceAt.model_rebuild()
