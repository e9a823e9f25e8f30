"""Webhook endpoints: where events are POSTed, and which addresses they may reach.

An operator registers an endpoint (a URL, the kinds of events it wants, a description) and
gets its secret once. The relay (``billing.events.relay``) makes a delivery of every later
event for every enabled endpoint that wants its kind, and sends them (see
``billing.domain.deliveries``).

A webhook URL must not lead the service to its own network: only ``http`` and ``https``, and no
address that is not public (loopback, private, unique-local, link-local, multicast,
unspecified, reserved, shared), unless ``BILLING_WEBHOOKS_ALLOW_PRIVATE`` says otherwise. The
URL is checked when it is registered (the host as written, and the addresses its name resolves
to now) and again on every connection, against the address actually connected to: a name that
resolves elsewhere later cannot get around it.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.domain.access import Actor
from billing.domain.events import EVENT_COLUMNS, event_record
from billing.domain.records import (
    NewWebhookEndpoint,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
)
from billing.domain.validation import parse_id
from billing.errors import (
    InvalidInput,
    WebhookDeliveryNotFound,
    WebhookEndpointNotFound,
    failures,
)

CREATE_ENDPOINT_FAILURES = failures()
ENDPOINT_FAILURES = failures(WebhookEndpointNotFound)
RESEND_FAILURES = failures(WebhookDeliveryNotFound)

# The kinds of events (a transaction's kind, or the expiry of a hold).
EVENT_KINDS = (
    "RESUPPLY",
    "WITHDRAWAL",
    "TRANSFER",
    "SPLIT",
    "HOLD",
    "CAPTURE",
    "VOID",
    "REFUND",
    "HOLD_EXPIRED",
)
DELIVERY_STATUSES = ("PENDING", "DELIVERED", "FAILED")
URL_MAX = 2000
DESCRIPTION_MAX = 500
SECRET_PREFIX = "whsec_"  # noqa: S105 - the form of a secret, not one
SECRET_BYTES = 32
RESOLVE_TIMEOUT = 5.0
DISABLED_BY_OPERATOR = "disabled by an operator"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# --- addresses ------------------------------------------------------------------------------


def address_refusal(address: Address) -> str | None:
    """Why a webhook may not connect to ``address`` (None: it may): what kind of address it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address written as IPv6 is that IPv4 address.
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        if embedded is not None:
            return address_refusal(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unique-local", address in _UNIQUE_LOCAL),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not public", not address.is_global),
    )
    return next((kind for kind, applies in checks if applies), None)


def refused_address(address: str, allow_private: bool) -> str | None:
    """Why ``address`` (an IP address as text) may not be connected to, or None."""
    if allow_private:
        return None
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone
    except ValueError:
        return "not an IP address"
    reason = address_refusal(parsed)
    return None if reason is None else f"{address} is {reason}"


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now, in the resolver's order (raises OSError)."""
    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


# --- endpoints ------------------------------------------------------------------------------


