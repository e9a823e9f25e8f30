"""Moving money: resupply (money enters), withdraw (money leaves), transfer and split payments.

Each is a plan of legs posted through the one posting path (``posting``): one statement, in a
SERIALIZABLE transaction of its own. With an idempotency key, a request already performed is
answered from the ledger instead.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.statements import Statement
from billing.domain import idempotency, posting
from billing.domain.access import Actor
from billing.domain.metadata import clean_metadata
from billing.domain.money import fingerprint, parse_amount
from billing.domain.posting import CREDITS, DEBITS, GIVEN_LEGS, Answer, Leg
from billing.domain.records import Posted
from billing.domain.validation import clean_reference, require_id
from billing.errors import (
    BalanceLimitExceeded,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidInput,
    WalletNotFound,
    failures,
)

RESUPPLY_FAILURES = failures(WalletNotFound, BalanceLimitExceeded)
WITHDRAW_FAILURES = failures(WalletNotFound, InsufficientFunds)
TRANSFER_FAILURES = failures(
    WalletNotFound, CurrencyMismatch, InsufficientFunds, BalanceLimitExceeded
)
SPLIT_FAILURES = TRANSFER_FAILURES
MAX_SPLIT_LEGS = 100

RESUPPLY = posting.statement(GIVEN_LEGS, kind="RESUPPLY")
WITHDRAW = posting.statement(GIVEN_LEGS, kind="WITHDRAWAL", amount=DEBITS)
TRANSFER = posting.statement(GIVEN_LEGS, kind="TRANSFER")
SPLIT = posting.statement(GIVEN_LEGS, kind="SPLIT", amount=CREDITS)


def request(
    actor: Actor,
    operation: str,
    parameters: Mapping[str, object],
    *,
    reference: str | None,
    metadata: object,
    idempotency_key: str | None,
    dry_run: bool,
) -> posting.Request:
    """Validate what every money-moving operation takes besides its own input."""
    reference = clean_reference(reference)
    cleaned = clean_metadata(metadata)
    idem = idempotency.prepare(
        idempotency_key,
        operation,
        {**parameters, "reference": reference, "metadata": cleaned},
        actor.idempotency_scope,
    )
    return posting.Request(
        actor=actor,
        reference=reference,
        metadata=cleaned,
        idem=idem,
        dry_run=dry_run,
        number=uuid.uuid4(),
    )


async def _post_legs(
    db: Database, statement: Statement, req: posting.Request, kind: str, legs: Sequence[Leg]
) -> Posted:
    """Post legs given as parameters; the answer lists the wallets in the legs' order."""
    order = [leg.wallet_id for leg in legs]

    def done(answer: Answer) -> Posted:
        moved = answer.moved()
        credited = sum((m.delta for m in moved if m.delta > 0), Decimal(0))
        return posting.posted(answer, req, kind, credited or -moved[0].delta)

    async def replay(conn: AsyncConnection, transaction_id: int) -> Posted:
        return _in_order(await posting.recorded(conn, transaction_id, req.actor), order)

    return await posting.run(
        db,
        statement,
        req,
        posting.given(legs),
        locks=order,
        done=done,
        replay=replay,
        fields={i: leg.field for i, leg in enumerate(legs)},
    )


def _in_order(done: Posted, order: Sequence[int]) -> Posted:
    """``done`` with its wallets in ``order`` (a replay reads them in the ledger's order)."""
    position = {wid: i for i, wid in enumerate(done.wallet_ids)}
    pick = [position[wid] for wid in order]
    return dataclasses.replace(
        done,
        wallets=[done.wallets[i] for i in pick],
        wallet_ids=list(order),
        leg_amounts=[done.leg_amounts[i] for i in pick],
        leg_references=[done.leg_references[i] for i in pick],
    )


