"""Who is calling, and what they may see and do.

Operators may do everything. A client may read its own client and wallets (with their
history), and transfer from its own wallets to any existing wallet. Anything that is not the
caller's looks exactly like something that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from billing.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Actor:
    kind: Literal["OPERATOR", "CLIENT"]
    token_id: int
    client_id: int | None = None  # set for client tokens

    @property
    def is_operator(self) -> bool:
        return self.kind == "OPERATOR"

    @property
    def owner_filter(self) -> int | None:
        """The client whose objects alone are visible, or None when everything is."""
        return None if self.is_operator else self.client_id

    def may_see_client(self, client_id: int) -> bool:
        return self.is_operator or client_id == self.client_id

    def require_operator(self, operation: str) -> None:
        if not self.is_operator:
            raise PermissionDenied(operation)

    @property
    def idempotency_scope(self) -> str:
        """Keys are per caller: per operator token, or per client (across its tokens)."""
        return f"client:{self.client_id}" if self.client_id else f"operator:{self.token_id}"


# The command line (billing audit, tests setting up data) acts as an operator.
SYSTEM = Actor(kind="OPERATOR", token_id=0)

# A WebSocket's actor until its connection_init is accepted: a client that owns nothing (no
# client has a negative id), so it can see nothing. (No operation runs before then anyway.)
NOBODY = Actor(kind="CLIENT", token_id=0, client_id=-1)