def _host_literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parts(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of a well-formed webhook URL (InvalidInput if it is not)."""
    if len(url) > URL_MAX:
        raise InvalidInput("url", f"url must be at most {URL_MAX} characters.")
    if any(unicodedata.category(ch)[0] in "CZ" for ch in url):
        raise InvalidInput("url", "url must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("url", "url is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url", "url must start with http:// or https://.")
    if not parts.hostname:
        raise InvalidInput("url", "url must name a host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url", "url must not contain a user name or password.")
    if parts.fragment:
        raise InvalidInput("url", "url must not contain a fragment (#...).")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def clean_url(url: str, allow_private: bool) -> str:
    """A webhook URL, checked as described in the module's docstring (InvalidInput if not)."""
    url = url.strip()
    _, host, port = _parts(url)
    if allow_private:
        return url

    def refused(why: str) -> InvalidInput:
        return InvalidInput("url", f"url must lead to a public address; {why}.")

    literal = _host_literal(host)
    if literal is not None:
        if (reason := address_refusal(literal)) is not None:
            raise refused(f"{host} is {reason}")
        return url
    if host == "localhost" or host.endswith(".localhost"):
        raise refused(f"{host} is loopback")
    # A name that does not resolve (yet) is accepted: every connection is checked anyway.
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            addresses = await resolve(host, port)
    except (OSError, TimeoutError, UnicodeError):
        return url
    for address in addresses:
        if (reason := refused_address(address, allow_private)) is not None:
            raise refused(f"{host} resolves to {reason}")
    return url


def clean_events(events: list[str]) -> list[str]:
    unknown = [kind for kind in events if kind not in EVENT_KINDS]
    if unknown:
        raise InvalidInput(
            "events", f"Unknown event kind {unknown[0]!r}; the kinds are {', '.join(EVENT_KINDS)}."
        )
    return list(dict.fromkeys(events))


def clean_description(description: str | None) -> str:
    text_ = unicodedata.normalize("NFC", (description or "").strip())
    if len(text_) > DESCRIPTION_MAX:
        raise InvalidInput(
            "description", f"description must be at most {DESCRIPTION_MAX} characters."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text_):
        raise InvalidInput("description", "description must not contain control characters.")
    return text_


def new_secret() -> str:
    """``whsec_`` and the base64 of 32 random bytes: the HMAC key is the decoded bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key a secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


_ENDPOINT_COLUMNS = "id, url, description, events, enabled, disabled_reason, created_at"


def _endpoint(r: Row[Any]) -> WebhookEndpointRecord:
    return WebhookEndpointRecord(
        id=r.id,
        url=r.url,
        description=r.description,
        events=list(r.events),
        enabled=r.enabled,
        disabled_reason=r.disabled_reason,
        created_at=r.created_at,
    )


def _endpoint_id(raw: str) -> int:
    value = parse_id(raw)
    if value is None:
        raise InvalidInput("id", 'id must be an id such as "42".')
    return value


async def create_endpoint(
    db: Database,
    *,
    actor: Actor,
    url: str,
    events: list[str],
    description: str | None = None,
    allow_private: bool = False,
) -> NewWebhookEndpoint:
    """Register an endpoint (operators only); its secret is in the answer and nowhere else."""
    actor.require_operator("createWebhookEndpoint")
    kinds = clean_events(events)
    about = clean_description(description)
    url = await clean_url(url, allow_private)
    secret = new_secret()

    async def work(conn: AsyncConnection) -> NewWebhookEndpoint:
        row = (
            await conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (url, description, events, secret)"
                    f" VALUES (:url, :description, :events, :secret) RETURNING {_ENDPOINT_COLUMNS}"
                ),
                {"url": url, "description": about, "events": kinds, "secret": secret},
            )
        ).one()
        return NewWebhookEndpoint(endpoint=_endpoint(row), secret=secret)

    return await db.write(work)


async def endpoints(conn: AsyncConnection) -> list[WebhookEndpointRecord]:
    """Every endpoint, oldest first."""
    rows = await conn.execute(
        text(f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id")
    )
    return [_endpoint(r) for r in rows]


async def endpoint(conn: AsyncConnection, endpoint_id: int) -> WebhookEndpointRecord | None:
    row = (
        await conn.execute(
            text(f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = :id"),
            {"id": endpoint_id},
        )
    ).one_or_none()
    return None if row is None else _endpoint(row)


async def set_enabled(
    db: Database, *, actor: Actor, endpoint_id: str, enabled: bool
) -> WebhookEndpointRecord:
    """Enable an endpoint (its pending deliveries resume, retried from now) or disable it (they
    wait; new events are not delivered to it meanwhile). Operators only."""
    actor.require_operator("enableWebhookEndpoint" if enabled else "disableWebhookEndpoint")
    key = _endpoint_id(endpoint_id)

    async def work(conn: AsyncConnection) -> WebhookEndpointRecord:
        row = (
            await conn.execute(
                text(
                    "UPDATE webhook_endpoints SET enabled = :enabled,"
                    " disabled_reason = CASE WHEN :enabled THEN NULL"
                    " ELSE coalesce(disabled_reason, :reason) END"
                    f" WHERE id = :id RETURNING {_ENDPOINT_COLUMNS}"
                ),
                {"id": key, "enabled": enabled, "reason": DISABLED_BY_OPERATOR},
            )
        ).one_or_none()
        if row is None:
            raise WebhookEndpointNotFound(key)
        if enabled:
            # Retries of a delivery that failed for a long time start over.
            await conn.execute(
                text(
                    "UPDATE webhook_deliveries SET first_attempt_at = NULL, attempts = 0,"
                    " next_attempt_at = least(next_attempt_at, now())"
                    " WHERE endpoint_id = :id AND status = 'PENDING'"
                ),
                {"id": key},
            )
        return _endpoint(row)

    return await db.write(work)


async def delete_endpoint(db: Database, *, actor: Actor, endpoint_id: str) -> int:
    """Delete an endpoint and its deliveries (operators only)."""
    actor.require_operator("deleteWebhookEndpoint")
    key = _endpoint_id(endpoint_id)

    async def work(conn: AsyncConnection) -> int:
        found = await conn.scalar(
            text("DELETE FROM webhook_endpoints WHERE id = :id RETURNING id"), {"id": key}
        )
        if found is None:
            raise WebhookEndpointNotFound(key)
        return key

    return await db.write(work)


# --- deliveries -----------------------------------------------------------------------------

DELIVERY_COLUMNS = f"""d.id AS delivery_id, d.endpoint_id, d.status, d.attempts,
       d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.delivered_at,
       d.created_at AS delivery_created_at, {EVENT_COLUMNS}"""
DELIVERY_FROM = """FROM webhook_deliveries AS d JOIN wallet_events AS e ON e.id = d.event_id
JOIN wallets AS w ON w.id = e.wallet_id LEFT JOIN transactions AS t ON t.id = e.transaction_id"""

_PAGE = text(f"""
SELECT {DELIVERY_COLUMNS} {DELIVERY_FROM}
WHERE d.endpoint_id = :endpoint AND d.id < :before
  AND (CAST(:status AS text) IS NULL OR d.status = :status)
ORDER BY d.id DESC LIMIT :limit
""")


def delivery_record(r: Row[Any]) -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        id=r.delivery_id,
        endpoint_id=r.endpoint_id,
        status=r.status,
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at if r.status == "PENDING" else None,
        last_attempt_at=r.last_attempt_at,
        last_status=r.last_status,
        last_error=r.last_error,
        delivered_at=r.delivered_at,
        created_at=r.delivery_created_at,
        event=event_record(r),
    )


async def deliveries_page(
    conn: AsyncConnection,
    endpoint_id: int,
    *,
    status: str | None,
    before: int | None,
    limit: int,
) -> tuple[list[WebhookDeliveryRecord], bool]:
    """An endpoint's deliveries, newest first, below the delivery id ``before``; and whether
    there are more."""
    rows = await conn.execute(
        _PAGE,
        {
            "endpoint": endpoint_id,
            "before": before if before is not None else 2**63 - 1,
            "status": status,
            "limit": limit + 1,
        },
    )
    found = [delivery_record(r) for r in rows]
    return found[:limit], len(found) > limit


async def resend(db: Database, *, actor: Actor, delivery_id: str) -> WebhookDeliveryRecord:
    """Send a delivery again, due now, its retries started over (operators only). It still
    waits for the earlier events of its wallet, and for its endpoint to be enabled."""
    actor.require_operator("resendWebhookDelivery")
    key = parse_id(delivery_id)
    if key is None:
        raise InvalidInput("id", 'id must be an id such as "42".')

    async def work(conn: AsyncConnection) -> WebhookDeliveryRecord:
        done = await conn.scalar(
            text(
                "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0,"
                " first_attempt_at = NULL, next_attempt_at = now(), delivered_at = NULL"
                " WHERE id = :id RETURNING id"
            ),
            {"id": key},
        )
        if done is None:
            raise WebhookDeliveryNotFound(key)
        row = (
            await conn.execute(
                text(f"SELECT {DELIVERY_COLUMNS} {DELIVERY_FROM} WHERE d.id = :id"), {"id": key}
            )
        ).one()
        return delivery_record(row)

    return await db.write(work)
