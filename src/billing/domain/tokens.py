"""API tokens: created with a secret shown once, stored as a hash, revocable at once (see
billing.db.token_cache for how serving processes hear of a revocation)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.models import ApiToken, Client
from billing.db.token_cache import CHANNEL, TokenCache
from billing.domain.access import Actor
from billing.domain.validation import clean_name
from billing.errors import InvalidInput

PREFIX = "bk_"


def hash_secret(secret: str) -> str:
    # The secret is 256 random bits: a fast hash is enough, no password stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    kind: str
    client_id: int | None
    name: str
    created_at: datetime
    revoked_at: datetime | None


async def create_token(
    db: Database, *, kind: Literal["OPERATOR", "CLIENT"], client_id: int | None = None, name: str
) -> tuple[TokenRecord, str]:
    """Create a token; return it and its secret (which is not stored and cannot be shown again)."""
    if (kind == "CLIENT") != (client_id is not None):
        raise InvalidInput("client", "a client token needs a client id; an operator token none")
    name = clean_name(name)
    secret = PREFIX + secrets.token_urlsafe(32)

    async def work(conn: AsyncConnection) -> TokenRecord:
        if client_id is not None:
            exists = await conn.scalar(select(Client.id).where(Client.id == client_id))
            if exists is None:
                raise InvalidInput("client", f"client {client_id} does not exist")
        row = (
            await conn.execute(
                insert(ApiToken)
                .values(kind=kind, client_id=client_id, name=name, secret_hash=hash_secret(secret))
                .returning(ApiToken.id, ApiToken.created_at)
            )
        ).one()
        return TokenRecord(row.id, kind, client_id, name, row.created_at, None)

    return await db.write(work), secret


async def list_tokens(db: Database) -> list[TokenRecord]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(
                ApiToken.id,
                ApiToken.kind,
                ApiToken.client_id,
                ApiToken.name,
                ApiToken.created_at,
                ApiToken.revoked_at,
            ).order_by(ApiToken.id)
        )
        return [TokenRecord(*row) for row in rows]


async def revoke_token(db: Database, token_id: int, cache: TokenCache[Actor] | None = None) -> bool:
    """Revoke a token; False if there is no such active token.

    Every serving process empties its token cache when this commits (``cache``: this process's
    own, emptied at once).
    """

    async def work(conn: AsyncConnection) -> bool:
        revoked = await conn.scalar(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(ApiToken.id)
        )
        await conn.execute(select(func.pg_notify(CHANNEL, str(token_id))))
        return revoked is not None

    revoked = await db.write(work)
    if cache is not None:
        cache.clear()
    return revoked


async def active_tokens(conn: AsyncConnection, token_ids: Collection[int]) -> set[int]:
    """Which of ``token_ids`` are tokens that have not been revoked."""
    found = await conn.scalars(
        select(ApiToken.id).where(ApiToken.id.in_(list(token_ids)), ApiToken.revoked_at.is_(None))
    )
    return set(found)


async def has_operator_token(db: Database) -> bool:
    async with db.read() as conn:
        found = await conn.scalar(
            select(ApiToken.id)
            .where(ApiToken.kind == "OPERATOR", ApiToken.revoked_at.is_(None))
            .limit(1)
        )
        return found is not None


async def authenticate(
    db: Database, secret: str, cache: TokenCache[Actor] | None = None
) -> Actor | None:
    """The actor a presented secret stands for; None if unknown or revoked."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    digest = hash_secret(secret)
    if cache is not None and (known := cache.get(digest)):
        return known
    generation = cache.generation if cache is not None else 0
    query = select(ApiToken.id, ApiToken.kind, ApiToken.client_id).where(
        ApiToken.secret_hash == digest, ApiToken.revoked_at.is_(None)
    )

    async def lookup(conn: AsyncConnection) -> Row[int, str, int | None] | None:
        return (await conn.execute(query)).one_or_none()

    row = await db.read_one(lookup)
    if row is None:
        return None
    kind: Literal["OPERATOR", "CLIENT"] = "OPERATOR" if row.kind == "OPERATOR" else "CLIENT"
    actor = Actor(kind=kind, token_id=row.id, client_id=row.client_id)
    if cache is not None:
        cache.put(digest, actor, generation)
    return actor
