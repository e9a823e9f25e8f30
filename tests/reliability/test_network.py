"""Network faults between the API and PostgreSQL: `billing serve` talks to the database through
a TCP relay that can blackhole, delay, reset and refuse (support/relay.py).

Every request must answer within its bound (BILLING_WRITE_TIMEOUT, BILLING_READ_TIMEOUT) with
a typed outcome, never hang and never answer 500; once the network heals, the service recovers
by itself, a retry with the same idempotency key settles what was unknown, and no money is
created or lost.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.domain import tokens
from billing.domain.audit import audit
from support.postgres import PgServer
from support.relay import RelayControl, relay_to
from support.serve import Served, serving

pytestmark = pytest.mark.slow

WRITE_BOUND = 10.0  # the defaults of BILLING_WRITE_TIMEOUT and BILLING_READ_TIMEOUT
READ_BOUND = 5.0
SLACK = 2.0  # what an answer may take beyond its bound
# ... and with 200 requests at once on one worker, sharing two cores with the rest of the suite:
# the last of them are read and answered seconds after the first (the bound counts from there).
LOADED_SLACK = 4.0

TRANSFER = """
mutation($i: TransferInput!) {
  transfer(input: $i) { __typename ... on Error { code } ... on TransferSuccess { replayed } }
}
"""
BALANCE = "query($id: ID!) { wallet(id: $id) { balance } }"
# What a transfer may end in under faults, and which of those say what happened.
TYPED = {"TransferSuccess", "OutcomeUnknown", "ServiceUnavailable", "TryAgain"}
DEFINITE = {"TransferSuccess"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    seconds: float

    @property
    def outcome(self) -> str:
        """The transfer's result type, or the code of an HTTP-level refusal (503)."""
        data = self.body.get("data") or {}
        if data.get("transfer"):
            return str(data["transfer"]["__typename"])
        return str(self.body["errors"][0]["extensions"]["code"])


@dataclass
class Through:
    """The API under test, its database only through the relay."""

    relay: RelayControl
    served: Served
    http: httpx.AsyncClient
    direct_url: str  # the database itself (see direct)

    @property
    def base(self) -> str:
        return self.served.url.removesuffix("/graphql")

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> Answer:
        started = time.monotonic()
        response = await self.http.post(
            self.served.url, json={"query": query, "variables": variables}
        )
        return Answer(response.status_code, response.json(), time.monotonic() - started)

    async def get(self, path: str) -> Answer:
        started = time.monotonic()
        response = await self.http.get(self.base + path)
        return Answer(response.status_code, response.json(), time.monotonic() - started)

    async def transfer(self, source: int, target: int, amount: str, key: str | None) -> Answer:
        data = {"walletFromId": str(source), "walletToId": str(target), "amount": amount}
        return await self.post(TRANSFER, {"i": {**data, "idempotencyKey": key}})

    async def seed(self, wallets: int, funds: str) -> list[int]:
        """``wallets`` clients, each with a wallet holding ``funds``; their wallet ids."""
        ids = []
        for n in range(wallets):
            answer = await self.post(
                "mutation($i: CreateClientInput!) { createClient(input: $i) {"
                " ... on CreateClientSuccess { wallet { id } } } }",
                {"i": {"login": f"net-{n}", "name": f"Net {n}"}},
            )
            wallet = int(answer.body["data"]["createClient"]["wallet"]["id"])
            funded = await self.post(
                "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename } }",
                {"i": {"walletId": str(wallet), "amount": funds}},
            )
            assert funded.body["data"]["resupply"]["__typename"] == "ResupplySuccess"
            ids.append(wallet)
        return ids

    async def settle(self, pending: dict[str, tuple[int, int, str]]) -> None:
        """Retry each transfer (key -> source, target, amount) with its key until it is done;
        then the ledger must hold each exactly once."""
        deadline = time.monotonic() + 60
        for key, (source, target, amount) in pending.items():
            while True:
                answer = await self.transfer(source, target, amount, key)
                assert answer.status in {200, 503}, answer.body
                if answer.outcome in DEFINITE:
                    break
                assert time.monotonic() < deadline, f"{key} still {answer.outcome}"
                await asyncio.sleep(0.2)
        async with self.direct() as db, db.read() as conn:
            done = await conn.scalar(
                text(
                    "SELECT count(*) FROM idempotency_keys k JOIN transactions t"
                    " ON t.id = k.transaction_id WHERE k.key = ANY(:keys)"
                ),
                {"keys": list(pending)},
            )
        assert done == len(pending)

    @asynccontextmanager
    async def direct(self) -> AsyncIterator[Database]:
        """The database itself, for checks that must not go through the relay."""
        engine = create_engine(Settings(), self.direct_url)
        try:
            yield Database(engine)
        finally:
            await engine.dispose()

    async def check_ledger(self, total: Decimal) -> None:
        """Money conserved and the audit clean, read from the database directly."""
        async with self.direct() as db:
            report = await audit(db.engine)
            async with db.read() as conn:
                held = await conn.scalar(text("SELECT sum(balance) FROM wallets"))
        assert report.ok, report.render()
        assert held == total


