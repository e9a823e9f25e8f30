"""Holds (two-phase transfers): reserve money now, capture all or part of it later, or void it.

A hold reserves money on the paying wallet: its ``available`` balance (balance less unexpired
holds) drops, its balance does not. Capturing moves the captured amount to the receiving wallet
and releases the rest; voiding releases it all. Both are refused at or after the hold's
``expires_at``, judged on the database's clock while the wallets are locked, and an expired hold
stops counting as held at that instant in every read, with or without anything running to mark
it. A hold resolves at most once: its wallets are locked by whoever resolves it, and the loser
of a race sees it resolved.

Each of the three is posted through the one posting path; each records a transaction (HOLD,
CAPTURE, VOID) linked to the hold, though only a capture moves a balance.

Expired holds are marked EXPIRED, with an event each, by the next posting on their wallet, or
sooner by ``expire_lapsed``, which the event relay runs every second.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.statements import Statement
from billing.domain import posting
from billing.domain.access import SYSTEM, Actor
from billing.domain.idempotency import lock_of
from billing.domain.money import fingerprint, parse_amount
from billing.domain.payments import request
from billing.domain.posting import (
    CREDITS,
    GIVEN_LEGS,
    HELD_CHANGE,
    HOLD_COLUMNS,
    ZERO,
    Answer,
    Leg,
)
from billing.domain.records import HoldRecord, Posted
from billing.domain.validation import require_id
from billing.errors import (
    BalanceLimitExceeded,
    CurrencyMismatch,
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    InsufficientFunds,
    InvalidInput,
    WalletNotFound,
    failures,
)

HOLD_FAILURES = failures(WalletNotFound, CurrencyMismatch, InsufficientFunds)
CAPTURE_FAILURES = failures(
    HoldNotFound, HoldNotPending, HoldExpired, InsufficientFunds, BalanceLimitExceeded
)
VOID_FAILURES = failures(HoldNotFound, HoldNotPending, HoldExpired)
DEFAULT_LIFETIME = timedelta(days=7)
MAX_LIFETIME = timedelta(days=366)
STATUSES = ("PENDING", "CAPTURED", "VOIDED", "EXPIRED")

# Creating: the paying leg reserves, the receiving one only has to exist (and share the
# currency); the expiry must lie ahead on the database's clock.
HOLD = posting.statement(
    GIVEN_LEGS,
    kind="HOLD",
    amount=HELD_CHANGE,
    guard="(SELECT bool_and(p.expires > (SELECT now FROM clock)) FROM plan AS p"
    " WHERE p.expires IS NOT NULL)",
    before="""
  new_hold AS (
    INSERT INTO holds (wallet_from_id, wallet_to_id, currency, amount, status, expires_at,
                       reference, metadata)
    SELECT :wallet_from, :wallet_to, (SELECT min(currency) FROM checked),
           (SELECT sum(hold_delta) FROM checked), 'PENDING', :expires_at, :reference,
           CAST(:metadata AS jsonb)
    WHERE EXISTS (SELECT FROM allowed) AND NOT :dry_run
    RETURNING id, created_at
  ),""",
    hold="(SELECT id FROM new_hold)",
    subject="(SELECT id FROM new_hold) AS hold_id, (SELECT created_at FROM new_hold) AS created",
)

# Resolving: the plan comes from the hold itself.
_SUBJECT = """
  subject AS (
    SELECT id, status, amount, currency, expires_at, wallet_from_id, wallet_to_id, reference,
           metadata, created_at
    FROM holds WHERE id = :hold
  ),"""
_RESOLVABLE = "s.status = 'PENDING' AND s.expires_at > c.now"
_SUBJECT_COLUMNS = ", ".join(
    f"(SELECT {column} FROM subject) AS hold_{column}"
    for column in [
        "status",
        "amount",
        "currency",
        "expires_at",
        "wallet_from_id",
        "wallet_to_id",
        "reference",
        "metadata",
        "created_at",
    ]
)


def _resolve(status: str) -> str:
    return f"""
  resolved AS (
    UPDATE holds
    SET status = '{status}', resolved_at = (SELECT now FROM clock),
        captured_amount = CASE WHEN '{status}' = 'CAPTURED'
                               THEN (SELECT sum(delta) FROM checked WHERE delta > 0) END
    WHERE id = :hold AND EXISTS (SELECT FROM recorded)
  )"""


CAPTURE = posting.statement(
    _SUBJECT
    + """
  plan AS (
    SELECT wallet_from_id AS wallet_id, -coalesce(CAST(:amount AS numeric), amount) AS delta,
           -amount AS hold_delta, CAST(NULL AS text) AS reference,
           CAST(NULL AS timestamptz) AS expires, 0 AS ord
    FROM subject
    UNION ALL
    SELECT wallet_to_id, coalesce(CAST(:amount AS numeric), amount), 0, NULL, NULL, 1
    FROM subject
  )""",
    kind="CAPTURE",
    amount=CREDITS,
    guard=f"(SELECT {_RESOLVABLE} AND coalesce(CAST(:amount AS numeric), s.amount) <= s.amount"
    " FROM subject AS s, clock AS c)",
    subject=_SUBJECT_COLUMNS,
    after="," + _resolve("CAPTURED"),
    hold=":hold",
)

VOID = posting.statement(
    _SUBJECT
    + """
  plan AS (
    SELECT wallet_from_id AS wallet_id, CAST(0 AS numeric) AS delta, -amount AS hold_delta,
           CAST(NULL AS text) AS reference, CAST(NULL AS timestamptz) AS expires, 0 AS ord
    FROM subject
    UNION ALL
    SELECT wallet_to_id, 0, 0, NULL, NULL, 1 FROM subject
  )""",
    kind="VOID",
    amount=HELD_CHANGE,
    guard=f"(SELECT {_RESOLVABLE} FROM subject AS s, clock AS c)",
    subject=_SUBJECT_COLUMNS,
    after="," + _resolve("VOIDED"),
    hold=":hold",
)


async def hold_transfer(
    db: Database,
    *,
    actor: Actor,
    wallet_from_id: str,
    wallet_to_id: str,
    amount: str,
    expires_at: datetime | None = None,
    reference: str | None = None,
    metadata: object = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Reserve ``amount`` on one wallet for another, until ``expires_at`` (default: 7 days).

    A client may hold only from its own wallets (others look missing), for any wallet."""
    source = require_id(wallet_from_id, "walletFromId")
    target = require_id(wallet_to_id, "walletToId")
    if source == target:
        raise InvalidInput("walletToId", "walletToId must differ from walletFromId.")
    value = parse_amount(amount)
    now = datetime.now(UTC)
    expires = now + DEFAULT_LIFETIME if expires_at is None else expires_at
    if expires > now + MAX_LIFETIME:
        raise InvalidInput("expiresAt", "expiresAt must be at most 366 days ahead.")
    req = request(
        actor,
        "HOLD_TRANSFER",
        {
            "from": source,
            "to": target,
            "amount": fingerprint(value),
            # As sent: a retry without one must not differ by the default computed from now.
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        },
        reference=reference,
        metadata=metadata,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )
    legs = [Leg(source, Decimal(0), value, expires=expires), Leg(target, Decimal(0))]

    def check(answer: Answer) -> None:
        rows = answer.rows
        if all(r.found for r in rows) and expires <= answer.head.now:
            raise InvalidInput("expiresAt", "expiresAt must lie ahead (the database's clock).")

    def done(answer: Answer) -> Posted:
        moved = answer.moved()
        hold = None
        if not req.dry_run:
            hold = HoldRecord(
                id=answer.head.hold_id,
                status="PENDING",
                wallet_from_id=source,
                wallet_to_id=target,
                currency=moved[0].wallet.currency,
                amount=moved[0].hold_delta,
                captured_amount=None,
                expires_at=expires,
                reference=req.reference,
                metadata=req.metadata,
                created_at=answer.head.created,
                resolved_at=None,
            )
        return posting.posted(
            answer, req, "HOLD", moved[0].hold_delta, hold=hold, expires_at=expires
        )

    return await posting.run(
        db,
        HOLD,
        req,
        {
            **posting.given(legs),
            "wallet_from": source,
            "wallet_to": target,
            "expires_at": expires,
        },
        locks=[source, target],
        done=done,
        replay=lambda conn, tid: posting.recorded(conn, tid, actor),
        check=check,
    )


