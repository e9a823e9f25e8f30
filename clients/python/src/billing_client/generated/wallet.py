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
from .enums import HoldStatus, OperationKind


class Wallet(BaseModel):
    wallet: Optional["WalletWallet"]


class WalletWallet(BaseModel):
    id: str
    currency: str
    balance: Annotated[Decimal, BeforeValidator(parse_money)]
    held: Annotated[Decimal, BeforeValidator(parse_money)]
    available: Annotated[Decimal, BeforeValidator(parse_money)]
    client: "WalletWalletClient"
    holds: list["WalletWalletHolds"]
    operations: "WalletWalletOperations"


class WalletWalletClient(BaseModel):
    id: str
    login: str


class WalletWalletHolds(BaseModel):
    id: str
    status: HoldStatus
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    captured_amount: Optional[Annotated[Decimal, BeforeValidator(parse_money)]] = Field(
        alias="capturedAmount"
    )
    expires_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="expiresAt"
    )
    wallet_from_id: str = Field(alias="walletFromId")
    wallet_to_id: str = Field(alias="walletToId")


class WalletWalletOperations(BaseModel):
    edges: list["WalletWalletOperationsEdges"]
    page_info: "WalletWalletOperationsPageInfo" = Field(alias="pageInfo")


class WalletWalletOperationsEdges(BaseModel):
    cursor: str
    node: "WalletWalletOperationsEdgesNode"


class WalletWalletOperationsEdgesNode(BaseModel):
    id: str
    transaction_number: Annotated[UUID, BeforeValidator(parse_uuid)] = Field(
        alias="transactionNumber"
    )
    kind: OperationKind
    amount: Annotated[Decimal, BeforeValidator(parse_money)]
    balance_after: Annotated[Decimal, BeforeValidator(parse_money)] = Field(
        alias="balanceAfter"
    )
    reference: Optional[str]
    metadata: Annotated[Metadata, BeforeValidator(parse_metadata)]
    counterparty_wallet_id: Optional[str] = Field(alias="counterpartyWalletId")
    created_at: Annotated[datetime, BeforeValidator(parse_datetime)] = Field(
        alias="createdAt"
    )


class WalletWalletOperationsPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    has_previous_page: bool = Field(alias="hasPreviousPage")
    start_cursor: Optional[str] = Field(alias="startCursor")
    end_cursor: Optional[str] = Field(alias="endCursor")


Wallet.model_rebuild()
WalletWallet.model_rebuild()
WalletWalletOperations.model_rebuild()
WalletWalletOperationsEdges.model_rebuild()
