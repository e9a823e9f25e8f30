"""Query and Mutation roots. Each resolver: input -> one domain call -> result type."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry

from billing.domain import clients, history, payments
from billing.domain.access import Actor
from billing.domain.errors import OperationError
from billing.domain.transactions import Database
from billing.domain.validation import parse_id
from billing.graphql.context import Context
from billing.graphql.errors import (
    BalanceLimitExceeded,
    Error,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidInput,
    LoginTaken,
    OutcomeUnknown,
    PermissionDenied,
    ServiceUnavailable,
    TryAgain,
    WalletNotFound,
    to_error,
)
from billing.graphql.history import Transaction
from billing.graphql.inputs import CreateClientInput, ResupplyInput, TransferInput
from billing.graphql.types import (
    Client,
    CreateClientSuccess,
    ResupplySuccess,
    TransferSuccess,
    Wallet,
)

Info = strawberry.Info[Context, None]
T = TypeVar("T")
R = TypeVar("R")

CreateClientResult = Annotated[
    CreateClientSuccess
    | InvalidInput
    | LoginTaken
    | IdempotencyKeyReused
    | PermissionDenied
    | TryAgain
    | ServiceUnavailable
    | OutcomeUnknown,
    strawberry.union("CreateClientResult"),
]
ResupplyResult = Annotated[
    ResupplySuccess
    | InvalidInput
    | WalletNotFound
    | BalanceLimitExceeded
    | IdempotencyKeyReused
    | PermissionDenied
    | TryAgain
    | ServiceUnavailable
    | OutcomeUnknown,
    strawberry.union("ResupplyResult"),
]
TransferResult = Annotated[
    TransferSuccess
    | InvalidInput
    | WalletNotFound
    | InsufficientFunds
    | BalanceLimitExceeded
    | IdempotencyKeyReused
    | PermissionDenied
    | TryAgain
    | ServiceUnavailable
    | OutcomeUnknown,
    strawberry.union("TransferResult"),
]


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
        return to_error(exc)
    return success(done)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a client together with its first wallet.")
    async def create_client(self, info: Info, input: CreateClientInput) -> CreateClientResult:
        return await perform(  # type: ignore[return-value]  # the union lists what it raises
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

    @strawberry.mutation(description="Credit money to a wallet.")
    async def resupply(self, info: Info, input: ResupplyInput) -> ResupplyResult:
        return await perform(  # type: ignore[return-value]  # the union lists what it raises
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

    @strawberry.mutation(description="Move money from one wallet to another.")
    async def transfer(self, info: Info, input: TransferInput) -> TransferResult:
        return await perform(  # type: ignore[return-value]  # the union lists what it raises
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
