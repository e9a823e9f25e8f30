"""Moving money: resupply (credit a wallet) and transfer (between two wallets).

Each runs as one SERIALIZABLE transaction: update the wallets in ascending id order with
conditional single-row updates (the CHECK constraint backs them up), then record the
transaction and one operation per wallet with the balance it left behind. With an idempotency
key, a request already performed is answered from the ledger instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.models import Client, Transaction, Wallet, WalletOperation
from billing.domain import idempotency
from billing.domain.access import Actor
from billing.domain.errors import (
    BalanceLimitExceeded,
    InsufficientFunds,
    InvalidInput,
    WalletNotFound,
)
from billing.domain.money import MAX_BALANCE, parse_amount
from billing.domain.records import ClientRecord, Resupplied, Transferred, WalletRecord
from billing.domain.transactions import Database
from billing.domain.validation import clean_reference, require_id


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
        if idem and (found := await idempotency.find(conn, idem)):
            assert found.transaction_id is not None  # the fingerprint includes the operation
            recorded = await _recorded(conn, found.transaction_id)
            return Resupplied(
                transaction_number=recorded.number,
                amount=recorded.amount,
                wallet=recorded.legs[0][0],
                reference=recorded.reference,
                replayed=True,
            )
        wallet = await _credit(conn, wid, value, actor)
        transaction_id = await _record(
            conn,
            number=number,
            kind="RESUPPLY",
            value=value,
            reference=reference,
            legs=[(wallet, value)],
        )
        if idem:
            await idempotency.remember(conn, idem, transaction_id=transaction_id)
        return Resupplied(
            transaction_number=number, amount=value, wallet=wallet, reference=reference
        )

    return await db.write(work, wallet_locks=idempotency.locks(idem, wid))


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
        if idem and (found := await idempotency.find(conn, idem)):
            assert found.transaction_id is not None  # the fingerprint includes the operation
            recorded = await _recorded(conn, found.transaction_id)
            (debited, _), (credited, _) = recorded.legs  # ordered by signed amount
            return Transferred(
                transaction_number=recorded.number,
                amount=recorded.amount,
                wallet_from=debited,
                wallet_to_id=credited.id,
                wallet_to=_visible(actor, credited),
                reference=recorded.reference,
                replayed=True,
            )
        changed: dict[int, WalletRecord] = {}
        for wid in sorted((source, target)):  # fixed order: no deadlock cycles
            if wid == source:
                changed[wid] = await _debit(conn, wid, value, actor)
            else:
                changed[wid] = await _credit(conn, wid, value, actor)
        legs = [(changed[source], -value), (changed[target], value)]
        transaction_id = await _record(
            conn, number=number, kind="TRANSFER", value=value, reference=reference, legs=legs
        )
        if idem:
            await idempotency.remember(conn, idem, transaction_id=transaction_id)
        return Transferred(
            transaction_number=number,
            amount=value,
            wallet_from=changed[source],
            wallet_to_id=target,
            wallet_to=_visible(actor, changed[target]),
            reference=reference,
        )

    return await db.write(work, wallet_locks=idempotency.locks(idem, source, target))


def _visible(actor: Actor, wallet: WalletRecord) -> WalletRecord | None:
    return wallet if actor.may_see_client(wallet.client_id) else None


async def _debit(
    conn: AsyncConnection, wallet_id: int, value: Decimal, actor: Actor
) -> WalletRecord:
    """Take money from a wallet the actor owns (operators: any wallet)."""
    owned = _owned_by(actor)
    row = (
        await conn.execute(
            update(Wallet)
            .where(Wallet.id == wallet_id, Wallet.balance >= value, *owned, *_OWNER_JOIN)
            .values(balance=Wallet.balance - value)
            .returning(*_CHANGED)
        )
    ).one_or_none()
    if row is None:
        found = await _wallet(conn, wallet_id, owned)
        raise InsufficientFunds(wallet_id, found.balance, value)
    return _changed(wallet_id, row)


async def _credit(
    conn: AsyncConnection, wallet_id: int, value: Decimal, actor: Actor
) -> WalletRecord:
    """Put money into any existing wallet."""
    row = (
        await conn.execute(
            update(Wallet)
            .where(Wallet.id == wallet_id, Wallet.balance <= MAX_BALANCE - value, *_OWNER_JOIN)
            .values(balance=Wallet.balance + value)
            .returning(*_CHANGED)
        )
    ).one_or_none()
    if row is None:
        found = await _wallet(conn, wallet_id, ())
        shown = found.balance if actor.may_see_client(found.client_id) else None
        raise BalanceLimitExceeded(wallet_id, shown, MAX_BALANCE)
    return _changed(wallet_id, row)


# The wallet updates also return the owner (UPDATE ... FROM clients), for the answer.
_OWNER_JOIN = (Client.id == Wallet.client_id,)
_CHANGED = (Wallet.client_id, Wallet.balance, Client.login, Client.name)


def _changed(wallet_id: int, row: Row[int, Decimal, str, str]) -> WalletRecord:
    owner = ClientRecord(id=row.client_id, login=row.login, name=row.name)
    return WalletRecord(id=wallet_id, client_id=row.client_id, balance=row.balance, owner=owner)


def _owned_by(actor: Actor) -> tuple[ColumnElement[bool], ...]:
    owner = actor.owner_filter
    return () if owner is None else (Wallet.client_id == owner,)


async def _wallet(
    conn: AsyncConnection, wallet_id: int, owned: tuple[ColumnElement[bool], ...]
) -> WalletRecord:
    """A wallet that a conditional update did not touch; WalletNotFound if it is not there (or
    not the caller's to use)."""
    row = (
        await conn.execute(
            select(Wallet.client_id, Wallet.balance).where(Wallet.id == wallet_id, *owned)
        )
    ).one_or_none()
    if row is None:
        raise WalletNotFound(wallet_id)
    return WalletRecord(id=wallet_id, client_id=row.client_id, balance=row.balance)


async def _record(
    conn: AsyncConnection,
    *,
    number: uuid.UUID,
    kind: str,
    value: Decimal,
    reference: str | None,
    legs: list[tuple[WalletRecord, Decimal]],
) -> int:
    transaction_id = (
        await conn.execute(
            insert(Transaction)
            .values(number=number, kind=kind, amount=value, reference=reference)
            .returning(Transaction.id)
        )
    ).scalar_one()
    await conn.execute(
        insert(WalletOperation).values(
            [
                {
                    "transaction_id": transaction_id,
                    "wallet_id": wallet.id,
                    "amount": signed,
                    "balance_after": wallet.balance,
                }
                for wallet, signed in legs
            ]
        )
    )
    return transaction_id


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
