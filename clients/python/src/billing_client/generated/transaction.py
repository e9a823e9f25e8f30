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


class Transaction(BaseModel):
    transaction: Optional["TransactionTransaction"]


class TransactionTransaction(BaseModel):
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
    refund_of: Optional["TransactionTransactionRefundOf"] = Field(alias="refundOf")
    refunds: list["TransactionTransactionRefunds"]
    hold: Optional["TransactionTransactionHold"]
    legs: list["TransactionTransactionLegs"]


class TransactionTransactionRefundOf(BaseModel):
    number: Annotated[UUID, BeforeValidator(parse_uuid)]


class TransactionTransactionRefunds(BaseModel):
    number: Annotated[UUID, BeforeValidator(parse_uuid)]
    amount: Annotated[Decimal, BeforeValidator(parse_money)]


class TransactionTransactionHold(BaseModel):
    id: str
    status: HoldStatus


class TransactionTransactionLegs(BaseModel):
    id: str
    kind: OperationKind
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    balance_after: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="balanceAfter"
    )
    wallet: "TransactionTransactionLegsWallet"
    counterparty_wallet_id: Optional[str] = Field(alias="counterpartyWalletId")


class TransactionTransactionLegsWallet(BaseModel):
    id: str


Transaction.model_rebuild()
TransactionTransaction.model_rebuild()
TransactionTransactionLegs.model_rebuild()
