from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from pydantic import BeforeValidator, Field

from billing_client.scalars import (
    Metadata,
    parse_datetime,
    parse_metadata,
    parse_money,
    parse_uuid,
)

from .base_model import BaseModel
from .enums import HoldStatus, OperationKind, TransactionKind


class Transactions(BaseModel):
    transactions: "TransactionsTransactions"


class TransactionsTransactions(BaseModel):
    edges: list["TransactionsTransactionsEdges"]
    page_info: "TransactionsTransactionsPageInfo" = Field(alias="pageInfo")


class TransactionsTransactionsEdges(BaseModel):
    cursor: str
    node: "TransactionsTransactionsEdgesNode"


class TransactionsTransactionsEdgesNode(BaseModel):
    number: Annotated[UUID, BeforeValidator(parse_uuid)]
    kind: TransactionKind
    currency: str
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    created_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="createdAt"
    )
    refundable: Annotated[Decimal, BeforeValidator(parse_money)]
    refund_of: Optional["TransactionsTransactionsEdgesNodeRefundOf"] = Field(
        alias="refundOf"
    )
    refunds: list["TransactionsTransactionsEdgesNodeRefunds"]
    hold: Optional["TransactionsTransactionsEdgesNodeHold"]
    legs: list["TransactionsTransactionsEdgesNodeLegs"]


class TransactionsTransactionsEdgesNodeRefundOf(BaseModel):
    number: Annotated[UUID, BeforeValidator(parse_uuid)]


class TransactionsTransactionsEdgesNodeRefunds(BaseModel):
    number: Annotated[UUID, BeforeValidator(parse_uuid)]
    amount: Annotated[Decimal, BeforeValidator(parse_money)]


class TransactionsTransactionsEdgesNodeHold(BaseModel):
    id: str
    status: HoldStatus


class TransactionsTransactionsEdgesNodeLegs(BaseModel):
    kind: OperationKind
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    balance_after: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="balanceAfter"
    )
    wallet: "TransactionsTransactionsEdgesNodeLegsWallet"


class TransactionsTransactionsEdgesNodeLegsWallet(BaseModel):
    id: str


class TransactionsTransactionsPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


Transactions.model_rebuild()
TransactionsTransactions.model_rebuild()
TransactionsTransactionsEdges.model_rebuild()
TransactionsTransactionsEdgesNode.model_rebuild()
TransactionsTransactionsEdgesNodeLegs.model_rebuild()
