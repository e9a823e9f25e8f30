"""Reading the events the posting statement writes (``wallet_events``; see migration 0006).

Two ways to read them, both free of the outbox's commit-order trap:

* **One wallet, by its sequence number** (``wallet_events``): a wallet's events are numbered
  1, 2, 3... while its row is locked, so a later number never commits before an earlier one.
  Reading ``seq > n`` in order never skips anything. Subscriptions resume this way.
* **Every wallet, by transaction** (``events_after``): an event's ``tx`` is its transaction's
  id. Ids are handed out before commit, so a reader must not pass one whose transaction may
  still commit: it reads only below the *horizon*, the oldest transaction still running
  (``horizon``). Whatever lies below it has ended, committed or not, and is read in
  ``(tx, id)`` order. The relay that makes webhook deliveries reads this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.records import EventRecord

# The position of the relay's reader: (tx, id) of the last event read.
Position = tuple[int, int]

EVENT_COLUMNS = """e.id, e.tx, e.wallet_id, w.client_id, e.seq, e.kind, w.currency, e.amount,
       e.held_change, e.balance, e.available, t.number AS transaction_number, e.hold_id,
       e.reference, coalesce(t.metadata, '{}') AS metadata, e.created_at"""
_FROM = """FROM wallet_events AS e JOIN wallets AS w ON w.id = e.wallet_id
LEFT JOIN transactions AS t ON t.id = e.transaction_id"""

_OF_WALLET = text(f"""
SELECT {EVENT_COLUMNS} {_FROM}
WHERE e.wallet_id = :wallet AND e.seq > :after ORDER BY e.seq LIMIT :limit
""")

_AFTER = text(f"""
SELECT {EVENT_COLUMNS} {_FROM}
WHERE (e.tx, e.id) > (:tx, :id) AND e.tx < :horizon
  AND (CAST(:wallets AS bigint[]) IS NULL OR e.wallet_id = ANY(:wallets))
ORDER BY e.tx, e.id LIMIT :limit
""")

_HEAD = text("SELECT client_id, event_seq FROM wallets WHERE id = :wallet")

_HORIZON = text("SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)")


def event_record(r: Row[Any]) -> EventRecord:
    return EventRecord(
        id=r.id,
        wallet_id=r.wallet_id,
        client_id=r.client_id,
        seq=r.seq,
        kind=r.kind,
        currency=r.currency,
        amount=r.amount,
        held_change=r.held_change,
        balance=r.balance,
        available=r.available,
        transaction_number=r.transaction_number,
        hold_id=r.hold_id,
        reference=r.reference,
        metadata=r.metadata,
        created_at=r.created_at,
    )


async def wallet_events(
    conn: AsyncConnection, wallet_id: int, after: int, limit: int = 500
) -> list[EventRecord]:
    """A wallet's events numbered above ``after``, in order (at most ``limit``)."""
    rows = await conn.execute(_OF_WALLET, {"wallet": wallet_id, "after": after, "limit": limit})
    return [event_record(r) for r in rows]


async def wallet_head(conn: AsyncConnection, wallet_id: int) -> tuple[int, int] | None:
    """The wallet's owner and the number of its last event (0: none yet); None: no wallet."""
    row = (await conn.execute(_HEAD, {"wallet": wallet_id})).one_or_none()
    return None if row is None else (row.client_id, row.event_seq)


async def horizon(conn: AsyncConnection) -> int:
    """The oldest transaction still running: every event of a lower ``tx`` is final."""
    value: int = (await conn.execute(_HORIZON)).scalar_one()
    return value


async def events_after(
    conn: AsyncConnection,
    position: Position,
    below: int,
    *,
    wallets: Sequence[int] | None = None,
    limit: int = 1000,
) -> list[tuple[Position, EventRecord]]:
    """Events after ``position`` of transactions below the horizon ``below``, in (tx, id)
    order, each with its position; only those of ``wallets`` if given."""
    rows = await conn.execute(
        _AFTER,
        {
            "tx": position[0],
            "id": position[1],
            "horizon": below,
            "wallets": None if wallets is None else list(wallets),
            "limit": limit,
        },
    )
    return [((r.tx, r.id), event_record(r)) for r in rows]
