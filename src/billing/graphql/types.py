"""Object types: clients, wallets and the success payloads of mutations."""

from __future__ import annotations

import uuid

import strawberry

from billing.domain.records import ClientRecord, NewClient, Resupplied, Transferred, WalletRecord
from billing.graphql.context import Context
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

    @strawberry.field(description="The owner of this wallet.")
    async def client(self, info: strawberry.Info[Context, None]) -> Client:
        record = await info.context.loaders.client.load(self.client_id)
        if record is None:  # a foreign key guarantees the owner exists
            raise LookupError(f"client {self.client_id} of wallet {self.id} not found")
        return Client.from_record(record)

    @classmethod
    def from_record(cls, record: WalletRecord) -> Wallet:
        return cls(id=gid(record.id), balance=money(record.balance), client_id=record.client_id)


@strawberry.type(description="The new client and its first wallet.")
class CreateClientSuccess:
    client: Client
    wallet: Wallet

    @classmethod
    def from_domain(cls, done: NewClient) -> CreateClientSuccess:
        return cls(client=Client.from_record(done.client), wallet=Wallet.from_record(done.wallet))


@strawberry.type(description="Money credited to a wallet.")
class ResupplySuccess:
    wallet_id: strawberry.ID
    amount: Money
    transaction_number: uuid.UUID = strawberry.field(description="Unique id of this operation.")
    wallet_balance: Money = strawberry.field(description="The balance right after this resupply.")
    wallet: Wallet = strawberry.field(description="The wallet as it was right after this resupply.")

    @classmethod
    def from_domain(cls, done: Resupplied) -> ResupplySuccess:
        return cls(
            wallet_id=gid(done.wallet.id),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_balance=money(done.wallet.balance),
            wallet=Wallet.from_record(done.wallet),
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

    @classmethod
    def from_domain(cls, done: Transferred) -> TransferSuccess:
        return cls(
            wallet_from_id=gid(done.wallet_from.id),
            wallet_to_id=gid(done.wallet_to.id),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_from_balance=money(done.wallet_from.balance),
            wallet_to_balance=money(done.wallet_to.balance),
            wallet_from=Wallet.from_record(done.wallet_from),
            wallet_to=Wallet.from_record(done.wallet_to),
        )