async def capture_hold(
    db: Database,
    *,
    actor: Actor,
    hold_id: str,
    amount: str | None = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Move all (no ``amount``) or part of a pending hold to its receiving wallet and release
    the rest (operators only)."""
    actor.require_operator("captureHold")
    hid = require_id(hold_id, "holdId")
    value = None if amount is None else parse_amount(amount)
    req = request(
        actor,
        "CAPTURE_HOLD",
        {"hold": hid, "amount": None if value is None else fingerprint(value)},
        reference=None,
        metadata=None,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )

    def check(answer: Answer) -> None:
        _check_resolvable(answer, hid)
        if value is not None and value > answer.head.hold_amount:
            raise InvalidInput(
                "amount",
                f"amount must be at most the {answer.head.hold_amount:f} the hold reserves.",
            )

    def done(answer: Answer) -> Posted:
        moved = answer.moved()
        captured = moved[1].delta
        hold = _resolved(answer, hid, "CAPTURED", captured)
        return posting.posted(answer, req, "CAPTURE", captured, hold=hold)

    return await _resolve_hold(db, CAPTURE, req=req, hid=hid, value=value, check=check, done=done)


async def void_hold(
    db: Database,
    *,
    actor: Actor,
    hold_id: str,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Release a pending hold in full (operators only)."""
    actor.require_operator("voidHold")
    hid = require_id(hold_id, "holdId")
    req = request(
        actor,
        "VOID_HOLD",
        {"hold": hid},
        reference=None,
        metadata=None,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )

    def done(answer: Answer) -> Posted:
        released = -answer.moved()[0].hold_delta
        hold = _resolved(answer, hid, "VOIDED", None)
        return posting.posted(answer, req, "VOID", released, hold=hold)

    return await _resolve_hold(
        db,
        VOID,
        req=req,
        hid=hid,
        value=None,
        check=lambda answer: _check_resolvable(answer, hid),
        done=done,
    )


async def _resolve_hold(
    db: Database,
    statement: Statement,
    *,
    req: posting.Request,
    hid: int,
    value: Decimal | None,
    check: Callable[[Answer], None],
    done: Callable[[Answer], Posted],
) -> Posted:
    return await posting.run(
        db,
        statement,
        req,
        {"hold": hid, "amount": value},
        # Whoever resolves one hold queues behind the others (the loser then sees it
        # resolved), rather than aborting them: in this process always, across processes
        # once they have collided (see Database.write).
        locks=[lock_of(f"hold\0{hid}")],
        done=done,
        replay=lambda conn, tid: posting.recorded(conn, tid, req.actor),
        check=check,
    )


def _check_resolvable(answer: Answer, hid: int) -> None:
    head = answer.head
    if head.hold_status is None:
        raise HoldNotFound(hid)
    # Expired, whether a posting on its wallet has marked it so already or not.
    if head.hold_status == "EXPIRED" or (
        head.hold_status == "PENDING" and head.hold_expires_at <= head.now
    ):
        raise HoldExpired(hid)
    if head.hold_status != "PENDING":
        raise HoldNotPending(hid, head.hold_status)


def _resolved(answer: Answer, hid: int, status: str, captured: Decimal | None) -> HoldRecord:
    """The hold as the posting leaves it (or would, on a dry run)."""
    head = answer.head
    return HoldRecord(
        id=hid,
        status=status,
        wallet_from_id=head.hold_wallet_from_id,
        wallet_to_id=head.hold_wallet_to_id,
        currency=head.hold_currency,
        amount=head.hold_amount,
        captured_amount=captured,
        expires_at=head.hold_expires_at,
        reference=head.hold_reference,
        metadata=head.hold_metadata,
        created_at=head.hold_created_at,
        resolved_at=head.now,
    )


async def holds_of_wallet(
    conn: AsyncConnection, wallet_id: int, status: str | None, limit: int
) -> list[HoldRecord]:
    """A wallet's holds (paying or receiving), newest first, optionally of one status (as
    of now on the database's clock)."""
    rows = await conn.execute(
        text(
            f"SELECT * FROM (SELECT {HOLD_COLUMNS} FROM holds AS h"
            " WHERE h.wallet_from_id = :wallet OR h.wallet_to_id = :wallet) AS found"
            " WHERE CAST(:status AS text) IS NULL OR status = :status"
            " ORDER BY id DESC LIMIT :limit"
        ),
        {"wallet": wallet_id, "status": status, "limit": limit},
    )
    return [posting.hold_record(r) for r in rows]


async def hold_of(conn: AsyncConnection, hold_id: int, owner: int | None) -> HoldRecord | None:
    """A hold by id; for a client token (``owner``) only one paying from or to its wallets."""
    hold = await posting.hold_by_id(conn, hold_id)
    if hold is None or owner is None:
        return hold
    owners = await conn.scalar(
        text("SELECT count(*) FROM wallets WHERE id IN (:a, :b) AND client_id = :owner"),
        {"a": hold.wallet_from_id, "b": hold.wallet_to_id, "owner": owner},
    )
    return hold if owners else None


# Expiring: a posting of one wallet that moves nothing and records no transaction; the
# posting statement marks the wallet's lapsed holds EXPIRED and writes their events.
EXPIRE = posting.statement(GIVEN_LEGS, kind="HOLD", record=False)

_LAPSED = text(
    "SELECT id FROM wallets WHERE held > 0 AND held_until <= clock_timestamp()"
    " ORDER BY held_until LIMIT :limit"
)


async def expire_lapsed(db: Database, limit: int = 100) -> int:
    """Mark EXPIRED the pending holds whose expiry has passed, on up to ``limit`` wallets; the
    number of wallets swept."""

    async def lapsed(conn: AsyncConnection) -> list[int]:
        return list((await conn.execute(_LAPSED, {"limit": limit})).scalars())

    wallets = await db.read_one(lapsed)
    for wallet_id in wallets:
        sweep = posting.Request(
            actor=SYSTEM,
            reference=None,
            metadata={},
            idem=None,
            dry_run=False,
            number=uuid.uuid4(),
        )
        legs = posting.given([Leg(wallet_id, ZERO)])

        async def work(
            conn: AsyncConnection, legs: dict[str, object] = legs, sweep: posting.Request = sweep
        ) -> None:
            await posting.post(conn, EXPIRE, sweep, legs)

        await db.write(work, locks=[wallet_id], one_statement=True)
    return len(wallets)