def typed(answers: list[Answer]) -> Counter[str]:
    """The outcomes of ``answers``, each a typed result or a typed 503: never a 500."""
    outcomes = Counter(a.outcome for a in answers)
    assert set(outcomes) <= TYPED | {"SERVICE_UNAVAILABLE"}, outcomes
    assert all(a.status in {200, 503} for a in answers)
    return outcomes


def pair(rng: random.Random, wallets: list[int], amount: str) -> tuple[int, int, str]:
    source, target = rng.sample(wallets, 2)
    return source, target, amount


async def operator_token(url: str) -> str:
    engine = create_engine(Settings(), url)
    try:
        _, secret = await tokens.create_token(Database(engine), kind="OPERATOR", name="network")
    finally:
        await engine.dispose()
    return secret


@contextmanager
def relayed(pg_server: PgServer, database: str) -> Iterator[tuple[RelayControl, str]]:
    """A relay to the test's database, and the URL that goes through it."""
    with relay_to(pg_server.admin_url) as relay:
        url = make_url(pg_server.url(database)).set(
            drivername="postgresql", host="127.0.0.1", port=relay.port, query={}
        )
        yield relay, url.render_as_string(hide_password=False)


@asynccontextmanager
async def api_through_relay(
    pg_server: PgServer, database: str, tmp_path: Path, **env: str
) -> AsyncIterator[Through]:
    secret = await operator_token(pg_server.url(database))
    with (
        relayed(pg_server, database) as (relay, url),
        serving(tmp_path, BILLING_DATABASE_URL=url, BILLING_LOG_FORMAT="text", **env) as served,
    ):
        headers = {"Authorization": f"Bearer {secret}"}
        limits = httpx.Limits(max_connections=None)  # every request of a burst at once
        async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as http:
            yield Through(relay, served, http, pg_server.url(database))


async def test_a_blackhole_during_transfers_ends_each_in_a_typed_answer_within_its_bound(
    pg_server: PgServer, database: str, tmp_path: Path
) -> None:
    async with api_through_relay(pg_server, database, tmp_path) as api:
        # given: four funded wallets
        w = await api.seed(4, "100.00")
        # when: the network stops answering for 20 s, during a transfer with an idempotency
        # key and one without, then a read and a readiness probe
        api.relay.blackhole()
        started = time.monotonic()
        # (the first takes the pool's idle connection and sends its statement; the second must
        # connect, which the blackhole lets time out)
        unkeyed = asyncio.create_task(api.transfer(w[2], w[3], "10.00", None))
        await asyncio.sleep(0.2)
        keyed = asyncio.create_task(api.transfer(w[0], w[1], "10.00", "blackhole-1"))
        await asyncio.sleep(0.3)
        read = await api.post(BALANCE, {"id": str(w[0])})
        ready = await api.get("/readyz")
        keyed_answer, unkeyed_answer = await asyncio.gather(keyed, unkeyed)
        await asyncio.sleep(max(0.0, 20 - (time.monotonic() - started)))
        api.relay.heal()
        # then: each answered within its bound, typed: the one whose statement was in flight
        # unknown, the one that never had a connection to send it on unavailable
        for answer in (keyed_answer, unkeyed_answer):
            assert answer.status == 200, answer.body
            assert answer.seconds <= WRITE_BOUND + SLACK, answer
        assert keyed_answer.outcome == "ServiceUnavailable"
        assert unkeyed_answer.outcome == "OutcomeUnknown"
        assert (read.status, read.outcome) == (503, "SERVICE_UNAVAILABLE")
        assert read.seconds <= READ_BOUND + SLACK
        assert ready.status == 503
        assert ready.seconds <= READ_BOUND + SLACK
        # and once the network is back, the same key settles the outcome within seconds
        settled = await api.transfer(w[0], w[1], "10.00", "blackhole-1")
        assert settled.outcome == "TransferSuccess", settled.body
        assert settled.seconds < 5
        assert (await api.get("/readyz")).status == 200
        await api.check_ledger(Decimal("400.00"))
    assert "no answer in time" in "".join(api.served.output)


