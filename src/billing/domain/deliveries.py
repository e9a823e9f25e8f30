"""The relay's statements: events into deliveries, due deliveries, and how an attempt went.

Each is a single statement, so each is a transaction of its own (the relay's connection runs
them outside any BEGIN, at READ COMMITTED): a process killed at any point has either done one
completely or not at all.

**Events into deliveries** (``advance``). ``event_relay.horizon`` H says: every event of a
transaction below H has been read. The oldest transaction still running, N (``horizon`` in
``billing.domain.events``), bounds what may be read now: a transaction below N has ended, so
its events are final, and no later transaction can get an id below N. One statement reads the
events of transactions H <= tx < N (at most ``limit`` of them, cut between two transactions,
never inside one), makes a delivery of each for every enabled endpoint that wants its kind,
and moves H past them. The unique (endpoint, event) pair makes a repeated read harmless.

**Order**: of an endpoint's pending deliveries for one wallet, only the lowest ``seq`` is sent;
the next waits until it is delivered (or given up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.events import EVENT_COLUMNS, event_record
from billing.domain.records import EventRecord

RELAY = "webhooks"
NOW = "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)"

_ADVANCE = text(f"""
WITH r AS (SELECT horizon AS since, {NOW} AS now FROM event_relay WHERE name = '{RELAY}'),
cut AS (
  SELECT e.tx FROM wallet_events AS e, r WHERE e.tx >= r.since AND e.tx < r.now
  ORDER BY e.tx, e.id OFFSET :limit LIMIT 1
),
b AS (
  SELECT r.since, CASE
    WHEN NOT EXISTS (SELECT 1 FROM cut) THEN r.now
    WHEN (SELECT tx FROM cut) > r.since THEN (SELECT tx FROM cut)
    ELSE r.since + 1  -- one transaction wrote more than a page: all of it
  END AS below
  FROM r WHERE r.now > r.since
),
ev AS (
  SELECT e.id, e.wallet_id, e.seq, e.kind FROM wallet_events AS e, b
  WHERE e.tx >= b.since AND e.tx < b.below
),
made AS (
  INSERT INTO webhook_deliveries (endpoint_id, event_id, wallet_id, seq)
  SELECT p.id, ev.id, ev.wallet_id, ev.seq FROM ev JOIN webhook_endpoints AS p
    ON p.enabled AND (cardinality(p.events) = 0 OR ev.kind = ANY(p.events))
  ORDER BY ev.id, p.id
  ON CONFLICT (endpoint_id, event_id) DO NOTHING
  RETURNING 1
),
moved AS (
  UPDATE event_relay SET horizon = b.below FROM b
  WHERE name = '{RELAY}' AND horizon = b.since AND EXISTS (SELECT 1 FROM ev)
  RETURNING horizon
)
SELECT (SELECT horizon FROM moved) AS horizon, (SELECT count(*) FROM ev) AS events,
       (SELECT count(*) FROM made) AS deliveries
