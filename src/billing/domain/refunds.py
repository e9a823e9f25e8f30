"""Refunds: money back from the wallets a payment credited to the wallet that paid.

A transfer, a split payment or a capture can be refunded, in one go or in parts, never beyond
its amount in all (``transactions.refunded``, bounded by a CHECK, is raised by each refund in
the same statement). A split is refunded from its legs in their order, each at most what it
received less what was refunded from it. A refund is a transaction of its own, linked to the
one it refunds; it needs the money in the wallets it debits. A client token refunds only from
its own wallets: a payment that credited none of them looks like a missing one.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.domain import posting
from billing.domain.access import Actor
from billing.domain.idempotency import lock_of
from billing.domain.money import fingerprint, parse_amount
from billing.domain.payments import request
from billing.domain.posting import CREDITS, Answer
from billing.domain.records import Posted
from billing.errors import (
    BalanceLimitExceeded,
    InsufficientFunds,
    InvalidInput,
    RefundExceedsRemaining,
    TransactionNotFound,
    failures,
)

REFUND_FAILURES = failures(
    TransactionNotFound, RefundExceedsRemaining, InsufficientFunds, BalanceLimitExceeded
)
REFUNDABLE = ("TRANSFER", "SPLIT", "CAPTURE")

REFUND = posting.statement(
    f"""
  subject AS (
    SELECT id, number, kind, amount FROM transactions
    WHERE number = :original
      AND (CAST(:owner AS bigint) IS NULL OR parties @> ARRAY[CAST(:owner AS bigint)])
  ),
  sources AS (
    SELECT o.id AS operation_id, o.wallet_id,
           o.amount + coalesce((SELECT sum(r.amount)
                                FROM transactions AS rt
                                JOIN wallet_operations AS r ON r.transaction_id = rt.id
                                WHERE rt.refund_of = s.id AND r.wallet_id = o.wallet_id), 0)
             AS remaining
    FROM subject AS s
    JOIN wallet_operations AS o ON o.transaction_id = s.id AND o.amount > 0
    JOIN wallets AS w ON w.id = o.wallet_id
    WHERE s.kind IN {REFUNDABLE}
      AND (CAST(:owner AS bigint) IS NULL OR w.client_id = :owner)
  ),
  wanted AS (
    SELECT coalesce(CAST(:amount AS numeric), (SELECT sum(remaining) FROM sources)) AS amount
  ),
  drawn AS (
    SELECT s.operation_id, s.wallet_id,
           least(s.remaining, greatest(0, w.amount - (sum(s.remaining)
                                                       OVER (ORDER BY s.operation_id)
                                                     - s.remaining))) AS take
    FROM sources AS s, wanted AS w
  ),
  plan AS (
    SELECT o.wallet_id, w.amount AS delta, CAST(0 AS numeric) AS hold_delta,
           CAST(NULL AS text) AS reference, CAST(NULL AS timestamptz) AS expires, 0 AS ord
    FROM subject AS s
    JOIN wallet_operations AS o ON o.transaction_id = s.id AND o.amount < 0, wanted AS w
    WHERE EXISTS (SELECT FROM drawn WHERE take > 0)
    UNION ALL
    SELECT wallet_id, -take, 0, NULL, NULL,
           CAST(row_number() OVER (ORDER BY operation_id) AS int)
    FROM drawn WHERE take > 0
  )""",
    kind="REFUND",
    amount=CREDITS,
    guard="(SELECT w.amount > 0 AND w.amount <= (SELECT sum(remaining) FROM sources)"
    " FROM wanted AS w)",
    subject="(SELECT kind FROM subject) AS original_kind,"
    " (SELECT coalesce(sum(remaining), 0) FROM sources) AS remaining,"
    " (SELECT count(*) FROM sources) AS sources",
    after=""",
  refunded AS (
    UPDATE transactions SET refunded = refunded + (SELECT delta FROM checked WHERE ord = 0)
    WHERE id = (SELECT id FROM subject) AND EXISTS (SELECT FROM recorded)
  )""",
    refund_of="(SELECT id FROM subject)",
)


async def refund(
    db: Database,
    *,
    actor: Actor,
    transaction_number: uuid.UUID,
    amount: str | None = None,
    reference: str | None = None,
    metadata: object = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Refund ``amount`` of a payment (without it: all that remains refundable)."""
    original = transaction_number
    value = None if amount is None else parse_amount(amount)
    req = request(
        actor,
        "REFUND",
        {"original": str(original), "amount": None if value is None else fingerprint(value)},
        reference=reference,
        metadata=metadata,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )

    def check(answer: Answer) -> None:
        head = answer.head
        if head.original_kind is None:
            raise TransactionNotFound(original)
        if head.original_kind not in REFUNDABLE:
            raise InvalidInput(
                "transactionNumber",
                f"A {head.original_kind.lower()} cannot be refunded; transfers, split payments"
                " and captures can.",
            )
        if not head.sources:
            raise TransactionNotFound(original)
        requested = head.remaining if value is None else value
        if requested <= 0 or requested > head.remaining:
            raise RefundExceedsRemaining(original, head.remaining, _like(requested, head.remaining))

    def done(answer: Answer) -> Posted:
        refunded = answer.moved()[0].delta
        return posting.posted(
            answer,
            req,
            "REFUND",
            refunded,
            refund_of=original,
            remaining=answer.head.remaining - refunded,
        )

    async def replay(conn: AsyncConnection, transaction_id: int) -> Posted:
        return await posting.recorded(conn, transaction_id, actor, credited_first=True)

    return await posting.run(
        db,
        REFUND,
        req,
        {"original": original, "amount": value},
        # Refunds of one payment queue behind each other rather than abort each other.
        locks=[lock_of(f"refund\0{original}")],
        done=done,
        replay=replay,
        check=check,
    )


def _like(value: Decimal, model: Decimal) -> Decimal:
    """``value`` with ``model``'s decimals, when that keeps it exact (as the currency shows it)."""
    shown = value.quantize(model)
    return shown if shown == value else value