async def resupply(
    db: Database,
    *,
    actor: Actor,
    wallet_id: str,
    amount: str,
    reference: str | None = None,
    metadata: object = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Credit ``amount`` to a wallet (operators only): money enters the ledger."""
    actor.require_operator("resupply")
    wid = require_id(wallet_id, "walletId")
    value = parse_amount(amount)
    req = request(
        actor,
        "RESUPPLY",
        {"wallet": wid, "amount": fingerprint(value)},
        reference=reference,
        metadata=metadata,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )
    return await _post_legs(db, RESUPPLY, req, "RESUPPLY", [Leg(wid, value)])


async def withdraw(
    db: Database,
    *,
    actor: Actor,
    wallet_id: str,
    amount: str,
    reference: str | None = None,
    metadata: object = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Debit ``amount`` from a wallet (operators only): money leaves the ledger, a payout."""
    actor.require_operator("withdraw")
    wid = require_id(wallet_id, "walletId")
    value = parse_amount(amount)
    req = request(
        actor,
        "WITHDRAW",
        {"wallet": wid, "amount": fingerprint(value)},
        reference=reference,
        metadata=metadata,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )
    return await _post_legs(db, WITHDRAW, req, "WITHDRAWAL", [Leg(wid, -value)])


async def transfer(
    db: Database,
    *,
    actor: Actor,
    wallet_from_id: str,
    wallet_to_id: str,
    amount: str,
    reference: str | None = None,
    metadata: object = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Move ``amount`` from one wallet to another.

    A client may only send from its own wallets (any other wallet is reported as not found,
    exactly like a missing one), to any existing wallet; it is not shown the receiving wallet
    unless that is its own too.
    """
    source = require_id(wallet_from_id, "walletFromId")
    target = require_id(wallet_to_id, "walletToId")
    if source == target:
        raise InvalidInput("walletToId", "walletToId must differ from walletFromId.")
    value = parse_amount(amount)
    req = request(
        actor,
        "TRANSFER",
        {"from": source, "to": target, "amount": fingerprint(value)},
        reference=reference,
        metadata=metadata,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )
    legs = [Leg(source, -value), Leg(target, value)]
    return await _post_legs(db, TRANSFER, req, "TRANSFER", legs)


@dataclass(frozen=True, slots=True)
class SplitLeg:
    wallet_to_id: str
    amount: str
    reference: str | None = None


async def split_transfer(
    db: Database,
    *,
    actor: Actor,
    wallet_from_id: str,
    legs: Sequence[SplitLeg],
    reference: str | None = None,
    metadata: object = None,
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> Posted:
    """Pay several wallets from one, all or nothing: one debit, one credit per leg, one
    transaction. Each leg pays a different wallet, never the paying one."""
    source = require_id(wallet_from_id, "walletFromId")
    if not 1 <= len(legs) <= MAX_SPLIT_LEGS:
        raise InvalidInput("legs", f"legs must hold 1 to {MAX_SPLIT_LEGS} legs.")
    credits: list[Leg] = []
    seen = {source}
    for i, leg in enumerate(legs):
        target = require_id(leg.wallet_to_id, f"legs[{i}].walletToId")
        if target in seen:
            raise InvalidInput(
                f"legs[{i}].walletToId",
                f"legs[{i}].walletToId must differ from walletFromId and from every other leg.",
            )
        seen.add(target)
        value = parse_amount(leg.amount, f"legs[{i}].amount")
        credits.append(
            Leg(
                target,
                value,
                field=f"legs[{i}].amount",
                reference=clean_reference(leg.reference, f"legs[{i}].reference"),
            )
        )
    total = sum((leg.delta for leg in credits), Decimal(0))
    req = request(
        actor,
        "SPLIT_TRANSFER",
        {
            "from": source,
            "legs": [[leg.wallet_id, fingerprint(leg.delta), leg.reference] for leg in credits],
        },
        reference=reference,
        metadata=metadata,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )
    debit = Leg(source, -total, field="legs")
    return await _post_legs(db, SPLIT, req, "SPLIT", [debit, *credits])
