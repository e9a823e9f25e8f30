"""The Subscription root: a wallet's events over WebSocket (graphql-transport-ws).

Each item of ``walletEvents`` is a ``WalletEventsItem``: an event, or why the subscription
ends (``SubscriptionEnded``: too slow, token revoked, ...; with the cursor to resume from), or
a typed error (``WalletNotFound``, ``InvalidInput``) as its one item. After an ending item or an
error the server completes the subscription. See docs/events.md.
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any, Union

import strawberry

from billing.domain.records import EventRecord
from billing.domain.validation import parse_id
from billing.errors import InvalidInput, ServiceUnavailable, WalletNotFound
from billing.events.hub import End
from billing.events.stream import Ended, cursor, open_stream
from billing.graphql.context import Context
from billing.graphql.errors import TYPES, Error, to_error
from billing.graphql.scalars import Metadata, Money, money
from billing.graphql.types import gid

Info = strawberry.Info[Context, None]


@strawberry.enum(description="What changed a wallet.")
class WalletEventKind(enum.Enum):
    RESUPPLY = "RESUPPLY"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER = "TRANSFER"
    SPLIT = "SPLIT"
    HOLD = "HOLD"
    CAPTURE = "CAPTURE"
    VOID = "VOID"
    REFUND = "REFUND"
    HOLD_EXPIRED = "HOLD_EXPIRED"


@strawberry.type(
    description="One change of a wallet, as the ledger recorded it with the change itself."
)
class WalletEvent:
    cursor: str = strawberry.field(
        description="Pass it as `after` to resume with the events that follow this one."
    )
    id: strawberry.ID = strawberry.field(
        description="Unique over all wallets (a consumer may deduplicate on it)."
    )
    wallet_id: strawberry.ID
    sequence: int = strawberry.field(
        description="1, 2, 3... per wallet, without gaps, in the order the changes committed."
    )
    kind: WalletEventKind
    amount: Money = strawberry.field(description="The change of the balance (negative: out).")
    held_change: Money = strawberry.field(
        description="The change of what holds reserve (positive: reserved, negative: released)."
    )
    balance: Money = strawberry.field(description="The balance after the change.")
    available: Money | None = strawberry.field(
        description="The available balance after the change; null for events recorded before"
        " it was (events of operations older than the events themselves)."
    )
    currency: str
    transaction_number: uuid.UUID | None = strawberry.field(
        description="The transaction that made the change; null for an expired hold."
    )
    reference: str | None
    metadata: Metadata = strawberry.field(description="The transaction's metadata.")
    hold_id: strawberry.ID | None = strawberry.field(description="The hold concerned, if any.")
    created_at: datetime

    @classmethod
    def from_record(cls, e: EventRecord) -> WalletEvent:
        return cls(
            cursor=cursor(e.wallet_id, e.seq),
            id=gid(e.id),
            wallet_id=gid(e.wallet_id),
            sequence=e.seq,
            kind=WalletEventKind(e.kind),
            amount=money(e.amount),
            held_change=money(e.held_change),
            balance=money(e.balance),
            available=None if e.available is None else money(e.available),
            currency=e.currency,
            transaction_number=e.transaction_number,
            reference=e.reference,
            metadata=Metadata(e.metadata),
            hold_id=None if e.hold_id is None else gid(e.hold_id),
            created_at=e.created_at,
        )


@strawberry.enum(description="Why the server ended a subscription.")
class SubscriptionEndReason(enum.Enum):
    SLOW_CONSUMER = strawberry.enum_value(
        End.SLOW_CONSUMER.value,
        description="Events arrived faster than they could be sent: too many were waiting.",
    )
    TOKEN_REVOKED = strawberry.enum_value(
        End.TOKEN_REVOKED.value, description="The token was revoked."
    )
    TOO_MANY_SUBSCRIPTIONS = strawberry.enum_value(
        End.TOO_MANY_SUBSCRIPTIONS.value,
        description="The token holds as many subscriptions as a server allows it.",
    )
    SHUTTING_DOWN = strawberry.enum_value(
        End.SHUTTING_DOWN.value, description="The server is stopping."
    )
    UNAVAILABLE = strawberry.enum_value(
        End.UNAVAILABLE.value, description="The database is unavailable."
    )


MESSAGES = {
    End.SLOW_CONSUMER: "Too many events were waiting to be sent: resume from resumeAfter.",
    End.TOKEN_REVOKED: "The token was revoked.",
    End.TOO_MANY_SUBSCRIPTIONS: "This token holds as many subscriptions as allowed; end one first.",
    End.SHUTTING_DOWN: "The server is stopping: resume from resumeAfter on another one.",
    End.UNAVAILABLE: "The database is unavailable: resume from resumeAfter later.",
}


@strawberry.type(
    description="The last item of a subscription the server ended; the events up to"
    " resumeAfter were sent."
)
class SubscriptionEnded:
    reason: SubscriptionEndReason
    message: str
    resume_after: str = strawberry.field(
        description="The cursor to subscribe again with (as `after`), to miss nothing."
    )

    @classmethod
    def from_domain(cls, ended: Ended, wallet_id: int) -> SubscriptionEnded:
        return cls(
            reason=SubscriptionEndReason(ended.reason.value),
            message=MESSAGES[ended.reason],
            resume_after=cursor(wallet_id, ended.last_seq),
        )


_ITEMS = (WalletEvent, SubscriptionEnded, TYPES[WalletNotFound], TYPES[InvalidInput])
WalletEventsItem: Any = Annotated[
    Union[_ITEMS],  # noqa: UP007 - built at runtime
    strawberry.union(
        "WalletEventsItem",
        description="An event, or why the subscription ends (then it completes).",
    ),
]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "A wallet's events, in order: those after the cursor `after` (all of them without"
            " one), then each new one as it commits. Over WebSocket (graphql-transport-ws)."
            " A wallet that is not the caller's is not found."
        ),
        graphql_type=WalletEventsItem,
    )
    async def wallet_events(
        self, info: Info, wallet_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[WalletEvent | SubscriptionEnded | Error, None]:
        context = info.context
        socket = context.socket
        if socket is None or socket.secret is None:  # over HTTP: there is no stream to keep
            raise ValueError("subscriptions are served over WebSocket only")
        secret = socket.secret
        key = parse_id(wallet_id)
        if key is None:
            yield to_error(InvalidInput("walletId", 'walletId must be a wallet id such as "42".'))
            return
        try:

            async def still_valid() -> bool:
                return await socket.authenticate(secret) is not None

            items = await open_stream(
                context.db,
                socket.hub,
                context.actor,
                key,
                after,
                capacity=socket.capacity,
                still_valid=still_valid,
            )
        except (WalletNotFound, InvalidInput) as exc:
            yield to_error(exc)
            return
        except ServiceUnavailable:
            yield SubscriptionEnded(
                reason=SubscriptionEndReason.UNAVAILABLE,
                message=MESSAGES[End.UNAVAILABLE],
                resume_after=after or cursor(key, 0),
            )
            return
        # Closed with this generator (a client's complete, a disconnect): the hub forgets it.
        async with contextlib.aclosing(items):
            async for item in items:
                if isinstance(item, Ended):
                    yield SubscriptionEnded.from_domain(item, key)
                    return
                yield WalletEvent.from_record(item)
