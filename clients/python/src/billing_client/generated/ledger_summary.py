from decimal import Decimal
from typing import Annotated, Optional

from pydantic import BeforeValidator, Field

from billing_client.scalars import parse_money

from .base_model import BaseModel


class LedgerSummary(BaseModel):
    ledger_summary: Optional["LedgerSummaryLedgerSummary"] = Field(
        alias="ledgerSummary"
    )


class LedgerSummaryLedgerSummary(BaseModel):
    wallets: int
    total_balance: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="totalBalance"
    )
    total_resupplied: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="totalResupplied"
    )


LedgerSummary.model_rebuild()
