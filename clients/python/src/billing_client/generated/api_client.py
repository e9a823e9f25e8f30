from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional, Union
from uuid import UUID

from billing_client.scalars import (
    Metadata,
    serialize_datetime,
    serialize_metadata,
    serialize_money,
    serialize_uuid,
)

from .async_base_client import AsyncBaseClient
from .balance_at import BalanceAt
from .base_model import UNSET, UnsetType
from .capture_hold import CaptureHold
from .client import Client
from .create_client import CreateClient
from .create_wallet import CreateWallet
from .enums import HoldStatus
from .hold import Hold
from .hold_transfer import HoldTransfer
from .input_types import SplitLegInput, TransactionFilter
from .ledger_summary import LedgerSummary
from .refund import Refund
from .resupply import Resupply
from .split_transfer import SplitTransfer
from .transaction import Transaction
from .transactions import Transactions
from .transfer import Transfer
from .void_hold import VoidHold
from .wallet import Wallet
from .wallet_events import WalletEvents
from .wallets import Wallets
from .withdraw import Withdraw


def gql(q: str) -> str:
    return q


class BillingClient(AsyncBaseClient):
    async def balance_at(self, id: str, time: datetime, **kwargs: Any) -> BalanceAt:
        query = gql("""
            query BalanceAt($id: ID!, $time: DateTime!) {
              wallet(id: $id) {
                id
                balanceAt(time: $time)
              }
            }
            """)
        variables: dict[str, object] = {"id": id, "time": serialize_datetime(time)}
        response = await self.execute(
            query=query, operation_name="BalanceAt", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return BalanceAt.model_validate(data)

    async def capture_hold(
        self,
        hold_id: str,
        amount: Union[Optional[Decimal], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> CaptureHold:
        query = gql("""
            mutation CaptureHold($holdId: ID!, $amount: Money, $idempotencyKey: String, $dryRun: Boolean = false) {
              captureHold(
                input: {holdId: $holdId, amount: $amount, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on CaptureHoldSuccess {
                  hold {
                    id
                    status
                    amount
                    capturedAmount
                    resolvedAt
                  }
                  amount
                  transactionNumber
                  walletFrom {
                    id
                    balance
                    held
                    available
                  }
                  walletTo {
                    id
                    balance
                    held
                    available
                  }
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on HoldNotFound {
                  holdId
                }
                ... on HoldNotPending {
                  holdId
                  holdStatus
                }
                ... on HoldExpired {
                  holdId
                }
                ... on InsufficientFunds {
                  walletId
                  balance
                  available
                  requested
                }
                ... on BalanceLimitExceeded {
                  walletId
                  limit
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "holdId": hold_id,
            "amount": serialize_money(amount),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="CaptureHold", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return CaptureHold.model_validate(data)

    async def client(self, id: str, **kwargs: Any) -> Client:
        query = gql("""
            query Client($id: ID!) {
              client(id: $id) {
                id
                login
                name
                wallets {
                  id
                  balance
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = await self.execute(
            query=query, operation_name="Client", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Client.model_validate(data)

    async def create_client(
        self,
        login: str,
        name: str,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        currency: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> CreateClient:
        query = gql("""
            mutation CreateClient($login: String!, $name: String!, $idempotencyKey: String, $currency: String) {
              createClient(
                input: {login: $login, name: $name, currency: $currency, idempotencyKey: $idempotencyKey}
              ) {
                __typename
                ... on CreateClientSuccess {
                  client {
                    id
                    login
                    name
                  }
                  wallet {
                    id
                    currency
                    balance
                  }
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on LoginTaken {
                  login
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "login": login,
            "name": name,
            "idempotencyKey": idempotency_key,
            "currency": currency,
        }
        response = await self.execute(
            query=query, operation_name="CreateClient", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return CreateClient.model_validate(data)

    async def create_wallet(
        self,
        client_id: str,
        currency: str,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> CreateWallet:
        query = gql("""
            mutation CreateWallet($clientId: ID!, $currency: String!, $idempotencyKey: String) {
              createWallet(
                input: {clientId: $clientId, currency: $currency, idempotencyKey: $idempotencyKey}
              ) {
                __typename
                ... on CreateWalletSuccess {
                  wallet {
                    id
                    currency
                    balance
                    held
                    available
                    client {
                      id
                    }
                  }
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on ClientNotFound {
                  clientId
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "clientId": client_id,
            "currency": currency,
            "idempotencyKey": idempotency_key,
        }
        response = await self.execute(
            query=query, operation_name="CreateWallet", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return CreateWallet.model_validate(data)

    async def hold(self, id: str, **kwargs: Any) -> Hold:
        query = gql("""
            query Hold($id: ID!) {
              hold(id: $id) {
                id
                status
                currency
                amount
                capturedAmount
                expiresAt
                walletFromId
                walletToId
                reference
                metadata
                createdAt
                resolvedAt
                walletFrom {
                  id
                  balance
                  held
                  available
                }
                walletTo {
                  id
                  balance
                  held
                  available
                }
                transactions {
                  number
                  kind
                  amount
                  createdAt
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = await self.execute(
            query=query, operation_name="Hold", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Hold.model_validate(data)

    async def hold_transfer(
        self,
        wallet_from_id: str,
        wallet_to_id: str,
        amount: Decimal,
        expires_at: Union[Optional[datetime], UnsetType] = UNSET,
        reference: Union[Optional[str], UnsetType] = UNSET,
        metadata: Union[Optional[Metadata], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> HoldTransfer:
        query = gql("""
            mutation HoldTransfer($walletFromId: ID!, $walletToId: ID!, $amount: Money!, $expiresAt: DateTime, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
              holdTransfer(
                input: {walletFromId: $walletFromId, walletToId: $walletToId, amount: $amount, expiresAt: $expiresAt, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on HoldTransferSuccess {
                  hold {
                    id
                    status
                    currency
                    amount
                    expiresAt
                    walletFromId
                    walletToId
                    reference
                    metadata
                    createdAt
                  }
                  amount
                  expiresAt
                  transactionNumber
                  walletFrom {
                    id
                    currency
                    balance
                    held
                    available
                  }
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on WalletNotFound {
                  walletId
                }
                ... on CurrencyMismatch {
                  walletId
                  currency
                  expected
                }
                ... on InsufficientFunds {
                  walletId
                  balance
                  available
                  requested
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "walletFromId": wallet_from_id,
            "walletToId": wallet_to_id,
            "amount": serialize_money(amount),
            "expiresAt": serialize_datetime(expires_at),
            "reference": reference,
            "metadata": serialize_metadata(metadata),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="HoldTransfer", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return HoldTransfer.model_validate(data)

    async def ledger_summary(self, **kwargs: Any) -> LedgerSummary:
        query = gql("""
            query LedgerSummary {
              ledgerSummary {
                wallets
                totalBalance
                totalResupplied
                currencies {
                  currency
                  totalBalance
                  totalHeld
                  totalResupplied
                  totalWithdrawn
                }
              }
            }
            """)
        variables: dict[str, object] = {}
        response = await self.execute(
            query=query, operation_name="LedgerSummary", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return LedgerSummary.model_validate(data)

    async def refund(
        self,
        transaction_number: UUID,
        amount: Union[Optional[Decimal], UnsetType] = UNSET,
        reference: Union[Optional[str], UnsetType] = UNSET,
        metadata: Union[Optional[Metadata], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Refund:
        query = gql("""
            mutation Refund($transactionNumber: UUID!, $amount: Money, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
              refund(
                input: {transactionNumber: $transactionNumber, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on RefundSuccess {
                  transactionNumber
                  refundOf
                  amount
                  remaining
                  walletTo {
                    id
                    balance
                    held
                    available
                  }
                  walletsFrom {
                    walletId
                    amount
                    wallet {
                      id
                      balance
                      held
                      available
                    }
                  }
                  reference
                  metadata
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on TransactionNotFound {
                  transactionNumber
                }
                ... on RefundExceedsRemaining {
                  transactionNumber
                  remaining
                  requested
                }
                ... on InsufficientFunds {
                  walletId
                  balance
                  available
                  requested
                }
                ... on BalanceLimitExceeded {
                  walletId
                  limit
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "transactionNumber": serialize_uuid(transaction_number),
            "amount": serialize_money(amount),
            "reference": reference,
            "metadata": serialize_metadata(metadata),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="Refund", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Refund.model_validate(data)

    async def resupply(
        self,
        wallet_id: str,
        amount: Decimal,
        reference: Union[Optional[str], UnsetType] = UNSET,
        metadata: Union[Optional[Metadata], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Resupply:
        query = gql("""
            mutation Resupply($walletId: ID!, $amount: Money!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
              resupply(
                input: {walletId: $walletId, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on ResupplySuccess {
                  walletId
                  amount
                  transactionNumber
                  walletBalance
                  reference
                  metadata
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on WalletNotFound {
                  walletId
                }
                ... on BalanceLimitExceeded {
                  walletId
                  limit
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "walletId": wallet_id,
            "amount": serialize_money(amount),
            "reference": reference,
            "metadata": serialize_metadata(metadata),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="Resupply", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Resupply.model_validate(data)

    async def split_transfer(
        self,
        wallet_from_id: str,
        legs: list[SplitLegInput],
        reference: Union[Optional[str], UnsetType] = UNSET,
        metadata: Union[Optional[Metadata], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> SplitTransfer:
        query = gql("""
            mutation SplitTransfer($walletFromId: ID!, $legs: [SplitLegInput!]!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
              splitTransfer(
                input: {walletFromId: $walletFromId, legs: $legs, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on SplitTransferSuccess {
                  transactionNumber
                  amount
                  walletFromBalance
                  walletFrom {
                    id
                    balance
                    held
                    available
                  }
                  legs {
                    walletToId
                    amount
                    reference
                    walletTo {
                      id
                      balance
                    }
                  }
                  reference
                  metadata
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on WalletNotFound {
                  walletId
                }
                ... on CurrencyMismatch {
                  walletId
                  currency
                  expected
                }
                ... on InsufficientFunds {
                  walletId
                  balance
                  available
                  requested
                }
                ... on BalanceLimitExceeded {
                  walletId
                  limit
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "walletFromId": wallet_from_id,
            "legs": legs,
            "reference": reference,
            "metadata": serialize_metadata(metadata),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="SplitTransfer", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return SplitTransfer.model_validate(data)

    async def transaction(self, number: UUID, **kwargs: Any) -> Transaction:
        query = gql("""
            query Transaction($number: UUID!) {
              transaction(number: $number) {
                number
                kind
                currency
                amount
                reference
                metadata
                createdAt
                refundable
                refundOf {
                  number
                }
                refunds {
                  number
                  amount
                }
                hold {
                  id
                  status
                }
                legs {
                  id
                  kind
                  amount
                  balanceAfter
                  wallet {
                    id
                  }
                  counterpartyWalletId
                }
              }
            }
            """)
        variables: dict[str, object] = {"number": serialize_uuid(number)}
        response = await self.execute(
            query=query, operation_name="Transaction", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Transaction.model_validate(data)

    async def transactions(
        self,
        filter_: Union[Optional[TransactionFilter], UnsetType] = UNSET,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Transactions:
        query = gql("""
            query Transactions($filter: TransactionFilter, $first: Int, $after: String) {
              transactions(filter: $filter, first: $first, after: $after) {
                edges {
                  cursor
                  node {
                    number
                    kind
                    currency
                    amount
                    reference
                    metadata
                    createdAt
                    refundable
                    refundOf {
                      number
                    }
                    refunds {
                      number
                      amount
                    }
                    hold {
                      id
                      status
                    }
                    legs {
                      kind
                      amount
                      balanceAfter
                      wallet {
                        id
                      }
                    }
                  }
                }
                pageInfo {
                  hasNextPage
                  endCursor
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "filter": filter_,
            "first": first,
            "after": after,
        }
        response = await self.execute(
            query=query, operation_name="Transactions", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Transactions.model_validate(data)

    async def transfer(
        self,
        wallet_from_id: str,
        wallet_to_id: str,
        amount: Decimal,
        reference: Union[Optional[str], UnsetType] = UNSET,
        metadata: Union[Optional[Metadata], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Transfer:
        query = gql("""
            mutation Transfer($walletFromId: ID!, $walletToId: ID!, $amount: Money!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
              transfer(
                input: {walletFromId: $walletFromId, walletToId: $walletToId, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on TransferSuccess {
                  walletFromId
                  walletToId
                  amount
                  transactionNumber
                  walletFromBalance
                  walletToBalance
                  reference
                  metadata
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on WalletNotFound {
                  walletId
                }
                ... on CurrencyMismatch {
                  walletId
                  currency
                  expected
                }
                ... on InsufficientFunds {
                  walletId
                  balance
                  available
                  requested
                }
                ... on BalanceLimitExceeded {
                  walletId
                  limit
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "walletFromId": wallet_from_id,
            "walletToId": wallet_to_id,
            "amount": serialize_money(amount),
            "reference": reference,
            "metadata": serialize_metadata(metadata),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="Transfer", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Transfer.model_validate(data)

    async def void_hold(
        self,
        hold_id: str,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> VoidHold:
        query = gql("""
            mutation VoidHold($holdId: ID!, $idempotencyKey: String, $dryRun: Boolean = false) {
              voidHold(
                input: {holdId: $holdId, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on VoidHoldSuccess {
                  hold {
                    id
                    status
                    amount
                    resolvedAt
                  }
                  amount
                  transactionNumber
                  walletFrom {
                    id
                    balance
                    held
                    available
                  }
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on HoldNotFound {
                  holdId
                }
                ... on HoldNotPending {
                  holdId
                  holdStatus
                }
                ... on HoldExpired {
                  holdId
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "holdId": hold_id,
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="VoidHold", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return VoidHold.model_validate(data)

    async def wallet(
        self,
        id: str,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        last: Union[Optional[int], UnsetType] = UNSET,
        before: Union[Optional[str], UnsetType] = UNSET,
        since: Union[Optional[datetime], UnsetType] = UNSET,
        until: Union[Optional[datetime], UnsetType] = UNSET,
        hold_status: Union[Optional[HoldStatus], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Wallet:
        query = gql("""
            query Wallet($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $since: DateTime, $until: DateTime, $holdStatus: HoldStatus) {
              wallet(id: $id) {
                id
                currency
                balance
                held
                available
                client {
                  id
                  login
                }
                holds(status: $holdStatus) {
                  id
                  status
                  amount
                  capturedAmount
                  expiresAt
                  walletFromId
                  walletToId
                }
                operations(
                  first: $first
                  after: $after
                  last: $last
                  before: $before
                  since: $since
                  until: $until
                ) {
                  edges {
                    cursor
                    node {
                      id
                      transactionNumber
                      kind
                      amount
                      balanceAfter
                      reference
                      metadata
                      counterpartyWalletId
                      createdAt
                    }
                  }
                  pageInfo {
                    hasNextPage
                    hasPreviousPage
                    startCursor
                    endCursor
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "id": id,
            "first": first,
            "after": after,
            "last": last,
            "before": before,
            "since": serialize_datetime(since),
            "until": serialize_datetime(until),
            "holdStatus": hold_status,
        }
        response = await self.execute(
            query=query, operation_name="Wallet", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Wallet.model_validate(data)

    async def wallet_events(
        self,
        wallet_id: str,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> AsyncIterator[WalletEvents]:
        query = gql("""
            subscription WalletEvents($walletId: ID!, $after: String) {
              walletEvents(walletId: $walletId, after: $after) {
                __typename
                ... on WalletEvent {
                  cursor
                  id
                  walletId
                  sequence
                  kind
                  amount
                  heldChange
                  balance
                  available
                  currency
                  transactionNumber
                  reference
                  metadata
                  holdId
                  createdAt
                }
                ... on SubscriptionEnded {
                  reason
                  message
                  resumeAfter
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on WalletNotFound {
                  walletId
                }
              }
            }
            """)
        variables: dict[str, object] = {"walletId": wallet_id, "after": after}
        async for data in self.execute_ws(
            query=query, operation_name="WalletEvents", variables=variables, **kwargs
        ):
            yield WalletEvents.model_validate(data)

    async def wallets(self, ids: list[str], **kwargs: Any) -> Wallets:
        query = gql("""
            query Wallets($ids: [ID!]!) {
              wallets(ids: $ids) {
                id
                currency
                balance
                held
                available
              }
            }
            """)
        variables: dict[str, object] = {"ids": ids}
        response = await self.execute(
            query=query, operation_name="Wallets", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Wallets.model_validate(data)

    async def withdraw(
        self,
        wallet_id: str,
        amount: Decimal,
        reference: Union[Optional[str], UnsetType] = UNSET,
        metadata: Union[Optional[Metadata], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        dry_run: Union[Optional[bool], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Withdraw:
        query = gql("""
            mutation Withdraw($walletId: ID!, $amount: Money!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
              withdraw(
                input: {walletId: $walletId, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
              ) {
                __typename
                ... on WithdrawSuccess {
                  walletId
                  amount
                  transactionNumber
                  walletBalance
                  wallet {
                    id
                    balance
                    held
                    available
                  }
                  reference
                  metadata
                  dryRun
                  replayed
                }
                ... on Error {
                  code
                  message
                }
                ... on InvalidInput {
                  field
                }
                ... on WalletNotFound {
                  walletId
                }
                ... on InsufficientFunds {
                  walletId
                  balance
                  available
                  requested
                }
                ... on IdempotencyKeyReused {
                  idempotencyKey
                }
                ... on PermissionDenied {
                  operation
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "walletId": wallet_id,
            "amount": serialize_money(amount),
            "reference": reference,
            "metadata": serialize_metadata(metadata),
            "idempotencyKey": idempotency_key,
            "dryRun": dry_run,
        }
        response = await self.execute(
            query=query, operation_name="Withdraw", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Withdraw.model_validate(data)
