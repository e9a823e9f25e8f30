"""Clients, their wallets, and the currencies wallets hold."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.models import Client, Currency
from billing.domain import idempotency
from billing.domain.access import Actor
from billing.domain.money import MAX_EXPONENT
from billing.domain.records import (
    ClientRecord,
    CurrencyRecord,
    NewClient,
    NewWallet,
    WalletRecord,
)
from billing.domain.validation import clean_login, clean_name, require_id
from billing.errors import ClientNotFound, CurrencyExists, InvalidInput, LoginTaken, failures

CREATE_CLIENT_FAILURES = failures(LoginTaken)
CREATE_WALLET_FAILURES = failures(ClientNotFound)
CREATE_CURRENCY_FAILURES = failures(CurrencyExists)
CODE_PATTERN = "[A-Z][A-Z0-9_]{2,11}"
_CODE = re.compile(CODE_PATTERN)


def clean_currency(code: str | None, default: str, field: str = "currency") -> str:
    if code is None:
        return default
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            field, f"{field} must be a code such as USD: 3 to 12 capitals, digits or '_'."
        )
    return code


async def _wallet(conn: AsyncConnection, client_id: int, currency: str) -> WalletRecord | None:
    """A new, empty wallet in ``currency``; None if there is no such currency."""
    row = (
        await conn.execute(
            text(
                "INSERT INTO wallets (client_id, currency, exponent, balance, held)"
                " SELECT :client, code, exponent, round(0, exponent), round(0, exponent)"
                " FROM currencies WHERE code = :currency"
                " RETURNING id, balance, held"
            ),
            {"client": client_id, "currency": currency},
        )
    ).one_or_none()
    if row is None:
        return None
    return WalletRecord(
        id=row.id, client_id=client_id, currency=currency, balance=row.balance, held=row.held
    )


def _unknown_currency(currency: str) -> InvalidInput:
    return InvalidInput("currency", f"There is no currency {currency}; see the currencies query.")


async def create_client(
    db: Database,
    *,
    actor: Actor,
    login: str,
    name: str,
    currency: str | None = None,
    default_currency: str = "USD",
    idempotency_key: str | None = None,
) -> NewClient:
    """Create a client and its first wallet (balance 0 in ``currency``), atomically.

    Logins are unique regardless of case; the unique index decides, so two concurrent requests
    for one login cannot both succeed.
    """
    actor.require_operator("createClient")
    login = clean_login(login)
    name = clean_name(name)
    code = clean_currency(currency, default_currency)
    idem = idempotency.prepare(
        idempotency_key,
        "CREATE_CLIENT",
        {"login": login, "name": name, **({} if currency is None else {"currency": code})},
        actor.idempotency_scope,
    )

    async def work(conn: AsyncConnection) -> NewClient:
        if idem and (found := await idempotency.find(conn, idem)):
            assert found.client_id is not None  # the fingerprint includes the operation
            return await _replay_client(conn, found.client_id)
        client_id = await conn.scalar(
            pg_insert(Client)
            .values(login=login, name=name)
            .on_conflict_do_nothing(index_elements=[func.lower(Client.login)])
            .returning(Client.id)
        )
        if client_id is None:
            raise LoginTaken(login)
        client = ClientRecord(id=client_id, login=login, name=name)
        wallet = await _wallet(conn, client_id, code)
        if wallet is None:
            raise _unknown_currency(code)
        if idem:
            await idempotency.remember(conn, idem, client_id=client_id)
        return NewClient(client=client, wallet=_owned(wallet, client))

    return await db.write(work, key_lock=idempotency.lock(idem))


def _owned(wallet: WalletRecord, client: ClientRecord) -> WalletRecord:
    return dataclasses.replace(wallet, owner=client)


async def _replay_client(conn: AsyncConnection, client_id: int) -> NewClient:
    """The result of the original request: the client and its first wallet as created."""
    row = (
        await conn.execute(
            text(
                "SELECT c.login, c.name, w.id, w.currency, round(0, w.exponent) AS zero"
                " FROM clients AS c JOIN wallets AS w ON w.client_id = c.id"
                " WHERE c.id = :client ORDER BY w.id LIMIT 1"
            ),
            {"client": client_id},
        )
    ).one()
    client = ClientRecord(id=client_id, login=row.login, name=row.name)
    wallet = WalletRecord(
        id=row.id, client_id=client_id, currency=row.currency, balance=row.zero, held=row.zero
    )
    return NewClient(client=client, wallet=_owned(wallet, client), replayed=True)


async def create_wallet(
    db: Database,
    *,
    actor: Actor,
    client_id: str,
    currency: str,
    idempotency_key: str | None = None,
) -> NewWallet:
    """Open another wallet for a client (operators; a client token for itself)."""
    cid = require_id(client_id, "clientId")
    code = clean_currency(currency, currency)
    if not actor.may_see_client(cid):
        raise ClientNotFound(cid)
    idem = idempotency.prepare(
        idempotency_key,
        "CREATE_WALLET",
        {"client": cid, "currency": code},
        actor.idempotency_scope,
    )

    async def work(conn: AsyncConnection) -> NewWallet:
        if idem and (found := await idempotency.find(conn, idem)):
            assert found.wallet_id is not None
            row = (
                await conn.execute(
                    text(
                        "SELECT id, client_id, currency, round(0, exponent) AS zero"
                        " FROM wallets WHERE id = :id"
                    ),
                    {"id": found.wallet_id},
                )
            ).one()
            wallet = WalletRecord(
                id=row.id,
                client_id=row.client_id,
                currency=row.currency,
                balance=row.zero,
                held=row.zero,
            )
            return NewWallet(wallet=wallet, replayed=True)
        exists = await conn.scalar(select(func.count()).where(Client.id == cid))
        if not exists:
            raise ClientNotFound(cid)
        made = await _wallet(conn, cid, code)
        if made is None:
            raise _unknown_currency(code)
        if idem:
            await idempotency.remember(conn, idem, wallet_id=made.id)
        return NewWallet(wallet=made)

    return await db.write(work, key_lock=idempotency.lock(idem))


async def create_currency(
    db: Database, *, actor: Actor, code: str, exponent: int, name: str
) -> CurrencyRecord:
    """Add an asset of the operator's own (loyalty points, say) with ``exponent`` decimals."""
    actor.require_operator("createCurrency")
    code = clean_currency(code, code, "code")
    if not 0 <= exponent <= MAX_EXPONENT:
        raise InvalidInput("exponent", f"exponent must be 0 to {MAX_EXPONENT}.")
    name = clean_name(name)

    async def work(conn: AsyncConnection) -> CurrencyRecord:
        made = await conn.scalar(
            pg_insert(Currency)
            .values(code=code, exponent=exponent, name=name, custom=True)
            .on_conflict_do_nothing(index_elements=[Currency.code])
            .returning(Currency.code)
        )
        if made is None:
            raise CurrencyExists(code)
        return CurrencyRecord(code=code, exponent=exponent, name=name, custom=True)

    return await db.write(work)


async def currencies(conn: AsyncConnection) -> list[CurrencyRecord]:
    rows = await conn.execute(
        select(Currency.code, Currency.exponent, Currency.name, Currency.custom).order_by(
            Currency.code
        )
    )
    return [CurrencyRecord(r.code, r.exponent, r.name, r.custom) for r in rows]