async def test_a_blackhole_during_200_concurrent_transfers(
    pg_server: PgServer, database: str, tmp_path: Path
) -> None:
    bound = 4.0
    async with api_through_relay(
        pg_server, database, tmp_path, BILLING_WRITE_TIMEOUT=str(bound), BILLING_READ_TIMEOUT="2"
    ) as api:
        # given: ten funded wallets
        w = await api.seed(10, "1000.00")
        rng = random.Random(7)
        transfers = {f"many-{n}": pair(rng, w, "1.00") for n in range(200)}
        # when: 200 transfers at once, and the network stops answering while they run
        sending = [
            asyncio.create_task(api.transfer(s, t, a, key)) for key, (s, t, a) in transfers.items()
        ]
        await asyncio.sleep(0.05)
        api.relay.blackhole()
        answers = await asyncio.gather(*sending)
        api.relay.heal()
        # then: every request answered within the bound, typed, none with a 500
        assert all(a.seconds <= bound + LOADED_SLACK for a in answers), sorted(
            (a.seconds, a.outcome) for a in answers
        )[-5:]
        outcomes = typed(answers)
        assert outcomes.keys() - DEFINITE, outcomes  # the blackhole did cut some off
        # and the pool and the wallet gate recover by themselves: a transfer between the
        # busiest wallets succeeds at once, with no stale lock to wait for
        busiest = Counter(wallet for s, t, _ in transfers.values() for wallet in (s, t))
        (a, _), (b, _) = busiest.most_common(2)
        recovered = await api.transfer(a, b, "1.00", None)
        assert recovered.outcome == "TransferSuccess", recovered.body
        assert recovered.seconds < 1.5
        # and every transfer settles with its key, none twice, money conserved
        await api.settle(transfers)
        await api.check_ledger(Decimal("10000.00"))


async def test_connections_reset_twice_under_load_lose_nothing(
    pg_server: PgServer, database: str, tmp_path: Path
) -> None:
    async with api_through_relay(pg_server, database, tmp_path) as api:
        # given: ten funded wallets and 300 transfers to make, 16 at a time
        w = await api.seed(10, "1000.00")
        rng = random.Random(11)
        transfers = {f"reset-{n}": pair(rng, w, "2.50") for n in range(300)}
        queue = list(transfers.items())
        answers: list[Answer] = []

        async def sender() -> None:
            while queue:
                key, (source, target, amount) = queue.pop()
                answers.append(await api.transfer(source, target, amount, key))

        # when: every connection to the database is cut, twice, while they run
        senders = [asyncio.create_task(sender()) for _ in range(16)]
        resets = 0
        while queue and resets < 2:
            await asyncio.sleep(0.3)
            if len(answers) >= 100 * (resets + 1):
                api.relay.reset()
                resets += 1
        await asyncio.gather(*senders)
        # then: only typed outcomes, never a 500
        assert resets == 2
        typed(answers)
        # and nothing is lost: every transfer settles once, money conserved
        await api.settle(transfers)
        await api.check_ledger(Decimal("10000.00"))


async def test_a_slow_network_slows_requests_down_but_they_succeed(
    pg_server: PgServer, database: str, tmp_path: Path
) -> None:
    async with api_through_relay(pg_server, database, tmp_path) as api:
        # given: 16 funded wallets, and a pool that has served transfers like the ones below
        # (a new connection costs its own round trips: see docs/how-it-works.md)
        w = await api.seed(16, "100.00")

        async def eight_transfers(round_: str) -> list[Answer]:
            return await asyncio.gather(
                *(api.transfer(w[n], w[n + 1], "1.00", f"{round_}-{n}") for n in range(0, 8, 2)),
                *(api.transfer(w[n], w[n + 1], "1.00", None) for n in range(8, 16, 2)),
            )

        for warm_up in ("warm-1", "warm-2"):
            await eight_transfers(warm_up)
        # when: every packet takes 300 ms more each way
        api.relay.delay(0.3)
        answers = await eight_transfers("slow")
        read = await api.post(BALANCE, {"id": str(w[0])})
        api.relay.delay(0)
        # then: slower (at least one round trip of 600 ms), within the bound, and successful:
        # no spurious TryAgain
        assert [a.outcome for a in answers] == ["TransferSuccess"] * 8
        assert all(0.6 <= a.seconds <= WRITE_BOUND for a in answers), answers
        assert read.status == 200
        assert 0.6 <= read.seconds <= READ_BOUND
        await api.check_ledger(Decimal("1600.00"))


