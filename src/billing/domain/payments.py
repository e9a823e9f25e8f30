"""Moving money: resupply (credit a wallet) and transfer (between two wallets).

Each runs as one SERIALIZABLE transaction: update the wallets in ascending id order with
conditional single-row updates (the CHECK constraint backs them up), then record the
transaction and one operation per wallet with the balance it left behind. With an idempotency
key, a request already performed is answered from the ledger instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import Row, TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.models import Client, Transaction, Wallet, WalletOperation
from billing.domain import idempotency
from billing.domain.access import Actor
from billing.domain.money import MAX_BALANCE, parse_amount
from billing.domain.records import ClientRecord, Resupplied, Transferred, WalletRecord
from billing.domain.validation import clean_reference, require_id
from billing.errors import (
    BalanceLimitExceeded,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidInput,
    WalletNotFound,
    failures,
)

RESUPPLY_FAILURES = failures(WalletNotFound, BalanceLimitExceeded)
TRANSFER_FAILURES = failures(WalletNotFound, InsufficientFunds, BalanceLimitExceeded)


async def resupply(
    db: Database,
    *,
    actor: Actor,
    wallet_id: str,
    amount: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> Resupplied:
    """Credit ``amount`` to a wallet (operators only)."""
    actor.require_operator("resupply")
    wid = require_id(wallet_id, "walletId")
    value = parse_amount(amount)
    reference = clean_reference(reference)
    idem = idempotency.prepare(
        idempotency_key,
        "RESUPPLY",
        {"wallet": wid, "amount": str(value), "reference": reference},
        actor.idempotency_scope,
    )
    number = uuid.uuid4()

    async def work(conn: AsyncConnection) -> Resupplied:
        rows = (
            await conn.execute(
                RESUPPLY_STATEMENT,
                {"wallet": wid, **_shared_parameters(value, number, reference, idem)},
            )
        ).all()
        first = rows[0]
        if earlier := await _earlier(conn, idem, first):
            return Resupplied(
                transaction_number=earlier.number,
                amount=earlier.amount,
                wallet=earlier.legs[0][0],
                reference=earlier.reference,
                replayed=True,
            )
        if first.target_balance is None:
            raise WalletNotFound(wid)
        if first.transaction_id is None:
            raise BalanceLimitExceeded(wid, MAX_BALANCE, balance=first.target_balance)
        (wallet,) = _moved(rows, 1)
        return Resupplied(
            transaction_number=number, amount=value, wallet=wallet, reference=reference
        )

    return await db.write(work, wallet_locks=idempotency.locks(idem, wid), one_statement=True)


async def transfer(
    db: Database,
    *,
    actor: Actor,
    wallet_from_id: str,
    wallet_to_id: str,
    amount: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> Transferred:
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
    reference = clean_reference(reference)
    idem = idempotency.prepare(
        idempotency_key,
        "TRANSFER",
        {"from": source, "to": target, "amount": str(value), "reference": reference},
        actor.idempotency_scope,
    )
    number = uuid.uuid4()

    async def work(conn: AsyncConnection) -> Transferred:
        rows = (
            await conn.execute(
                TRANSFER_STATEMENT,
                {
                    "source": source,
                    "target": target,
                    "owner": actor.owner_filter,
                    **_shared_parameters(value, number, reference, idem),
                },
            )
        ).all()
        first = rows[0]
        if earlier := await _earlier(conn, idem, first):
            (debited, _), (credited, _) = earlier.legs  # ordered by signed amount
            return Transferred(
                transaction_number=earlier.number,
                amount=earlier.amount,
                wallet_from=debited,
                wallet_to_id=credited.id,
                wallet_to=_visible(actor, credited),
                reference=earlier.reference,
                replayed=True,
            )
        if first.transaction_id is None:
            _refuse_transfer(actor, source, target, value, first)
        moved = {wallet.id: wallet for wallet in _moved(rows, 2)}
        return Transferred(
            transaction_number=number,
            amount=value,
            wallet_from=moved[source],
            wallet_to_id=target,
            wallet_to=_visible(actor, moved[target]),
            reference=reference,
        )

    locks = idempotency.locks(idem, source, target)
    return await db.write(work, wallet_locks=locks, one_statement=True)


def _refuse_transfer(
    actor: Actor, source: int, target: int, value: Decimal, found: Row[Any]
) -> NoReturn:
    """Why a transfer moved nothing, checked wallet by wallet in ascending id order."""
    for wid in sorted((source, target)):
        if wid == source:
            if found.source_balance is None:
                raise WalletNotFound(source)
            if found.source_balance < value:
                raise InsufficientFunds(source, found.source_balance, value)
        else:
            if found.target_balance is None:
                raise WalletNotFound(target)
            if found.target_balance > MAX_BALANCE - value:
                shown = found.target_balance if actor.may_see_client(found.target_client) else None
                raise BalanceLimitExceeded(target, MAX_BALANCE, balance=shown)
    raise AssertionError("a transfer that passed every check moved nothing")


def _visible(actor: Actor, wallet: WalletRecord) -> WalletRecord | None:
    return wallet if actor.may_see_client(wallet.client_id) else None


def _shared_parameters(
    value: Decimal, number: uuid.UUID, reference: str | None, idem: idempotency.Idempotency | None
) -> dict[str, object]:
    """The parameters both statements take: the amount, the new ledger row and the key."""
    key = (
        {"caller": None, "key": None, "request_hash": None}
        if idem is None
        else {"caller": idem.caller, "key": idem.key, "request_hash": idem.request_hash}
    )
    return {
        "amount": value,
        "ceiling": MAX_BALANCE - value,
        "number": number,
        "reference": reference,
        **key,
    }


async def _earlier(
    conn: AsyncConnection, idem: idempotency.Idempotency | None, found: Row[Any]
) -> _Recorded | None:
    """The transaction an idempotency key already points at (the statement then changed
    nothing); IdempotencyKeyReused if the key was used for another request."""
    if idem is None or found.earlier_hash is None:
        return None
    if found.earlier_hash != idem.request_hash:
        raise IdempotencyKeyReused(idem.key)
    return await _recorded(conn, found.earlier_transaction)


def _moved(rows: Sequence[Row[Any]], count: int) -> list[WalletRecord]:
    """The wallets the statement changed, as it left them, with their owners."""
    moved = [
        WalletRecord(
            id=r.wallet_id,
            client_id=r.client_id,
            balance=r.balance,
            owner=ClientRecord(id=r.client_id, login=r.login, name=r.name),
        )
        for r in rows
        if r.wallet_id is not None
    ]
    if len(moved) != count:
        raise AssertionError(f"expected {count} changed wallets, the statement changed {moved}")
    return moved


# Each operation is one statement, so one round trip and a transaction of its own. Its parts:
#   earlier:   the idempotency key's earlier use, if there is a key;
#   locked:    a transfer's two wallets, row-locked in ascending id order (so two transfers
#              never wait for each other in a cycle), as the snapshot shows them: SERIALIZABLE
#              fails with 40001 rather than lock a row changed since;
#   source, target:  those wallets (the source only if the caller owns it);
#   allowed:   one row if every check passes (and the key is new);
#   moved:     the conditional update of the wallets, returning them with their owners;
#   recorded, legs, remembered:  the ledger rows and the key, only if something moved. An
#              operation's time is read while its wallet is locked, not when the transaction
#              began: a transaction that began earlier but took the lock later (its snapshot
#              taken after the other's commit) must not sort before it in the wallet's history.
# The final select returns one row per changed wallet (or one row with nulls), each carrying
# what the caller needs to tell why nothing moved. CHECK constraints back every condition.
def _statement(*common_table_expressions: str, answer: str) -> TextClause:
    return text("WITH" + ",".join(common_table_expressions) + answer)


_EARLIER = """
  earlier AS (
    SELECT request_hash, transaction_id FROM idempotency_keys
    WHERE CAST(:key AS text) IS NOT NULL AND caller = :caller AND key = :key
  )"""
_RECORD = """
  recorded AS (
    INSERT INTO transactions (number, kind, amount, reference)
    SELECT :number, {kind}, :amount, :reference WHERE EXISTS (SELECT FROM allowed)
    RETURNING id
  ),
  legs AS (
    INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after, created_at)
    SELECT recorded.id, moved.id, moved.amount, moved.balance, clock_timestamp()
    FROM recorded, moved
  ),
  remembered AS (
    INSERT INTO idempotency_keys (caller, key, operation, request_hash, transaction_id)
    SELECT :caller, :key, {kind}, :request_hash, recorded.id
    FROM recorded WHERE CAST(:key AS text) IS NOT NULL
  )"""
_ANSWER = """
SELECT (SELECT request_hash FROM earlier) AS earlier_hash,
       (SELECT transaction_id FROM earlier) AS earlier_transaction,
       (SELECT id FROM recorded) AS transaction_id,
       {found},
       moved.id AS wallet_id, moved.client_id, moved.balance, moved.login, moved.name
