"""The API's statements for one operation, as the baselines send them.

Every money movement of the API is one posting statement (src/billing/domain/posting.py): the
transfer and resupply statements of src/billing/domain/payments.py, the hold and capture ones
of src/billing/domain/holds.py. They are taken from the service itself, so the baselines cannot
drift from what the API runs: each is one statement, a SERIALIZABLE transaction of its own (the
connections' default). Their legs are array parameters (``:wallets``, ``:deltas``, ...), built
by the service's own ``posting.given``; the rest are what ``posting.post`` sends for an
operator's request without idempotency key, metadata or dry run.

The wallet gate (advisory locks in ascending wallet id order, before the statement, released
after it) is what the API does for wallets that showed contention: in these scenarios, the hot
spot and the pair (``Job.gated``). Uniform traffic over 10,000 wallets runs without it, as the
API's does. A capture goes without it: the API takes a hold's lock at the gate only once the
hold's resolvers have collided across processes, and a hold here is captured once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

try:
    from billing.domain.holds import CAPTURE, DEFAULT_LIFETIME, HOLD
    from billing.domain.payments import RESUPPLY, TRANSFER
    from billing.domain.posting import Leg, given
except ImportError as exc:  # a --rev from before the one posting path (issue 14)
    raise SystemExit(
        f"This benchmark runs the posting statements of billing.domain.posting ({exc}); the"
        " billing package imported here predates them. Benchmark an older revision with the"
        " bench of that revision (git worktree add DIR REV; PYTHONPATH=DIR/src python"
        " DIR/bench/throughput.py)."
    ) from exc

LOCK_ONE = "SELECT pg_advisory_lock($1)"
LOCK_TWO = "SELECT pg_advisory_lock($1), pg_advisory_lock($2)"
UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"
READ_WALLETS = "SELECT id, client_id, balance FROM wallets WHERE id = ANY($1::bigint[])"

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@dataclass(frozen=True)
class Statement:
    """One of the API's statements with its ``:name`` parameters numbered for asyncpg."""

    text: str  # as the service has it, ``:name`` parameters
    names: tuple[str, ...]  # in the order of their ``$n``

    @classmethod
    def of(cls, text: str) -> Statement:
        return cls(text, tuple(dict.fromkeys(_NAMED.findall(text))))

    @property
    def numbered(self) -> str:
        """``:name`` parameters as asyncpg's ``$n``."""
        return _NAMED.sub(lambda m: f"${self.names.index(m.group(1)) + 1}", self.text)

    def arguments(self, values: Mapping[str, object]) -> list[object]:
        """``values`` in the order of the ``$n`` (KeyError for a missing one)."""
        return [values[name] for name in self.names]


TRANSFER_STATEMENT = Statement.of(TRANSFER.text)
RESUPPLY_STATEMENT = Statement.of(RESUPPLY.text)
HOLD_STATEMENT = Statement.of(HOLD.text)
CAPTURE_STATEMENT = Statement.of(CAPTURE.text)

# What ``posting.post`` sends besides the plan for an operator without key, metadata, dry run.
REQUEST = {
    "owner": None,
    "reference": None,
    "metadata": "{}",
    "dry_run": False,
    "operation": None,
    "caller": None,
    "key": None,
    "request_hash": None,
}


def _request(**values: object) -> dict[str, object]:
    return {**REQUEST, "number": uuid.uuid4(), **values}


def transfer_values(source: int, target: int, amount: Decimal) -> dict[str, object]:
    return _request(**given([Leg(source, -amount), Leg(target, amount)]))


def resupply_values(wallet: int, amount: Decimal) -> dict[str, object]:
    return _request(**given([Leg(wallet, amount)]))


def hold_expiry() -> datetime:
    """What the API sets when a hold names no expiry."""
    return datetime.now(UTC) + DEFAULT_LIFETIME


def hold_values(
    source: int, target: int, amount: Decimal, reference: str, expires: datetime
) -> dict[str, object]:
    legs = [Leg(source, Decimal(0), amount, expires=expires), Leg(target, Decimal(0))]
    return _request(
        **given(legs),
        wallet_from=source,
        wallet_to=target,
        expires_at=expires,
        reference=reference,
    )


def capture_values(hold_id: int) -> dict[str, object]:
    """Capture all the hold reserves (no ``amount``), as the benchmark's API requests do."""
    return _request(hold=hold_id, amount=None)


def for_pgbench(statement: Statement, values: Mapping[str, str]) -> str:
    """``:name`` parameters replaced by pgbench variables (``:a``) or SQL (``NULL``), on one
    line (pgbench reads a statement up to its line's end)."""
    return " ".join(_NAMED.sub(lambda m: values[m.group(1)], statement.text).split())