async def test_a_database_host_that_refuses_connections_at_startup_and_later(
    pg_server: PgServer, database: str, tmp_path: Path
) -> None:
    secret = await operator_token(pg_server.url(database))
    headers = {"Authorization": f"Bearer {secret}"}
    with relayed(pg_server, database) as (relay, url):
        # given: the database host refuses connections when the service starts
        relay.refuse()
        with serving(tmp_path, BILLING_DATABASE_URL=url, BILLING_LOG_FORMAT="text") as served:
            async with httpx.AsyncClient(headers=headers, timeout=60) as http:
                api = Through(relay, served, http, pg_server.url(database))
                # then: it serves anyway, not ready, each request answered 503 at once
                assert (await api.get("/readyz")).status == 503
                refused = await api.post(BALANCE, {"id": "1"})
                assert (refused.status, refused.outcome) == (503, "SERVICE_UNAVAILABLE")
                assert refused.seconds < READ_BOUND
                # when the host is back: ready within seconds, without a restart
                relay.heal()
                await until_ready(api)
                w = await api.seed(2, "10.00")
                # when it refuses again, its open connections cut too (the host went down)
                relay.refuse()
                relay.reset()
                down = await api.transfer(w[0], w[1], "1.00", "refused-1")
                not_ready = await api.get("/readyz")
                # then: typed answers within the bounds
                assert down.status in {200, 503}
                assert down.outcome in {"ServiceUnavailable", "SERVICE_UNAVAILABLE"}, down.body
                assert down.seconds <= WRITE_BOUND + SLACK
                assert not_ready.status == 503
                # and it recovers by itself once the host is back
                relay.heal()
                await until_ready(api)
                again = await api.transfer(w[0], w[1], "1.00", "refused-1")
                assert again.outcome == "TransferSuccess", again.body
                await api.check_ledger(Decimal("20.00"))
        output = "".join(served.output)
    # and the log says what happened, in plain words
    assert "cannot reach the database" in output
    assert "Serving anyway" in output
    assert "the database answers again" in output


async def until_ready(api: Through, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while (await api.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, "not ready again in time"
        await asyncio.sleep(0.2)


async def test_a_silent_peer_is_dropped_on_both_ends_within_tcp_timeout(
    pg_server: PgServer, database: str
) -> None:
    # given: the API's engine on a TCP connection (through the relay), BILLING_TCP_TIMEOUT=12
    settings = Settings(tcp_timeout=12)
    with relayed(pg_server, database) as (_, url):
        engine = create_engine(settings, url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                sock = raw.driver_connection._transport.get_extra_info("socket")  # type: ignore[union-attr]
                ours = {
                    "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                    "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                    "user_timeout": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                }
                # (what the session asked for: a server reached over a Unix socket, as here
                # through the relay, shows 0 in effect, having no TCP to apply it to)
                asked = text(
                    "SELECT name, reset_val FROM pg_settings WHERE source = 'client'"
                    " AND name IN ('tcp_keepalives_idle', 'tcp_keepalives_interval',"
                    " 'tcp_keepalives_count', 'tcp_user_timeout')"
                )
                theirs = {row.name: row.reset_val for row in await conn.execute(asked)}
        finally:
            await engine.dispose()
    # then: our end probes an idle connection and gives up on unacknowledged data in time...
    assert ours["keepalive"] == 1
    assert ours["idle"] + ours["interval"] * ours["count"] <= 12
    assert ours["user_timeout"] == 12_000
    # ...and so does the server's, for its backend (which then ends, releasing its locks)
    assert theirs == {
        "tcp_keepalives_idle": str(ours["idle"]),
        "tcp_keepalives_interval": str(ours["interval"]),
        "tcp_keepalives_count": str(ours["count"]),
        "tcp_user_timeout": "12000",
    }
