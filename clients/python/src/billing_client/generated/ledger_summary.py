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
    currencies: list["LedgerSummaryLedgerSummaryCurrencies"]


class LedgerSummaryLedgerSummaryCurrencies(BaseModel):
    currency: str
    total_balance: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="totalBalance"
    )
    total_held: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="totalHeld"
    )
    total_resupplied: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="totalResupplied"
    )
    total_withdrawn: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="totalWithdrawn"
    )


LedgerSummary.model_rebuild()
LedgerSummaryLedgerSummary.model_rebuild()
