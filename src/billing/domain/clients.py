"""Creating clients."""

from __future__ import annotations

from sqlalchemy import func, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.models import Client, Wallet
from billing.domain.errors import LoginTaken
from billing.domain.records import ClientRecord, NewClient, WalletRecord
from billing.domain.transactions import Database
from billing.domain.validation import clean_login, clean_name


async def create_client(db: Database, *, login: str, name: str) -> NewClient:
    """Create a client and its first wallet (balance 0.00), atomically.

    Logins are unique regardless of case; the unique index decides, so two concurrent requests
    for one login cannot both succeed.
    """
    login = clean_login(login)
    name = clean_name(name)

    async def work(conn: AsyncConnection) -> NewClient:
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
        return NewClient(
            client=ClientRecord(id=client_id, login=login, name=name),
            wallet=WalletRecord(id=wallet.id, client_id=client_id, balance=wallet.balance),
        )

    return await db.write(work)
