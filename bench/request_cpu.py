"""CPU per request: what the service's own code costs for each operation, measured in-process.

    python bench/request_cpu.py                 # every scenario, about 2 minutes
    python bench/request_cpu.py --requests 500 --scenarios transfer,read

Starts an embedded PostgreSQL in a temporary directory (deleted afterwards), or uses
BILLING_DATABASE_URL (a database you can spare), seeds funded wallets, builds the app with
``create_app`` and sends it GraphQL requests straight through ASGI, 32 at a time
(``--clients``), on uvloop as the server does: no HTTP server, no sockets, no load generator in
the process. The CPU time of this process (``time.process_time``) over the measured requests,
divided by their number, is what the app's code costs per request: ASGI layers, GraphQL, the
domain, the driver. PostgreSQL runs in its own processes and is not counted; nor is uvicorn's
HTTP parsing (bench/throughput.py measures the whole server, with more noise).

Each scenario warms up first (documents parsed, statements prepared, pools filled), then runs
``--rounds`` rounds of ``--requests`` requests; the table shows the median round, and the
spread (min-max). Scenarios of two requests (hold + capture, transfer + refund) count each
request. Every answer is checked: a request that does not succeed fails the run, except one
answered TryAgain, which is sent again (and counted), as a client would.

To compare with another version of the code, run this script with that version's ``src``
first on PYTHONPATH (a worktree of it) and ``--json before.json``, then with this one and
``--before before.json --chart cpu.png``: a bar chart of both, scenario by scenario (matplotlib,
from the bench extra). The numbers are comparable on the same machine, minutes apart.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tpbench.bench import code_under_test
from tpbench.database import operator_token, prepare

TRANSFER = "mutation($i: TransferInput!) { transfer(input: $i) { __typename } }"
TRANSFER_NUMBER = (
    "mutation($i: TransferInput!) { transfer(input: $i) { __typename"
    " ... on TransferSuccess { transactionNumber } } }"
)
RESUPPLY = "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename } }"
WITHDRAW = "mutation($i: WithdrawInput!) { withdraw(input: $i) { __typename } }"
SPLIT = "mutation($i: SplitTransferInput!) { splitTransfer(input: $i) { __typename } }"
READ = "query($id: ID!) { wallet(id: $id) { balance } }"
HOLD = (
    "mutation($i: HoldTransferInput!) { holdTransfer(input: $i) { __typename"
    " ... on HoldTransferSuccess { hold { id } } } }"
)
CAPTURE = "mutation($i: CaptureHoldInput!) { captureHold(input: $i) { __typename } }"
REFUND = "mutation($i: RefundInput!) { refund(input: $i) { __typename } }"
# The typed clients' own document: every field of the answer, the wallet's held and available
# among them (fields with resolvers).
WITHDRAW_TYPED = (
    Path(__file__).resolve().parents[1] / "clients" / "operations" / "Withdraw.graphql"
).read_text()

T = TypeVar("T")
Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Wallets:
    def __init__(self, first: int, count: int, seed: int) -> None:
        self.first, self.count = first, count
        self.random = random.Random(seed)

    def one(self) -> str:
        return str(self.first + self.random.randrange(self.count))

    def distinct(self, n: int) -> list[str]:
        return [str(self.first + i) for i in self.random.sample(range(self.count), n)]


def expect(answer: dict[str, Any], field: str, typename: str) -> dict[str, Any]:
    data = (answer.get("data") or {}).get(field)
    if not isinstance(data, dict) or data.get("__typename") != typename:
        raise SystemExit(f"{field}: expected {typename}, got {json.dumps(answer)[:400]}")
    return data


async def until_done(
    send: Send, query: str, variables: dict[str, Any], field: str
) -> tuple[dict[str, Any], int]:
    """Send until the answer is not TryAgain (as a client retries): the result, and the
    requests it took."""
    sent = 0
    while True:
        answer = await send(query, variables)
        sent += 1
        if (answer.get("data") or {}).get(field, {}).get("__typename") != "TryAgain":
            return expect(answer, field, field[0].upper() + field[1:] + "Success"), sent


async def transfer(send: Send, w: Wallets) -> int:
    a, b = w.distinct(2)
    variables = {"i": {"walletFromId": a, "walletToId": b, "amount": "0.01"}}
    return (await until_done(send, TRANSFER, variables, "transfer"))[1]


async def resupply(send: Send, w: Wallets) -> int:
    variables = {"i": {"walletId": w.one(), "amount": "0.01"}}
    return (await until_done(send, RESUPPLY, variables, "resupply"))[1]


async def withdraw(send: Send, w: Wallets) -> int:
    variables = {"i": {"walletId": w.one(), "amount": "0.01"}}
    return (await until_done(send, WITHDRAW, variables, "withdraw"))[1]


async def withdraw_typed(send: Send, w: Wallets) -> int:
    variables = {"walletId": w.one(), "amount": "0.01"}
    return (await until_done(send, WITHDRAW_TYPED, variables, "withdraw"))[1]


async def split(send: Send, w: Wallets) -> int:
    source, *targets = w.distinct(4)
    legs = [{"walletToId": t, "amount": "0.01"} for t in targets]
    variables = {"i": {"walletFromId": source, "legs": legs}}
    return (await until_done(send, SPLIT, variables, "splitTransfer"))[1]


async def read(send: Send, w: Wallets) -> int:
    answer = await send(READ, {"id": w.one()})
    if not (answer.get("data") or {}).get("wallet"):
        raise SystemExit(f"wallet: {json.dumps(answer)[:400]}")
    return 1


async def hold_capture(send: Send, w: Wallets) -> int:
    a, b = w.distinct(2)
    variables = {"i": {"walletFromId": a, "walletToId": b, "amount": "0.01"}}
    held, first = await until_done(send, HOLD, variables, "holdTransfer")
    variables = {"i": {"holdId": held["hold"]["id"]}}
    return first + (await until_done(send, CAPTURE, variables, "captureHold"))[1]


async def transfer_refund(send: Send, w: Wallets) -> int:
    a, b = w.distinct(2)
    variables = {"i": {"walletFromId": a, "walletToId": b, "amount": "0.01"}}
    moved, first = await until_done(send, TRANSFER_NUMBER, variables, "transfer")
    variables = {"i": {"transactionNumber": moved["transactionNumber"]}}
    return first + (await until_done(send, REFUND, variables, "refund"))[1]


async def typename(send: Send, w: Wallets) -> int:
    answer = await send("{ __typename }", {})
    if answer.get("data") != {"__typename": "Query"}:
        raise SystemExit(f"__typename: {json.dumps(answer)[:400]}")
    return 1


SCENARIOS: dict[str, Callable[[Send, Wallets], Awaitable[int]]] = {
    "transfer": transfer,
    "read": read,
    "resupply": resupply,
    "withdraw": withdraw,
    "withdraw-typed": withdraw_typed,
    "split": split,
    "hold-capture": hold_capture,
    "transfer-refund": transfer_refund,
    # No database: what the layers around every request cost (gateway, token, GraphQL, log).
    "typename": typename,
}


class Client:
    """Sends GraphQL requests to an ASGI app as uvicorn would hand them over."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.headers = [(b"content-type", b"application/json"), (b"host", b"bench")]
        if token:
            self.headers.append((b"authorization", f"Bearer {token}".encode()))

    async def send(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        # orjson: the client's own encoding and decoding, counted too, cost little
        body = orjson.dumps({"query": query, "variables": variables})
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays until the answer is complete
            return {"type": "http.disconnect"}

        async def reply(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, reply)
        if status != 200:
            raise SystemExit(f"HTTP {status}: {b''.join(chunks)[:400]!r}")
        return orjson.loads(b"".join(chunks))  # type: ignore[no-any-return]


async def lifespan(app: Any) -> Callable[[], Awaitable[None]]:
    """Start the app as a server would; returns what stops it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started, stopped = asyncio.Event(), asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()
        if message["type"].startswith("lifespan.shutdown"):
            stopped.set()

    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await started.wait()

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped.wait()
        await task

    return stop


async def run_rounds(
    scenario: Callable[[Send, Wallets], Awaitable[int]],
    send: Send,
    wallets: Wallets,
    clients: int,
    requests: int,
) -> float:
    """Seconds of this process's CPU per request, over ``requests`` requests."""
    done = 0
    cpu_at_start = time.process_time()

    async def worker() -> None:
        nonlocal done
        while done < requests:
            sent = await scenario(send, wallets)
            done += sent  # after the await: ``done`` may have grown meanwhile

    await asyncio.gather(*(worker() for _ in range(clients)))
    return (time.process_time() - cpu_at_start) / done


async def measure(url: str, options: argparse.Namespace) -> list[tuple[str, list[float]]]:
    from billing.app import create_app
    from billing.config import Settings

    seeded = await prepare(url, options.wallets)
    token = await operator_token(url)
    settings = Settings(database_url=url, log_format="json", events_relay=False)
    app = create_app(settings)
    # Request logs are part of the cost: written, to nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - for the life of the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    stop = await lifespan(app)
    try:
        await asyncio.wait_for(app.state.schema_ready.wait(), 60)
        client = Client(app, token)
        results: list[tuple[str, list[float]]] = []
        for name in options.scenarios:
            scenario = SCENARIOS[name]
            wallets = Wallets(seeded.first, seeded.count, seed=len(results))
            # With --general, rounds on compiled plans and on the general executor take turns.
            variants = {name: True, f"{name} (general)": False} if options.general else {name: True}
            rounds: dict[str, list[float]] = {label: [] for label in variants}
            for compiled in variants.values():
                compiled_documents(compiled)
                await run_rounds(scenario, client.send, wallets, options.clients, options.warm_up)
            for _ in range(options.rounds):
                for label, compiled in variants.items():
                    compiled_documents(compiled)
                    rounds[label].append(
                        await run_rounds(
                            scenario, client.send, wallets, options.clients, options.requests
                        )
                    )
            compiled_documents(True)
            for label, measured in rounds.items():
                results.append((label, measured))
                median = statistics.median(measured) * 1e6
                print(f"  {label:<26} {median:7.0f} µs per request", file=sys.stderr, flush=True)
        return results
    finally:
        await stop()


def compiled_documents(on: bool) -> None:
    """Whether documents that compile run on their compiled plan (billing.graphql.compiled)."""
    from billing.graphql.schema import BillingSchema

    if hasattr(BillingSchema, "compile_documents"):  # versions before it have none
        BillingSchema.compile_documents = on


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, as the server does (uvicorn picks it when installed)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--clients", type=int, default=32, help="requests in flight")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=500, help="requests before measuring")
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument(
        "--general",
        action="store_true",
        help="also run each scenario on graphql-core's general executor (compiled plans off),"
        " its rounds taking turns with the compiled ones'",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--before", type=Path, help="results (--json) of the version before")
    parser.add_argument("--chart", type=Path, help="draw both, before and now, as a PNG here")
    options = parser.parse_args()
    options.scenarios = options.scenarios.split(",")
    if unknown := set(options.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    url = os.environ.get("BILLING_DATABASE_URL")
    if url is None:
        from billing.db.embedded import start_embedded

        data = Path(tempfile.mkdtemp(prefix="billing-request-cpu-pg-"))
        atexit.register(shutil.rmtree, data, True)
        url = start_embedded(data, cleanup_mode="delete").url()
    source = code_under_test()
    print(f"Measuring {source} ...", file=sys.stderr, flush=True)
    results = run(measure(url, options))
    print(f"\nCPU per request, {options.clients} in flight, median of {options.rounds} rounds")
    print(f"of {options.requests} requests ({source}):\n")
    print("| scenario | µs per request | rounds (min-max) |")
    print("|---|---:|---:|")
    for name, rounds in results:
        print(
            f"| {name} | {statistics.median(rounds) * 1e6:.0f} |"
            f" {min(rounds) * 1e6:.0f}-{max(rounds) * 1e6:.0f} |"
        )
    medians = {name: statistics.median(rounds) for name, rounds in results}
    now: dict[str, Any] = {"source": source, "seconds": medians}
    if options.json:
        options.json.write_text(json.dumps(now, indent=1))
    if options.before:
        before = json.loads(options.before.read_text())
        print(f"\nBefore ({before['source']}), µs per request:\n")
        print("| scenario | before | now | now / before |")
        print("|---|---:|---:|---:|")
        for name, seconds in medians.items():
            then = before["seconds"].get(name)
            if then:
                print(f"| {name} | {then * 1e6:.0f} | {seconds * 1e6:.0f} | {seconds / then:.2f} |")
        if options.chart:
            chart(options.chart, before, now, options.clients)


def chart(path: Path, before: dict[str, Any], now: dict[str, Any], clients: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in now["seconds"] if n in before["seconds"]]
    xs = range(len(names))
    width = 0.38
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    then = [before["seconds"][n] * 1e6 for n in names]
    after = [now["seconds"][n] * 1e6 for n in names]
    ax.bar([x - width / 2 for x in xs], then, width, label="before", color="#b0b7c3")
    ax.bar([x + width / 2 for x in xs], after, width, label="after", color="#2f6fdf")
    for x, value in zip(xs, after, strict=True):
        ax.annotate(f"{value:.0f}", (x + width / 2, value), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), names, rotation=15)
    ax.set_ylabel("µs of API CPU per request")
    ax.set_title(f"CPU per request, in-process, {clients} in flight (bench/request_cpu.py)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main()
