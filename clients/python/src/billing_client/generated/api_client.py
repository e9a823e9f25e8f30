from datetime import datetime
from decimal import Decimal
from typing import Any, Optional, Union
from uuid import UUID

from billing_client.scalars import (
    serialize_datetime,
    serialize_money,
    serialize_uuid,
)

from .async_base_client import AsyncBaseClient
from .balance_at import BalanceAt
from .base_model import UNSET, UnsetType
from .client import Client
from .create_client import CreateClient
from .ledger_summary import LedgerSummary
from .resupply import Resupply
from .transaction import Transaction
from .transfer import Transfer
from .wallet import Wallet
from .wallets import Wallets


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
        **kwargs: Any,
    ) -> CreateClient:
        query = gql("""
            mutation CreateClient($login: String!, $name: String!, $idempotencyKey: String) {
              createClient(
                input: {login: $login, name: $name, idempotencyKey: $idempotencyKey}
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
        }
        response = await self.execute(
            query=query, operation_name="CreateClient", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return CreateClient.model_validate(data)

    async def ledger_summary(self, **kwargs: Any) -> LedgerSummary:
        query = gql("""
            query LedgerSummary {
              ledgerSummary {
                wallets
                totalBalance
                totalResupplied
              }
            }
            """)
        variables: dict[str, object] = {}
        response = await self.execute(
            query=query, operation_name="LedgerSummary", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return LedgerSummary.model_validate(data)

    async def resupply(
        self,
        wallet_id: str,
        amount: Decimal,
        reference: Union[Optional[str], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Resupply:
        query = gql("""
            mutation Resupply($walletId: ID!, $amount: Money!, $reference: String, $idempotencyKey: String) {
              resupply(
                input: {walletId: $walletId, amount: $amount, reference: $reference, idempotencyKey: $idempotencyKey}
              ) {
                __typename
                ... on ResupplySuccess {
                  walletId
                  amount
                  transactionNumber
                  walletBalance
                  reference
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
            "idempotencyKey": idempotency_key,
        }
        response = await self.execute(
            query=query, operation_name="Resupply", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Resupply.model_validate(data)

    async def transaction(self, number: UUID, **kwargs: Any) -> Transaction:
        query = gql("""
            query Transaction($number: UUID!) {
              transaction(number: $number) {
                number
                kind
                amount
                reference
                createdAt
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

    async def transfer(
        self,
        wallet_from_id: str,
        wallet_to_id: str,
        amount: Decimal,
        reference: Union[Optional[str], UnsetType] = UNSET,
        idempotency_key: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Transfer:
        query = gql("""
            mutation Transfer($walletFromId: ID!, $walletToId: ID!, $amount: Money!, $reference: String, $idempotencyKey: String) {
              transfer(
                input: {walletFromId: $walletFromId, walletToId: $walletToId, amount: $amount, reference: $reference, idempotencyKey: $idempotencyKey}
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
            "idempotencyKey": idempotency_key,
        }
        response = await self.execute(
            query=query, operation_name="Transfer", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Transfer.model_validate(data)

    async def wallet(
        self,
        id: str,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        last: Union[Optional[int], UnsetType] = UNSET,
        before: Union[Optional[str], UnsetType] = UNSET,
        since: Union[Optional[datetime], UnsetType] = UNSET,
        until: Union[Optional[datetime], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Wallet:
        query = gql("""
            query Wallet($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $since: DateTime, $until: DateTime) {
              wallet(id: $id) {
                id
                balance
                client {
                  id
                  login
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
        }
        response = await self.execute(
            query=query, operation_name="Wallet", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Wallet.model_validate(data)

    async def wallets(self, ids: list[str], **kwargs: Any) -> Wallets:
        query = gql("""
            query Wallets($ids: [ID!]!) {
              wallets(ids: $ids) {
                id
                balance
              }
            }
            """)
        variables: dict[str, object] = {"ids": ids}
        response = await self.execute(
            query=query, operation_name="Wallets", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Wallets.model_validate(data)
