"""Idempotency keys: a retried request with the same key moves money at most once.

The key row is written in the same transaction as the operation, so a crash can never record
one without the other. Typed failures roll the transaction back, so they leave no key: a retry
is evaluated afresh. Keys are kept as long as the operation they belong to (no expiry window).
Requests with the same key queue on an advisory lock on the key, taken before the transaction
starts, so a concurrent duplicate waits for the first and then replays its result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.models import IdempotencyKey
from billing.errors import IdempotencyKeyReused, InvalidInput

KEY_MAX = 255


@dataclass(frozen=True, slots=True)
class Idempotency:
    caller: str
    key: str
    operation: str
    request_hash: str

    @property
    def lock_id(self) -> int:
        return lock_of(f"{self.caller}\0{self.key}")


def lock_of(name: str) -> int:
    """A negative 64-bit advisory lock id for a name (wallet locks use the positive wallet
    ids): writers naming the same key, hold or transaction queue behind each other."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return -1 - (int.from_bytes(digest, "big") >> 1)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a key already points at: the transaction (money) or the client it created."""

    transaction_id: int | None
    client_id: int | None
    wallet_id: int | None


def prepare(
    key: str | None, operation: str, params: Mapping[str, object], caller: str = ""
) -> Idempotency | None:
    """Validate the key and fingerprint the request's (already validated) parameters."""
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
        raise InvalidInput(
            "idempotencyKey",
            f"idempotencyKey must be 1 to {KEY_MAX} printable characters, e.g. a UUID.",
        )
    canonical = json.dumps({"operation": operation, **params}, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return Idempotency(caller=caller, key=key, operation=operation, request_hash=digest)


async def find(conn: AsyncConnection, idem: Idempotency) -> Recorded | None:
    """The earlier result recorded under this key; IdempotencyKeyReused if it was for another
    request."""
    row = (
        await conn.execute(
            select(
                IdempotencyKey.request_hash,
                IdempotencyKey.transaction_id,
                IdempotencyKey.client_id,
                IdempotencyKey.wallet_id,
            ).where(IdempotencyKey.caller == idem.caller, IdempotencyKey.key == idem.key)
        )
    ).one_or_none()
    if row is None:
        return None
    if row.request_hash != idem.request_hash:
        raise IdempotencyKeyReused(idem.key)
    return Recorded(
        transaction_id=row.transaction_id, client_id=row.client_id, wallet_id=row.wallet_id
    )


async def remember(
    conn: AsyncConnection,
    idem: Idempotency,
    *,
    transaction_id: int | None = None,
    client_id: int | None = None,
    wallet_id: int | None = None,
) -> None:
    await conn.execute(
        insert(IdempotencyKey).values(
            caller=idem.caller,
            key=idem.key,
            operation=idem.operation,
            request_hash=idem.request_hash,
            transaction_id=transaction_id,
            client_id=client_id,
            wallet_id=wallet_id,
        )
    )


def lock(idem: Idempotency | None) -> int | None:
    """The key's lock, if there is a key (see ``Database.write``)."""
    return None if idem is None else idem.lock_id
