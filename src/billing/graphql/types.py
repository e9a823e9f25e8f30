"""Object types: clients, wallets and the success payloads of mutations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from billing.domain import history
from billing.domain.records import ClientRecord, NewClient, Resupplied, Transferred, WalletRecord
from billing.graphql.context import Context
from billing.graphql.history import OperationConnection, as_utc, operations_connection
from billing.graphql.scalars import Money, money


def gid(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.type(description="A customer. Created with its first wallet.")
class Client:
    id: strawberry.ID
    login: str = strawberry.field(description="Unique, compared ignoring case.")
    name: str

    @strawberry.field(description="The client's wallets, oldest first.")
    async def wallets(self, info: strawberry.Info[Context, None]) -> list[Wallet]:
        records = await info.context.loaders.wallets_of_client.load(int(self.id))
        return [Wallet.from_record(r) for r in records]

    @classmethod
    def from_record(cls, record: ClientRecord) -> Client:
        return cls(id=gid(record.id), login=record.login, name=record.name)


@strawberry.type(description="A wallet: a balance owned by one client.")
class Wallet:
    id: strawberry.ID
    balance: Money = strawberry.field(description="Never negative.")
    client_id: strawberry.Private[int]
    owner: strawberry.Private[ClientRecord | None] = None

    @strawberry.field(description="The owner of this wallet.")
    async def client(self, info: strawberry.Info[Context, None]) -> Client:
        record = self.owner or await info.context.loaders.client.load(self.client_id)
        if record is None:  # a foreign key guarantees the owner exists
            raise LookupError(f"client {self.client_id} of wallet {self.id} not found")
        return Client.from_record(record)

    @strawberry.field(description="The wallet's operations, newest first, in pages.")
    async def operations(
        self,
        info: strawberry.Info[Context, None],
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        since: Annotated[
            datetime | None, strawberry.argument(description="Only operations at or after this.")
        ] = None,
        until: Annotated[
            datetime | None, strawberry.argument(description="Only operations before this time.")
        ] = None,
    ) -> OperationConnection:
        return await operations_connection(
            info,
            int(self.id),
            first=first,
            after=after,
            last=last,
            before=before,
            since=since,
            until=until,
        )

    @strawberry.field(
        description=(
            "The balance as it was at that instant (times without an offset are UTC); null"
            " if the wallet did not exist yet."
        )
    )
    async def balance_at(
        self, info: strawberry.Info[Context, None], time: datetime
    ) -> Money | None:
        at = as_utc(time, "time")
        assert at is not None
        balance = await info.context.reader.run(
            lambda conn: history.balance_at(conn, int(self.id), at)
        )
        return None if balance is None else money(balance)

    @classmethod
    def from_record(cls, record: WalletRecord) -> Wallet:
        return cls(
            id=gid(record.id),
            balance=money(record.balance),
            client_id=record.client_id,
            owner=record.owner,
        )


@strawberry.type(description="The new client and its first wallet.")
class CreateClientSuccess:
    client: Client
    wallet: Wallet
    replayed: bool = strawberry.field(
        description="True when this answers a repeated request with the same idempotency key."
    )

    @classmethod
    def from_domain(cls, done: NewClient) -> CreateClientSuccess:
        return cls(
            client=Client.from_record(done.client),
            wallet=Wallet.from_record(done.wallet),
            replayed=done.replayed,
        )


@strawberry.type(description="Money credited to a wallet.")
class ResupplySuccess:
    wallet_id: strawberry.ID
    amount: Money
    transaction_number: uuid.UUID = strawberry.field(description="Unique id of this operation.")
    wallet_balance: Money = strawberry.field(description="The balance right after this resupply.")
    wallet: Wallet = strawberry.field(description="The wallet as it was right after this resupply.")
    reference: str | None
    replayed: bool = strawberry.field(
        description="True when this answers a repeated request with the same idempotency key."
    )

    @classmethod
    def from_domain(cls, done: Resupplied) -> ResupplySuccess:
        return cls(
            wallet_id=gid(done.wallet.id),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_balance=money(done.wallet.balance),
            wallet=Wallet.from_record(done.wallet),
            reference=done.reference,
            replayed=done.replayed,
        )


@strawberry.type(description="Money moved from one wallet to another.")
class TransferSuccess:
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID
    amount: Money
    transaction_number: uuid.UUID = strawberry.field(description="Unique id of this operation.")
    wallet_from_balance: Money = strawberry.field(
        description="The sending wallet's balance right after this transfer."
    )
    wallet_to_balance: Money | None = strawberry.field(
        description=(
            "The receiving wallet's balance right after this transfer; null when the caller may"
            " not see the receiving wallet."
        )
    )
    wallet_from: Wallet
    wallet_to: Wallet | None = strawberry.field(
        description="The receiving wallet; null when the caller may not see it."
    )
    reference: str | None
    replayed: bool = strawberry.field(
        description="True when this answers a repeated request with the same idempotency key."
    )

    @classmethod
    def from_domain(cls, done: Transferred) -> TransferSuccess:
        return cls(
            wallet_from_id=gid(done.wallet_from.id),
            wallet_to_id=gid(done.wallet_to_id),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_from_balance=money(done.wallet_from.balance),
            wallet_to_balance=None if done.wallet_to is None else money(done.wallet_to.balance),
            wallet_from=Wallet.from_record(done.wallet_from),
            wallet_to=None if done.wallet_to is None else Wallet.from_record(done.wallet_to),
            reference=done.reference,
            replayed=done.replayed,
        )
