"""Creating clients."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.models import Client, Wallet
from billing.domain import idempotency
from billing.domain.access import Actor
from billing.domain.records import ClientRecord, NewClient, WalletRecord
from billing.domain.validation import clean_login, clean_name
from billing.errors import LoginTaken, failures

CREATE_CLIENT_FAILURES = failures(LoginTaken)


async def create_client(
    db: Database,
    *,
    actor: Actor,
    login: str,
    name: str,
    idempotency_key: str | None = None,
) -> NewClient:
    """Create a client and its first wallet (balance 0.00), atomically.

    Logins are unique regardless of case; the unique index decides, so two concurrent requests
    for one login cannot both succeed.
    """
    actor.require_operator("createClient")
    login = clean_login(login)
    name = clean_name(name)
    idem = idempotency.prepare(
        idempotency_key, "CREATE_CLIENT", {"login": login, "name": name}, actor.idempotency_scope
    )

    async def work(conn: AsyncConnection) -> NewClient:
        if idem and (found := await idempotency.find(conn, idem)):
            assert found.client_id is not None  # the fingerprint includes the operation
            return await _replay(conn, found.client_id)
        client_id = await conn.scalar(
            pg_insert(Client)
            .values(login=login, name=name)
            .on_conflict_do_nothing(index_elements=[func.lower(Client.login)])
            .returning(Client.id)
        )
        if client_id is None:
            raise LoginTaken(login)
        wallet = (
            await conn.execute(
                insert(Wallet).values(client_id=client_id).returning(Wallet.id, Wallet.balance)
            )
        ).one()
        if idem:
            await idempotency.remember(conn, idem, client_id=client_id)
        client = ClientRecord(id=client_id, login=login, name=name)
        return NewClient(
            client=client,
            wallet=WalletRecord(
                id=wallet.id, client_id=client_id, balance=wallet.balance, owner=client
            ),
        )

    return await db.write(work, wallet_locks=idempotency.locks(idem))


async def _replay(conn: AsyncConnection, client_id: int) -> NewClient:
    """The result of the original request: the client and its first wallet as created."""
    row = (
        await conn.execute(
            select(Client.login, Client.name, func.min(Wallet.id).label("wallet_id"))
            .join(Wallet, Wallet.client_id == Client.id)
            .where(Client.id == client_id)
            .group_by(Client.id)
        )
    ).one()
    client = ClientRecord(id=client_id, login=row.login, name=row.name)
    return NewClient(
        client=client,
        wallet=WalletRecord(
            id=row.wallet_id, client_id=client_id, balance=Decimal("0.00"), owner=client
        ),
        replayed=True,
    )