FROM (VALUES (1)) AS answer (one) LEFT JOIN moved ON true"""

TRANSFER_STATEMENT = _statement(
    _EARLIER,
    """
  locked AS (
    SELECT id, client_id, balance FROM wallets
    WHERE id IN (:source, :target) ORDER BY id FOR UPDATE
  ),
  source AS (
    SELECT balance FROM locked
    WHERE id = :source AND (CAST(:owner AS bigint) IS NULL OR client_id = :owner)
  ),
  target AS (SELECT client_id, balance FROM locked WHERE id = :target),
  allowed AS (
    SELECT FROM source, target
    WHERE source.balance >= :amount AND target.balance <= :ceiling
      AND NOT EXISTS (SELECT FROM earlier)
  ),
  moved AS (
    UPDATE wallets AS w
    SET balance = w.balance + change.amount
    FROM clients AS c,
         (VALUES (CAST(:source AS bigint), -CAST(:amount AS numeric)), (:target, :amount))
           AS change (wallet_id, amount)
    WHERE w.id = change.wallet_id AND c.id = w.client_id AND EXISTS (SELECT FROM allowed)
    RETURNING w.id, w.client_id, w.balance, c.login, c.name, change.amount
  )""",
    _RECORD.format(kind="'TRANSFER'"),
    answer=_ANSWER.format(
        found="(SELECT balance FROM source) AS source_balance,"
        " (SELECT balance FROM target) AS target_balance,"
        " (SELECT client_id FROM target) AS target_client"
    ),
)

RESUPPLY_STATEMENT = _statement(
    _EARLIER,
    """
  target AS (SELECT balance FROM wallets WHERE id = :wallet),
  allowed AS (
    SELECT FROM target
    WHERE target.balance <= :ceiling AND NOT EXISTS (SELECT FROM earlier)
  ),
  moved AS (
    UPDATE wallets AS w
    SET balance = w.balance + :amount
    FROM clients AS c
    WHERE w.id = :wallet AND c.id = w.client_id AND EXISTS (SELECT FROM allowed)
    RETURNING w.id, w.client_id, w.balance, c.login, c.name, CAST(:amount AS numeric) AS amount
  )""",
    _RECORD.format(kind="'RESUPPLY'"),
    answer=_ANSWER.format(found="(SELECT balance FROM target) AS target_balance"),
)


@dataclass(frozen=True, slots=True)
class _Recorded:
    number: uuid.UUID
    amount: Decimal
    reference: str | None
    legs: list[tuple[WalletRecord, Decimal]]  # wallets as left by the transaction; by amount


async def _recorded(conn: AsyncConnection, transaction_id: int) -> _Recorded:
    """A transaction as the ledger holds it, with the balances it left behind."""
    rows = (
        await conn.execute(
            select(
                Transaction.number,
                Transaction.amount.label("total"),
                Transaction.reference,
                WalletOperation.wallet_id,
                WalletOperation.amount,
                WalletOperation.balance_after,
                Wallet.client_id,
                Client.login,
                Client.name,
            )
            .join(WalletOperation, WalletOperation.transaction_id == Transaction.id)
            .join(Wallet, Wallet.id == WalletOperation.wallet_id)
            .join(Client, Client.id == Wallet.client_id)
            .where(Transaction.id == transaction_id)
            .order_by(WalletOperation.amount)
        )
    ).all()
    first = rows[0]
    return _Recorded(
        number=first.number,
        amount=first.total,
        reference=first.reference,
        legs=[
            (
                WalletRecord(
                    id=r.wallet_id,
                    client_id=r.client_id,
                    balance=r.balance_after,
                    owner=ClientRecord(id=r.client_id, login=r.login, name=r.name),
                ),
                r.amount,
            )
            for r in rows
        ],
    )
