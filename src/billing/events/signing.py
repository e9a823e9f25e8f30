"""What a webhook carries: its JSON body and its Standard Webhooks headers.

The body of an event is the same on every attempt (its bytes are what is signed); the
timestamp and signature are made anew for each attempt::

    webhook-id: evt_<event id>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>

where the key is the base64-decoded part of the endpoint's ``whsec_...`` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC

from billing.domain.money import format_money
from billing.domain.records import EventRecord
from billing.domain.webhooks import secret_key


def event_id(event: EventRecord) -> str:
    """The event's stable id: the webhook-id of every attempt at delivering it."""
    return f"evt_{event.id}"


def body(event: EventRecord) -> bytes:
    """The JSON body of a webhook for ``event``: amounts as decimal strings, as stored."""
    available = None if event.available is None else format_money(event.available)
    payload = {
        "id": event_id(event),
        "type": event.kind,
        "createdAt": event.created_at.astimezone(UTC).isoformat(),
        "data": {
            "walletId": str(event.wallet_id),
            "clientId": str(event.client_id),
            "sequence": event.seq,
            "currency": event.currency,
            "amount": format_money(event.amount),
            "heldChange": format_money(event.held_change),
            "balance": format_money(event.balance),
            "available": available,
            "transactionNumber": (
                None if event.transaction_number is None else str(event.transaction_number)
            ),
            "reference": event.reference,
            "metadata": event.metadata,
            "holdId": None if event.hold_id is None else str(event.hold_id),
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, message_id: str, timestamp: int, content: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and the base64 HMAC-SHA256."""
    signed = f"{message_id}.{timestamp}.".encode() + content
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secret: str, event: EventRecord, content: bytes, now: float | None = None
) -> dict[str, str]:
    """The headers of one attempt at delivering ``event`` (``content`` is its body)."""
    timestamp = int(time.time() if now is None else now)
    message_id = event_id(event)
    return {
        "content-type": "application/json",
        "user-agent": "billing-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, content),
    }
