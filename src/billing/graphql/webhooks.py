"""Webhook types: endpoints, their deliveries (a Relay connection) and the events delivered."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain import webhooks
from billing.domain.records import (
    EventRecord,
    NewWebhookEndpoint,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
)
from billing.graphql.context import Context
from billing.graphql.history import PAGE_DEFAULT, PAGE_MAX, PageInfo, id_after, id_cursor
from billing.graphql.scalars import Metadata, Money, money

Info = strawberry.Info[Context, None]


def _id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.type(description="A URL that receives events as signed POST requests.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    events: list[str] = strawberry.field(
        description="The kinds of events it receives (e.g. TRANSFER, HOLD_EXPIRED); empty: all."
    )
    enabled: bool = strawberry.field(
        description="Disabled: no new events are delivered to it, its pending deliveries wait."
    )
    disabled_reason: str | None = strawberry.field(
        description="Why it is disabled: by an operator, or its deliveries kept failing."
    )
    created_at: datetime

    @classmethod
    def from_record(cls, r: WebhookEndpointRecord) -> WebhookEndpoint:
        return cls(
            id=_id(r.id),
            url=r.url,
            description=r.description,
            events=list(r.events),
            enabled=r.enabled,
            disabled_reason=r.disabled_reason,
            created_at=r.created_at,
        )


@strawberry.type(description="An event as a webhook carries it (its body's fields).")
class WebhookEvent:
    id: str = strawberry.field(description="evt_<number>: the webhook-id header, for dedupe.")
    type: str = strawberry.field(description="Its kind: a transaction's kind or HOLD_EXPIRED.")
    created_at: datetime
    wallet_id: strawberry.ID
    client_id: strawberry.ID = strawberry.field(description="The wallet's owner.")
    sequence: int = strawberry.field(
        description="1, 2, 3... per wallet, in the order the changes were committed."
    )
    currency: str
    amount: Money = strawberry.field(description="Signed change of the balance.")
    held_change: Money = strawberry.field(description="Signed change of what holds reserve.")
    balance: Money = strawberry.field(description="The balance right after it.")
    available: Money | None = strawberry.field(
        description="What was available right after it (null for older events)."
    )
    transaction_number: uuid.UUID | None = strawberry.field(description="Null for an expiry.")
    reference: str | None
    metadata: Metadata
    hold_id: strawberry.ID | None

    @classmethod
    def from_record(cls, e: EventRecord) -> WebhookEvent:
        return cls(
            id=f"evt_{e.id}",
            type=e.kind,
            created_at=e.created_at,
            wallet_id=_id(e.wallet_id),
            client_id=_id(e.client_id),
            sequence=e.seq,
            currency=e.currency,
            amount=money(e.amount),
            held_change=money(e.held_change),
            balance=money(e.balance),
            available=None if e.available is None else money(e.available),
            transaction_number=e.transaction_number,
            reference=e.reference,
            metadata=Metadata(e.metadata),
            hold_id=None if e.hold_id is None else _id(e.hold_id),
        )


@strawberry.enum(description="Where a webhook delivery stands.")
class WebhookDeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type(description="One event for one endpoint, and how its delivery went.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    status: WebhookDeliveryStatus = strawberry.field(
        description="PENDING until an attempt is answered with a 2xx (DELIVERED) or its retries"
        " run out (FAILED, and its endpoint is disabled)."
    )
    attempts: int = strawberry.field(
        description="Attempts so far (since it was last resent or its endpoint enabled)."
    )
    last_status: int | None = strawberry.field(
        description="The HTTP status of the last answer; null if none came."
    )
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next (once the wallet's earlier events are delivered);"
        " null unless pending."
    )
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    event: WebhookEvent

    @classmethod
    def from_record(cls, r: WebhookDeliveryRecord) -> WebhookDelivery:
        return cls(
            id=_id(r.id),
            endpoint_id=_id(r.endpoint_id),
            status=WebhookDeliveryStatus(r.status),
            attempts=r.attempts,
            last_status=r.last_status,
            last_error=r.last_error,
            next_attempt_at=r.next_attempt_at,
            last_attempt_at=r.last_attempt_at,
            delivered_at=r.delivered_at,
            created_at=r.created_at,
            event=WebhookEvent.from_record(r.event),
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description="Opaque; pass it as `after`.")
    node: WebhookDelivery


@strawberry.type(description="A page of an endpoint's deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo


async def deliveries_connection(
    info: Info,
    endpoint_id: int,
    status: WebhookDeliveryStatus | None,
    first: int | None,
    after: str | None,
) -> WebhookDeliveryConnection | None:
    size = PAGE_DEFAULT if first is None else first
    if not 0 <= size <= PAGE_MAX:
        raise GraphQLError(f"`first` must be between 0 and {PAGE_MAX}.")
    before = None if after is None else id_after(after, "d")

    async def read(conn: AsyncConnection) -> tuple[list[WebhookDeliveryRecord], bool] | None:
        if await webhooks.endpoint(conn, endpoint_id) is None:
            return None
        return await webhooks.deliveries_page(
            conn,
            endpoint_id,
            status=None if status is None else status.value,
            before=before,
            limit=size,
        )

    page = await info.context.reader.run(read)
    if page is None:
        return None
    found, more = page
    edges = [
        WebhookDeliveryEdge(cursor=id_cursor("d", r.id), node=WebhookDelivery.from_record(r))
        for r in found
    ]
    return WebhookDeliveryConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="http:// or https://, leading to a public address; at most 2000 characters."
    )
    events: list[str] = strawberry.field(
        default_factory=list,
        description="The kinds of events to receive: RESUPPLY, WITHDRAWAL, TRANSFER, SPLIT,"
        " HOLD, CAPTURE, VOID, REFUND, HOLD_EXPIRED. Empty (the default): all.",
    )
    description: str | None = strawberry.field(
        default=None, description="Free text for people, at most 500 characters."
    )


@strawberry.type(description="A new webhook endpoint, and its signing secret.")
class CreateWebhookEndpointSuccess:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="whsec_ and base64: the key of its signatures. Shown only here; keep it."
    )

    @classmethod
    def from_domain(cls, done: NewWebhookEndpoint) -> CreateWebhookEndpointSuccess:
        return cls(endpoint=WebhookEndpoint.from_record(done.endpoint), secret=done.secret)


@strawberry.type(description="The endpoint, disabled.")
class DisableWebhookEndpointSuccess:
    endpoint: WebhookEndpoint

    @classmethod
    def from_domain(cls, done: WebhookEndpointRecord) -> DisableWebhookEndpointSuccess:
        return cls(endpoint=WebhookEndpoint.from_record(done))


@strawberry.type(description="The endpoint, enabled: its pending deliveries resume.")
class EnableWebhookEndpointSuccess:
    endpoint: WebhookEndpoint

    @classmethod
    def from_domain(cls, done: WebhookEndpointRecord) -> EnableWebhookEndpointSuccess:
        return cls(endpoint=WebhookEndpoint.from_record(done))


@strawberry.type(description="The endpoint and its deliveries, deleted.")
class DeleteWebhookEndpointSuccess:
    id: strawberry.ID

    @classmethod
    def from_domain(cls, done: int) -> DeleteWebhookEndpointSuccess:
        return cls(id=_id(done))


@strawberry.type(description="The delivery, pending again and due now.")
class ResendWebhookDeliverySuccess:
    delivery: WebhookDelivery

    @classmethod
    def from_domain(cls, done: WebhookDeliveryRecord) -> ResendWebhookDeliverySuccess:
        return cls(delivery=WebhookDelivery.from_record(done))
