"""Query and Mutation roots. Each resolver: input -> one domain call -> result type."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from billing.db.database import Database
from billing.domain import clients, history, holds, payments, reads, refunds, webhooks
from billing.domain.access import Actor
from billing.domain.validation import parse_id
from billing.errors import OperationError
from billing.graphql.context import Context
from billing.graphql.errors import Error, result_union, to_error
from billing.graphql.history import (
    Transaction,
    TransactionConnection,
    TransactionFilter,
    as_utc,
    transactions_connection,
)
from billing.graphql.inputs import (
    CaptureHoldInput,
    CreateClientInput,
    CreateCurrencyInput,
    CreateWalletInput,
    HoldTransferInput,
    RefundInput,
    ResupplyInput,
    SplitTransferInput,
    TransferInput,
    VoidHoldInput,
    WithdrawInput,
)
from billing.graphql.scalars import Money, money
from billing.graphql.types import (
    CaptureHoldSuccess,
    Client,
    CreateClientSuccess,
    CreateCurrencySuccess,
    CreateWalletSuccess,
    Currency,
    Hold,
    HoldTransferSuccess,
    RefundSuccess,
    ResupplySuccess,
    SplitTransferSuccess,
    TransferSuccess,
    VoidHoldSuccess,
    Wallet,
    WithdrawSuccess,
)
from billing.graphql.webhooks import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointSuccess,
    DeleteWebhookEndpointSuccess,
    DisableWebhookEndpointSuccess,
    EnableWebhookEndpointSuccess,
    ResendWebhookDeliverySuccess,
    WebhookDeliveryConnection,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    deliveries_connection,
)
from billing.http.observability import observe_result

Info = strawberry.Info[Context, None]
MAX_WALLETS = 100
ZERO = Decimal(0)


@strawberry.type(description="Totals over one currency's wallets.")
class CurrencyTotals:
    currency: str
    wallets: int
    total_balance: Money = strawberry.field(description="The sum of the wallets' balances.")
    total_held: Money = strawberry.field(description="What unexpired holds reserve on them.")
    total_resupplied: Money = strawberry.field(description="Everything ever credited by resupply.")
    total_withdrawn: Money = strawberry.field(
        description="Everything ever paid out; totalBalance = totalResupplied - totalWithdrawn in"
        " a sound ledger."
    )

    @classmethod
    def from_domain(cls, t: reads.CurrencyTotals) -> CurrencyTotals:
        return cls(
            currency=t.currency,
            wallets=t.wallets,
            total_balance=money(t.total_balance),
            total_held=money(t.total_held),
            total_resupplied=money(t.total_resupplied),
            total_withdrawn=money(t.total_withdrawn),
        )


@strawberry.type(description="Totals over the whole ledger.")
class LedgerSummary:
    wallets: int = strawberry.field(description="Wallets in every currency.")
    total_balance: Money = strawberry.field(
        description="The sum of the balances of the wallets in the default currency."
    )
    total_resupplied: Money = strawberry.field(
        description="Everything ever resupplied in the default currency (less what was"
        " withdrawn, it equals totalBalance in a sound ledger)."
    )
    currencies: list[CurrencyTotals] = strawberry.field(
        description="Per currency that has wallets, by code."
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
        default = next(
            (t for t in totals.currencies if t.currency == info.context.default_currency), None
        )
        return LedgerSummary(
            wallets=totals.wallets,
            total_balance=money(default.total_balance if default else ZERO),
            total_resupplied=money(default.total_resupplied if default else ZERO),
            currencies=[CurrencyTotals.from_domain(t) for t in totals.currencies],
        )

    @strawberry.field(description="The currencies and assets wallets may hold, by code.")
    async def currencies(self, info: Info) -> list[Currency]:
        found = await info.context.reader.run(clients.currencies)
        return [Currency.from_record(c) for c in found]

    @strawberry.field(description="A hold by id; null if there is none (or it is not yours).")
    async def hold(self, info: Info, id: strawberry.ID) -> Hold | None:
        key = parse_id(id)
        if key is None:
            return None
        owner = info.context.actor.owner_filter
        found = await info.context.reader.run(lambda conn: holds.hold_of(conn, key, owner))
        return None if found is None else Hold.from_record(found)

    @strawberry.field(
        description=(
            "Transactions, newest first, in pages; operators see all, client tokens those that"
            " touch their wallets."
        )
    )
    async def transactions(
        self,
        info: Info,
        filter: TransactionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TransactionConnection:
        return await transactions_connection(info, filter, first, after)

    @strawberry.field(description="A transaction with its legs, by its number; null if none.")
    async def transaction(self, info: Info, number: uuid.UUID) -> Transaction | None:
        record = await info.context.reader.run(
            lambda conn: history.transaction_by_number(
                conn, number, info.context.actor.owner_filter
            )
        )
        return None if record is None else Transaction.from_record(record)

    @strawberry.field(
        description="The webhook endpoints, oldest first; operators only (null for client tokens)."
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint] | None:
        if not info.context.actor.is_operator:
            return None
        found = await info.context.reader.run(webhooks.endpoints)
        return [WebhookEndpoint.from_record(e) for e in found]

    @strawberry.field(
        description="An endpoint's deliveries, newest first, in pages; only those of one status"
        " if given. Null if there is no such endpoint; operators only (null for client tokens)."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection | None:
        key = parse_id(endpoint_id)
        if key is None or not info.context.actor.is_operator:
            return None
        return await deliveries_connection(info, key, status, first, after)


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
                currency=input.currency,
                default_currency=info.context.default_currency,
                idempotency_key=input.idempotency_key,
            ),
            CreateClientSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Open another wallet for a client, in any currency.",
        graphql_type=result_union(
            "CreateWalletResult", CreateWalletSuccess, clients.CREATE_WALLET_FAILURES
        ),
    )
    async def create_wallet(
        self, info: Info, input: CreateWalletInput
    ) -> CreateWalletSuccess | Error:
        return await perform(
            info,
            lambda db, actor: clients.create_wallet(
                db,
                actor=actor,
                client_id=input.client_id,
                currency=input.currency,
                idempotency_key=input.idempotency_key,
            ),
            CreateWalletSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Add an asset of your own (operators only), e.g. loyalty points.",
        graphql_type=result_union(
            "CreateCurrencyResult", CreateCurrencySuccess, clients.CREATE_CURRENCY_FAILURES
        ),
    )
    async def create_currency(
        self, info: Info, input: CreateCurrencyInput
    ) -> CreateCurrencySuccess | Error:
        return await perform(
            info,
            lambda db, actor: clients.create_currency(
                db, actor=actor, code=input.code, exponent=input.exponent, name=input.name
            ),
            CreateCurrencySuccess.from_domain,
        )

    @strawberry.mutation(
        description="Credit money to a wallet from outside the ledger (operators only).",
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
                metadata=input.metadata,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            ResupplySuccess.from_domain,
        )

    @strawberry.mutation(
        description="Pay money out of a wallet, out of the ledger (operators only).",
        graphql_type=result_union("WithdrawResult", WithdrawSuccess, payments.WITHDRAW_FAILURES),
    )
    async def withdraw(self, info: Info, input: WithdrawInput) -> WithdrawSuccess | Error:
        return await perform(
            info,
            lambda db, actor: payments.withdraw(
                db,
                actor=actor,
                wallet_id=input.wallet_id,
                amount=input.amount,
                reference=input.reference,
                metadata=input.metadata,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            WithdrawSuccess.from_domain,
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
                metadata=input.metadata,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            TransferSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Pay several wallets from one in one transaction, all or nothing.",
        graphql_type=result_union(
            "SplitTransferResult", SplitTransferSuccess, payments.SPLIT_FAILURES
        ),
    )
    async def split_transfer(
        self, info: Info, input: SplitTransferInput
    ) -> SplitTransferSuccess | Error:
        return await perform(
            info,
            lambda db, actor: payments.split_transfer(
                db,
                actor=actor,
                wallet_from_id=input.wallet_from_id,
                legs=[
                    payments.SplitLeg(leg.wallet_to_id, leg.amount, leg.reference)
                    for leg in input.legs
                ],
                reference=input.reference,
                metadata=input.metadata,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            SplitTransferSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Reserve money on a wallet for another, to capture or void later.",
        graphql_type=result_union("HoldTransferResult", HoldTransferSuccess, holds.HOLD_FAILURES),
    )
    async def hold_transfer(
        self, info: Info, input: HoldTransferInput
    ) -> HoldTransferSuccess | Error:
        return await perform(
            info,
            lambda db, actor: holds.hold_transfer(
                db,
                actor=actor,
                wallet_from_id=input.wallet_from_id,
                wallet_to_id=input.wallet_to_id,
                amount=input.amount,
                expires_at=as_utc(input.expires_at, "expiresAt"),
                reference=input.reference,
                metadata=input.metadata,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            HoldTransferSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Move all or part of a pending hold to its receiving wallet; the rest is"
        " released (operators only).",
        graphql_type=result_union("CaptureHoldResult", CaptureHoldSuccess, holds.CAPTURE_FAILURES),
    )
    async def capture_hold(self, info: Info, input: CaptureHoldInput) -> CaptureHoldSuccess | Error:
        return await perform(
            info,
            lambda db, actor: holds.capture_hold(
                db,
                actor=actor,
                hold_id=input.hold_id,
                amount=input.amount,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            CaptureHoldSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Release a pending hold in full (operators only).",
        graphql_type=result_union("VoidHoldResult", VoidHoldSuccess, holds.VOID_FAILURES),
    )
    async def void_hold(self, info: Info, input: VoidHoldInput) -> VoidHoldSuccess | Error:
        return await perform(
            info,
            lambda db, actor: holds.void_hold(
                db,
                actor=actor,
                hold_id=input.hold_id,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            VoidHoldSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Send money of a payment back to the wallet that paid: all that remains,"
        " or part.",
        graphql_type=result_union("RefundResult", RefundSuccess, refunds.REFUND_FAILURES),
    )
    async def refund(self, info: Info, input: RefundInput) -> RefundSuccess | Error:
        return await perform(
            info,
            lambda db, actor: refunds.refund(
                db,
                actor=actor,
                transaction_number=input.transaction_number,
                amount=input.amount,
                reference=input.reference,
                metadata=input.metadata,
                idempotency_key=input.idempotency_key,
                dry_run=input.dry_run,
            ),
            RefundSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Register a URL that receives events, signed with a secret of its own"
        " (operators only). The secret is shown in this answer only.",
        graphql_type=result_union(
            "CreateWebhookEndpointResult",
            CreateWebhookEndpointSuccess,
            webhooks.CREATE_ENDPOINT_FAILURES,
        ),
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointSuccess | Error:
        return await perform(
            info,
            lambda db, actor: webhooks.create_endpoint(
                db,
                actor=actor,
                url=input.url,
                events=input.events,
                description=input.description,
                allow_private=info.context.webhooks_allow_private,
            ),
            CreateWebhookEndpointSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Stop delivering to an endpoint (operators only): its pending deliveries"
        " wait, and events meanwhile are not delivered to it.",
        graphql_type=result_union(
            "DisableWebhookEndpointResult",
            DisableWebhookEndpointSuccess,
            webhooks.ENDPOINT_FAILURES,
        ),
    )
    async def disable_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> DisableWebhookEndpointSuccess | Error:
        return await perform(
            info,
            lambda db, actor: webhooks.set_enabled(db, actor=actor, endpoint_id=id, enabled=False),
            DisableWebhookEndpointSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Deliver to an endpoint again (operators only): its pending deliveries"
        " resume, their retries started over.",
        graphql_type=result_union(
            "EnableWebhookEndpointResult",
            EnableWebhookEndpointSuccess,
            webhooks.ENDPOINT_FAILURES,
        ),
    )
    async def enable_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> EnableWebhookEndpointSuccess | Error:
        return await perform(
            info,
            lambda db, actor: webhooks.set_enabled(db, actor=actor, endpoint_id=id, enabled=True),
            EnableWebhookEndpointSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Delete an endpoint and its deliveries (operators only).",
        graphql_type=result_union(
            "DeleteWebhookEndpointResult",
            DeleteWebhookEndpointSuccess,
            webhooks.ENDPOINT_FAILURES,
        ),
    )
    async def delete_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> DeleteWebhookEndpointSuccess | Error:
        return await perform(
            info,
            lambda db, actor: webhooks.delete_endpoint(db, actor=actor, endpoint_id=id),
            DeleteWebhookEndpointSuccess.from_domain,
        )

    @strawberry.mutation(
        description="Send a delivery again, due now, its retries started over (operators"
        " only); it still waits for its wallet's earlier events and for its endpoint to be"
        " enabled.",
        graphql_type=result_union(
            "ResendWebhookDeliveryResult",
            ResendWebhookDeliverySuccess,
            webhooks.RESEND_FAILURES,
        ),
    )
    async def resend_webhook_delivery(
        self, info: Info, id: strawberry.ID
    ) -> ResendWebhookDeliverySuccess | Error:
        return await perform(
            info,
            lambda db, actor: webhooks.resend(db, actor=actor, delivery_id=id),
            ResendWebhookDeliverySuccess.from_domain,
        )
