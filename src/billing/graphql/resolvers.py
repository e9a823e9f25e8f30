"""Query and Mutation roots. Each resolver: input -> one domain call -> result type."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from billing.db.database import Database
from billing.domain import clients, history, payments, reads
from billing.domain.access import Actor
from billing.domain.validation import parse_id
from billing.errors import OperationError
from billing.graphql.context import Context
from billing.graphql.errors import Error, result_union, to_error
from billing.graphql.history import Transaction
from billing.graphql.inputs import CreateClientInput, ResupplyInput, TransferInput
from billing.graphql.scalars import Money, money
from billing.graphql.types import (
    Client,
    CreateClientSuccess,
    ResupplySuccess,
    TransferSuccess,
    Wallet,
)
from billing.http.observability import observe_result

Info = strawberry.Info[Context, None]
MAX_WALLETS = 100


@strawberry.type(description="Totals over the whole ledger.")
class LedgerSummary:
    wallets: int
    total_balance: Money = strawberry.field(description="The sum of all wallets' balances.")
    total_resupplied: Money = strawberry.field(
        description="Everything ever credited by resupply; equals totalBalance in a sound ledger."
    )


T = TypeVar("T")
R = TypeVar("R")


@strawberry.type
class Query:
    @strawberry.field(description="A client by id; null if there is none.")
    async def client(self, info: Info, id: strawberry.ID) -> Client | None:
        key = parse_id(id)
        record = None if key is None else await info.context.loaders.client.load(key)
        return None if record is None else Client.from_record(record)

    @strawberry.field(description="A wallet by id; null if there is none.")
    async def wallet(self, info: Info, id: strawberry.ID) -> Wallet | None:
        key = parse_id(id)
        record = None if key is None else await info.context.loaders.wallet.load(key)
        return None if record is None else Wallet.from_record(record)

    @strawberry.field(
        description=(
            f"Several wallets at once (at most {MAX_WALLETS} ids), all read from one consistent"
            " snapshot; null for each id there is no wallet for."
        )
    )
    async def wallets(self, info: Info, ids: list[strawberry.ID]) -> list[Wallet | None]:
        if len(ids) > MAX_WALLETS:
            raise GraphQLError(f"`ids` may hold at most {MAX_WALLETS} ids.")
        keys = [parse_id(i) for i in ids]
        found = await info.context.loaders.wallet.load_many([k for k in keys if k is not None])
        records = iter(found)
        return [
            None if key is None or (record := next(records)) is None else Wallet.from_record(record)
            for key in keys
        ]

    @strawberry.field(
        description=(
            "Totals over the whole ledger from one consistent snapshot; operators only (null"
            " for client tokens)."
        )
    )
    async def ledger_summary(self, info: Info) -> LedgerSummary | None:
        if not info.context.actor.is_operator:
            return None
        totals = await info.context.reader.run(reads.ledger_totals)
        return LedgerSummary(
            wallets=totals.wallets,
            total_balance=money(totals.total_balance),
            total_resupplied=money(totals.total_resupplied),
        )

    @strawberry.field(description="A transaction with its legs, by its number; null if none.")
    async def transaction(self, info: Info, number: uuid.UUID) -> Transaction | None:
        record = await info.context.reader.run(
            lambda conn: history.transaction_by_number(
                conn, number, info.context.actor.owner_filter
            )
        )
        return None if record is None else Transaction.from_record(record)


async def perform(
    info: Info, operation: Callable[[Database, Actor], Awaitable[T]], success: Callable[[T], R]
) -> R | Error:
    """Run one domain operation for the caller; translate its outcome into a result type."""
    await info.context.before_write()
    try:
        done = await operation(info.context.db, info.context.actor)
    except OperationError as exc:
        return observe_result(info.field_name, to_error(exc))
    return observe_result(info.field_name, success(done))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create a client together with its first wallet.",
        graphql_type=result_union(
            "CreateClientResult", CreateClientSuccess, clients.CREATE_CLIENT_FAILURES
        ),
    )
    async def create_client(
        self, info: Info, input: CreateClientInput
    ) -> CreateClientSuccess | Error:
        return await perform(
            info,
            lambda db, actor: clients.create_client(
                db,
                actor=actor,
                login=input.login,
                name=input.name,
                idempotency_key=input.idempotency_key,
            ),
            CreateClientSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Credit money to a wallet.",
        graphql_type=result_union("ResupplyResult", ResupplySuccess, payments.RESUPPLY_FAILURES),
    )
    async def resupply(self, info: Info, input: ResupplyInput) -> ResupplySuccess | Error:
        return await perform(
            info,
            lambda db, actor: payments.resupply(
                db,
                actor=actor,
                wallet_id=input.wallet_id,
                amount=input.amount,
                reference=input.reference,
                idempotency_key=input.idempotency_key,
            ),
            ResupplySuccess.from_domain,
        )

    @strawberry.mutation(
        description="Move money from one wallet to another.",
        graphql_type=result_union("TransferResult", TransferSuccess, payments.TRANSFER_FAILURES),
    )
    async def transfer(self, info: Info, input: TransferInput) -> TransferSuccess | Error:
        return await perform(
            info,
            lambda db, actor: payments.transfer(
                db,
                actor=actor,
                wallet_from_id=input.wallet_from_id,
                wallet_to_id=input.wallet_to_id,
                amount=input.amount,
                reference=input.reference,
                idempotency_key=input.idempotency_key,
            ),
            TransferSuccess.from_domain,
        )