""")


@dataclass(frozen=True)
class Advance:
    horizon: int | None  # the new horizon, when events were read
    events: int
    deliveries: int


async def advance(conn: AsyncConnection, limit: int = 1000) -> Advance:
    """Turn the next events into deliveries (see the module's docstring); run it alone."""
    row = (await conn.execute(_ADVANCE, {"limit": limit})).one()
    return Advance(row.horizon, row.events, row.deliveries)


async def relay_horizon(conn: AsyncConnection) -> int:
    value: int = await conn.scalar(text(f"SELECT horizon FROM event_relay WHERE name = '{RELAY}'"))
    return value


@dataclass(frozen=True)
class Due:
    """A delivery to attempt now, with what it takes to send it."""

    id: int
    attempts: int
    url: str
    secret: str
    event: EventRecord


_DUE = text(f"""
WITH head AS (
  SELECT DISTINCT ON (endpoint_id, wallet_id) id, endpoint_id, event_id, attempts,
         next_attempt_at
  FROM webhook_deliveries WHERE status = 'PENDING'
  ORDER BY endpoint_id, wallet_id, seq
)
SELECT h.id AS delivery_id, h.attempts, p.url, p.secret, {EVENT_COLUMNS},
       h.next_attempt_at <= now() AS due,
       extract(epoch FROM h.next_attempt_at - now()) AS wait
FROM head AS h JOIN webhook_endpoints AS p ON p.id = h.endpoint_id AND p.enabled
JOIN wallet_events AS e ON e.id = h.event_id JOIN wallets AS w ON w.id = e.wallet_id
LEFT JOIN transactions AS t ON t.id = e.transaction_id
WHERE h.id <> ALL(CAST(:busy AS bigint[]))
ORDER BY h.next_attempt_at, h.id LIMIT :limit
""")


async def due(conn: AsyncConnection, busy: set[int], limit: int) -> tuple[list[Due], float | None]:
    """Up to ``limit`` deliveries to attempt now (the first pending one of each endpoint and
    wallet, of enabled endpoints, none of ``busy``), and the seconds until the next one is due
    (None: none is waiting)."""
    rows = await conn.execute(_DUE, {"busy": sorted(busy), "limit": limit})
    found: list[Due] = []
    wait: float | None = None
    for r in rows:
        if r.due:
            found.append(_due(r))
        else:
            wait = float(r.wait)
            break
    return found, wait


def _due(r: Row[Any]) -> Due:
    return Due(
        id=r.delivery_id, attempts=r.attempts, url=r.url, secret=r.secret, event=event_record(r)
    )


@dataclass(frozen=True)
class Attempt:
    """How one attempt went."""

    delivery_id: int
    attempts: int  # the delivery's attempts before this one
    ok: bool  # a 2xx answer
    status: int | None  # the HTTP status, if an answer came
    error: str | None  # why it failed, for people
    retry_in: float  # seconds until the next attempt, if it failed


_RECORD = text("""
WITH d AS (
  UPDATE webhook_deliveries SET
    attempts = attempts + 1,
    first_attempt_at = coalesce(first_attempt_at, now()),
    last_attempt_at = now(),
    last_status = :status,
    last_error = :error,
    delivered_at = CASE WHEN :ok THEN now() END,
    status = CASE
      WHEN :ok THEN 'DELIVERED'
      WHEN now() - coalesce(first_attempt_at, now()) >= make_interval(secs => :retry_for)
        THEN 'FAILED'
      ELSE 'PENDING' END,
    next_attempt_at = CASE WHEN :ok THEN next_attempt_at
      ELSE now() + make_interval(secs => :retry_in) END
  WHERE id = :id AND status = 'PENDING' AND attempts = :attempts
  RETURNING endpoint_id, status
),
off AS (
  UPDATE webhook_endpoints AS p SET enabled = false, disabled_reason = :reason FROM d
  WHERE p.id = d.endpoint_id AND d.status = 'FAILED' AND p.enabled
  RETURNING p.id
)
SELECT d.status, (SELECT count(*) FROM off) AS disabled FROM d
""")


@dataclass(frozen=True)
class Recorded:
    status: str | None  # None: the delivery changed meanwhile (resent, deleted): not recorded
    disabled: bool  # its endpoint was disabled: the delivery was given up


async def record(
    conn: AsyncConnection, attempt: Attempt, *, retry_for: float, given_up: str
) -> Recorded:
    """Record ``attempt``: DELIVERED, or due again in ``retry_in`` seconds, or, once its first
    attempt is ``retry_for`` seconds old, FAILED, and its endpoint disabled with the reason
    ``given_up``. An attempt at a delivery that was resent meanwhile is not recorded."""
    row = (
        await conn.execute(
            _RECORD,
            {
                "id": attempt.delivery_id,
                "attempts": attempt.attempts,
                "ok": attempt.ok,
                "status": attempt.status,
                "error": attempt.error,
                "retry_in": attempt.retry_in,
                "retry_for": retry_for,
                "reason": given_up,
            },
        )
    ).one_or_none()
    if row is None:
        return Recorded(None, False)
    return Recorded(row.status, row.disabled > 0)