# pgbench variables (-D): lo, hi: the wallet id range; amount, e.g. 1.00; debit, e.g. -1.00;
# expires: a hold's expiry (ISO 8601); gate: 1 or 0. An array
# parameter is an ARRAY[...] of them, cast by the statement itself (CAST(:wallets AS bigint[])).
_PGBENCH_REQUEST = {
    "owner": "NULL",
    "reference": "NULL",
    "metadata": "'{}'",
    "dry_run": "false",
    "operation": "NULL",
    "caller": "NULL",
    "key": "NULL",
    "request_hash": "NULL",
    "number": "gen_random_uuid()",
}


def _legs(
    wallets: Sequence[str],
    deltas: Sequence[str],
    hold_deltas: Sequence[str] | None = None,
    expiries: Sequence[str] | None = None,
) -> dict[str, str]:
    def array(items: Sequence[str]) -> str:
        return f"ARRAY[{', '.join(items)}]"

    nulls = ["NULL"] * len(wallets)
    return {
        "wallets": array(wallets),
        "deltas": array(deltas),
        "hold_deltas": array(hold_deltas or ["0"] * len(wallets)),
        "references": array(nulls),
        "expiries": array(expiries or nulls),
        "orders": array([str(i) for i in range(len(wallets))]),
    }


_CHOOSE_ONE = "\\set w random(:lo, :hi)\n"
_CHOOSE_TWO = (
    "\\set a random(:lo, :hi)\n"
    "\\set b random(:lo, :hi - 1)\n"
    "\\set b CASE WHEN :b >= :a THEN :b + 1 ELSE :b END\n"
    "\\set first least(:a, :b)\n"
    "\\set second greatest(:a, :b)\n"
)
_LOCK_ONE = "SELECT pg_advisory_unlock_all(), pg_advisory_lock(:w);\n"
_LOCK_TWO = (
    "SELECT pg_advisory_unlock_all(), pg_advisory_lock(:first), pg_advisory_lock(:second);\n"
)
_UNLOCK = "SELECT pg_advisory_unlock_all();\n"


def _gated(lock: str, body: str) -> str:
    # pgbench skips the rest of a script when a transaction fails for good (and restarts it on
    # a retry), so the gate of a failed attempt would outlive it and break the lock order; the
    # API releases it in a `finally`. Releasing first, in the same statement, costs no round trip.
    return f"\\if :gate\n{lock}\\endif\n{body}\\if :gate\n{_UNLOCK}\\endif\n"


def pgbench_script(kind: str) -> str:
    """A pgbench script for one operation, as the API sends it (see the variables above)."""
    if kind == "read":
        return (
            "-- One API read of `wallet(id) { balance }`: one read-only REPEATABLE READ snapshot.\n"
            + _CHOOSE_ONE
            + "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
            "SELECT id, client_id, balance FROM wallets WHERE id IN (:w);\n"
            "COMMIT;\n"
        )
    if kind == "resupply":
        values = {**_PGBENCH_REQUEST, **_legs([":w"], [":amount"])}
        body = for_pgbench(RESUPPLY_STATEMENT, values) + ";\n"
        return (
            "-- One API resupply, generated from src/billing/domain/payments.py.\n"
            + _CHOOSE_ONE
            + _gated(_LOCK_ONE, body)
        )
    if kind == "transfer":
        values = {**_PGBENCH_REQUEST, **_legs([":a", ":b"], [":debit", ":amount"])}
        body = for_pgbench(TRANSFER_STATEMENT, values) + ";\n"
        return (
            "-- One API transfer, generated from src/billing/domain/payments.py.\n"
            + _CHOOSE_TWO
            + _gated(_LOCK_TWO, body)
        )
    if kind == "hold-capture":
        hold = {
            **_PGBENCH_REQUEST,
            **_legs([":a", ":b"], ["0", "0"], [":amount", "0"], [":expires", "NULL"]),
            "wallet_from": ":a",
            "wallet_to": ":b",
            "expires_at": ":expires",
            "reference": "('bench-' || :n)",
        }
        # \aset keeps the last row's columns as variables, prefixed: every row carries hold_id.
        made = for_pgbench(HOLD_STATEMENT, hold) + " \\aset h_\n"
        capture = for_pgbench(CAPTURE_STATEMENT, {**_PGBENCH_REQUEST, "hold": ":h_hold_id",
                                                  "amount": "NULL"})  # fmt: skip
        return (
            "-- One API holdTransfer, then one captureHold of that hold, generated from\n"
            "-- src/billing/domain/holds.py. A retry restarts the script: a hold whose capture\n"
            "-- failed for good stays pending (it expires).\n"
            + _CHOOSE_TWO
            + "\\set n random(1, 1000000000)\n"  # the hold's reference, as the API's are unique
            + _gated(_LOCK_TWO, made)
            + capture
            + ";\n"
        )
    raise ValueError(f"unknown kind {kind!r}")
