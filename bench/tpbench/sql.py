"""The API's statements for one operation, as the baselines send them.

The transfer and resupply statements are taken from the service itself
(src/billing/domain/payments.py), so the baselines cannot drift from what the API runs: each is
one statement, a SERIALIZABLE transaction of its own (the connections' default). The wallet gate
(advisory locks in ascending wallet id order, before the statement, released after it) is what
the API does for wallets that showed contention: in these scenarios, the hot spot and the pair
(``Job.gated``). Uniform traffic over 10,000 wallets runs without it, as the API's does.
"""

from __future__ import annotations

import re
from decimal import Decimal

from billing.domain.money import MAX_BALANCE
from billing.domain.payments import RESUPPLY_STATEMENT, TRANSFER_STATEMENT

LOCK_ONE = "SELECT pg_advisory_lock($1)"
LOCK_TWO = "SELECT pg_advisory_lock($1), pg_advisory_lock($2)"
UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"
READ_WALLETS = "SELECT id, client_id, balance FROM wallets WHERE id = ANY($1::bigint[])"

# The statements' parameters, in the order the asyncpg baseline passes them.
TRANSFER_PARAMETERS = (
    "source", "target", "owner", "amount", "ceiling", "number", "reference", "caller", "key",
    "request_hash",
)  # fmt: skip
RESUPPLY_PARAMETERS = (
    "wallet", "amount", "ceiling", "number", "reference", "caller", "key", "request_hash",
)  # fmt: skip

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def numbered(statement: str, order: tuple[str, ...]) -> str:
    """``:name`` parameters as asyncpg's ``$n``, numbered by their place in ``order``."""
    return _NAMED.sub(lambda m: f"${order.index(m.group(1)) + 1}", statement)


def for_pgbench(statement: str, values: dict[str, str]) -> str:
    """``:name`` parameters replaced by pgbench variables (``:a``) or SQL (``NULL``)."""
    return _NAMED.sub(lambda m: values[m.group(1)], statement)


TRANSFER = numbered(TRANSFER_STATEMENT.text, TRANSFER_PARAMETERS)
RESUPPLY = numbered(RESUPPLY_STATEMENT.text, RESUPPLY_PARAMETERS)


def ceiling(amount: str) -> str:
    """The highest balance a wallet may have before receiving ``amount``."""
    return str(MAX_BALANCE - Decimal(amount))


_NO_KEY = {"caller": "NULL", "key": "NULL", "request_hash": "NULL", "reference": "NULL"}


def pgbench_script(kind: str) -> str:
    """A pgbench script for one operation, as the API sends it.

    Variables (-D): lo, hi: the wallet id range; amount, e.g. 1.00; ceiling; gate: 1 or 0.
    """
    if kind == "read":
        return (
            "-- One API read of `wallet(id) { balance }`: one read-only REPEATABLE READ snapshot.\n"
            "\\set w random(:lo, :hi)\n"
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
            "SELECT id, client_id, balance FROM wallets WHERE id IN (:w);\n"
            "COMMIT;\n"
        )
    common = {"amount": ":amount", "ceiling": ":ceiling", "number": "gen_random_uuid()"}
    if kind == "resupply":
        choose = "\\set w random(:lo, :hi)\n"
        lock = "SELECT pg_advisory_unlock_all(), pg_advisory_lock(:w);\n"
        body = for_pgbench(RESUPPLY_STATEMENT.text, {"wallet": ":w", **common, **_NO_KEY})
    else:
        choose = (
            "\\set a random(:lo, :hi)\n"
            "\\set b random(:lo, :hi - 1)\n"
            "\\set b CASE WHEN :b >= :a THEN :b + 1 ELSE :b END\n"
            "\\set first least(:a, :b)\n"
            "\\set second greatest(:a, :b)\n"
        )
        lock = (
            "SELECT pg_advisory_unlock_all(), pg_advisory_lock(:first),"
            " pg_advisory_lock(:second);\n"
        )
        values = {"source": ":a", "target": ":b", "owner": "NULL", **common, **_NO_KEY}
        body = for_pgbench(TRANSFER_STATEMENT.text, values)
    # pgbench skips the rest of a script when a transaction fails for good (and restarts it on
    # a retry), so the gate of a failed attempt would outlive it and break the lock order; the
    # API releases it in a `finally`. Releasing first, in the same statement, costs no round trip.
    return (
        f"-- One API {kind}, generated from src/billing/domain/payments.py.\n"
        + choose
        + "\\if :gate\n"
        + lock
        + "\\endif\n"
        + " ".join(body.split())
        + ";\n"
        + "\\if :gate\nSELECT pg_advisory_unlock_all();\n\\endif\n"
    )
