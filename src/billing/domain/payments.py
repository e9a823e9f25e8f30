"""Moving money: resupply (credit a wallet) and transfer (between two wallets).

Each runs as one SERIALIZABLE transaction: update the wallets in ascending id order with
conditional single-row updates (the CHECK constraint backs them up), then record the
transaction and one operation per wallet with the balance it left behind.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.models import Transaction, Wallet, WalletOperation
from billing.domain.errors import (
    BalanceLimitExceeded,
    InsufficientFunds,
    InvalidInput,
    WalletNotFound,
)
from billing.domain.money import MAX_BALANCE, parse_amount
from billing.domain.records import Resupplied, Transferred, WalletRecord
from billing.domain.transactions import Database
from billing.domain.validation import require_id


async def resupply(db: Database, *, wallet_id: str, amount: str) -> Resupplied:
    """Credit ``amount`` to a wallet."""
    wid = require_id(wallet_id, "walletId")
    value = parse_amount(amount)
    number = uuid.uuid4()

    async def work(conn: AsyncConnection) -> Resupplied:
        wallet = await _credit(conn, wid, value)
        await _record(conn, number, "RESUPPLY", value, [(wallet, value)])
        return Resupplied(transaction_number=number, amount=value, wallet=wallet)

    return await db.write(work, wallet_locks=[wid])


async def transfer(
    db: Database, *, wallet_from_id: str, wallet_to_id: str, amount: str
) -> Transferred:
    """Move ``amount`` from one wallet to another."""
    source = require_id(wallet_from_id, "walletFromId")
    target = require_id(wallet_to_id, "walletToId")
    if source == target:
        raise InvalidInput("walletToId", "walletToId must differ from walletFromId.")
    value = parse_amount(amount)
    number = uuid.uuid4()

    async def work(conn: AsyncConnection) -> Transferred:
        changed: dict[int, WalletRecord] = {}
        for wid in sorted((source, target)):  # fixed order: no deadlock cycles
            if wid == source:
                changed[wid] = await _debit(conn, wid, value)
            else:
                changed[wid] = await _credit(conn, wid, value)
        await _record(
            conn, number, "TRANSFER", value, [(changed[source], -value), (changed[target], value)]
        )
        return Transferred(
            transaction_number=number,
            amount=value,
            wallet_from=changed[source],
            wallet_to=changed[target],
        )

    return await db.write(work, wallet_locks=[source, target])


async def _debit(conn: AsyncConnection, wallet_id: int, value: Decimal) -> WalletRecord:
    row = (
        await conn.execute(
            update(Wallet)
            .where(Wallet.id == wallet_id, Wallet.balance >= value)
            .values(balance=Wallet.balance - value)
            .returning(Wallet.client_id, Wallet.balance)
        )
    ).one_or_none()
    if row is None:
        balance = await _balance(conn, wallet_id)
        raise InsufficientFunds(wallet_id, balance, value)
    return WalletRecord(id=wallet_id, client_id=row.client_id, balance=row.balance)


async def _credit(conn: AsyncConnection, wallet_id: int, value: Decimal) -> WalletRecord:
    row = (
        await conn.execute(
            update(Wallet)
            .where(Wallet.id == wallet_id, Wallet.balance <= MAX_BALANCE - value)
            .values(balance=Wallet.balance + value)
            .returning(Wallet.client_id, Wallet.balance)
        )
    ).one_or_none()
    if row is None:
        balance = await _balance(conn, wallet_id)
        raise BalanceLimitExceeded(wallet_id, balance, MAX_BALANCE)
    return WalletRecord(id=wallet_id, client_id=row.client_id, balance=row.balance)


async def _balance(conn: AsyncConnection, wallet_id: int) -> Decimal:
    """The balance of a wallet that a conditional update did not touch; WalletNotFound if none."""
    balance = await conn.scalar(select(Wallet.balance).where(Wallet.id == wallet_id))
    if balance is None:
        raise WalletNotFound(wallet_id)
    return balance


async def _record(
    conn: AsyncConnection,
    number: uuid.UUID,
    kind: str,
    value: Decimal,
    legs: list[tuple[WalletRecord, Decimal]],
) -> None:
    transaction_id = await conn.scalar(
        insert(Transaction).values(number=number, kind=kind, amount=value).returning(Transaction.id)
    )
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
