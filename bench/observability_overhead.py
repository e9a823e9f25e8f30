"""Observability overhead: what the metrics and the request log cost per request.

Two measurements, each with the baseline measured in the same run:

* CPU (default, a few seconds, no database): the ASGI path of one GraphQL request through the
  gateway (billing.http.gateway: request id, body, record, metrics, log line) with every hook
  the real path calls (a mutation result, the operation label from a parsed document), around
  an inner app that answers at once, compared with that inner app alone. Metrics in
  multiprocess mode, as under ``billing serve``; the request log off, or written as JSON or
  text to a file.
* ``--end-to-end``: the real app (ASGI, full GraphQL stack, its own embedded PostgreSQL in a
  temporary directory) with and without its metrics, ``{ __typename }`` and transfers one at
  a time, in alternating rounds. On a busy machine the noise is larger than the effect.

    python bench/observability_overhead.py [--iterations 20000] [--end-to-end]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.middleware import Middleware

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
TRANSFER = (
    "mutation Transfer($input: TransferInput!) { transfer(input: $input) { __typename"
    " ... on TransferSuccess { walletFromBalance } } }"
)


# -- CPU ---------------------------------------------------------------------------------------


def graphql_like_app() -> Asgi:
    """An inner app that does what the GraphQL layer does for the hooks, and answers at once."""
    from graphql import parse

    from billing.http.observability import observe_operation, observe_result

    document = parse(TRANSFER)

    class TransferSuccess:
        pass

    success = TransferSuccess()
    body = b'{"data":{"transfer":{"__typename":"TransferSuccess","walletFromBalance":"1.00"}}}'
    start = {"type": "http.response.start", "status": 200, "headers": []}
    end = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        observe_result("transfer", success)
        observe_operation(document, None, None)
        await send(start)
        await send(end)

    return app


async def per_request(app: Asgi, iterations: int) -> float:
    """Seconds per call of ``app`` with a typical scope (best of five runs)."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [],
        "state": {"request_id": "0123456789abcdef0123456789abcdef"},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(iterations):
            await app(scope, receive, send)
        best = min(best, (time.perf_counter() - started) / iterations)
    return best


def cpu(iterations: int, tmp: Path) -> None:
    from billing.http.gateway import Gateway
    from billing.http.metrics import Metrics
    from billing.logs import LogFormat, formatter

    inner = graphql_like_app()
    request_log = logging.getLogger("billing.requests")
    request_log.propagate = False
    alone = asyncio.run(per_request(inner, iterations))
    rows: list[tuple[str, float]] = [("inner app alone", alone)]
    observed = Gateway(inner, max_bytes=1 << 20, metrics=Metrics())  # type: ignore[arg-type]
    formats: tuple[LogFormat | None, ...] = (None, "json", "text")
    for log_format in formats:
        handler: logging.Handler | None = None
        if log_format is None:
            request_log.setLevel(logging.WARNING)
        else:
            stream = Path(tmp, f"requests-{log_format}.log").open("w")  # noqa: SIM115
            handler = logging.StreamHandler(stream)
            handler.setFormatter(formatter(log_format, stream))
            request_log.addHandler(handler)
            request_log.setLevel(logging.INFO)
        seconds = asyncio.run(per_request(observed, iterations))
        rows.append((f"metrics, request log {log_format or 'off'}", seconds))
        if handler is not None:
            request_log.removeHandler(handler)
            handler.close()
    print(f"\nCPU per request ({iterations} requests, best of 5; metrics in multiprocess mode)\n")
    print("| set-up | µs per request | added by observability |")
    print("|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e6:.1f} | {(seconds - alone) * 1e6:+.1f} µs |")


# -- end to end --------------------------------------------------------------------------------


@asynccontextmanager
async def client(settings: Any, observed: bool) -> AsyncIterator[httpx.AsyncClient]:
    from billing.app import create_app
    from billing.domain import tokens
    from billing.http.gateway import Gateway

    app = create_app(settings)
    if not observed:  # the gateway without its metrics
        app.user_middleware = [
            Middleware(m.cls, *m.args, **{**m.kwargs, "metrics": None})  # type: ignore[arg-type]
            if m.cls is Gateway  # type: ignore[comparison-overlap]
            else m
            for m in app.user_middleware
        ]
    async with app.router.lifespan_context(app):
        _, secret = await tokens.create_token(app.state.db, kind="OPERATOR", name="bench")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {secret}"},
        ) as http:
            yield http


async def timed(http: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> float:
    """Seconds per request, sending ``bodies`` one after the other."""
    started = time.perf_counter()
    for body in bodies:
        response = await http.post("/graphql", json=body)
        if response.status_code != 200 or "errors" in response.text:
            raise RuntimeError(response.text)
    return (time.perf_counter() - started) / len(bodies)


async def end_to_end(url: str, requests: int, rounds: int) -> None:
    from billing.config import Settings

    settings = Settings(database_url=url, migrate_on_start=True, pool_max_overflow=0)
    logging.getLogger("billing.requests").setLevel(logging.INFO)
    async with client(settings, False) as bare, client(settings, True) as observed:
        wallets = []
        for login in ("bench-a", "bench-b"):
            query = (
                'mutation($l: String!) { createClient(input: {login: $l, name: "Bench"})'
                " { ... on CreateClientSuccess { wallet { id } } } }"
            )
            created = await bare.post("/graphql", json={"query": query, "variables": {"l": login}})
            wallet = created.json()["data"]["createClient"]["wallet"]["id"]
            resupply = (
                'mutation($w: ID!) { resupply(input: {walletId: $w, amount: "1000000"})'
                " { __typename } }"
            )
            await bare.post("/graphql", json={"query": resupply, "variables": {"w": wallet}})
            wallets.append(wallet)
        kinds: dict[str, list[dict[str, Any]]] = {
            "{ __typename }": [{"query": "{ __typename }"}] * requests,
            "transfer": [
                {
                    "query": TRANSFER,
                    "variables": {
                        "input": {
                            "walletFromId": wallets[i % 2],
                            "walletToId": wallets[1 - i % 2],
                            "amount": "0.01",
                        }
                    },
                }
                for i in range(requests)
            ],
        }
        print(f"\nEnd to end ({requests} requests x {rounds} rounds, medians)\n")
        print("| request | bare | observed (metrics + JSON log) | ratio |")
        print("|---|---|---|---|")
        for kind, bodies in kinds.items():
            await timed(bare, bodies[:50])
            await timed(observed, bodies[:50])
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(rounds):
                for flag, http in ((False, bare), (True, observed)):
                    times[flag].append(await timed(http, bodies))
            plain, seen = statistics.median(times[False]), statistics.median(times[True])
            print(f"| {kind} | {plain * 1e6:.0f} µs | {seen * 1e6:.0f} µs | {seen / plain:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="billing-obs-bench-") as tmp:
        # As `billing serve` does, before anything imports prometheus_client.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tmp
        cpu(args.iterations, Path(tmp))
        if not args.end_to_end:
            return
        from billing.db.embedded import start_embedded
        from billing.logs import JsonFormatter

        handler = logging.FileHandler(Path(tmp, "e2e.log"))
        handler.setFormatter(JsonFormatter())
        logging.getLogger().addHandler(handler)  # also keeps the app from logging to stderr
        logging.getLogger("billing.requests").propagate = True
        server = start_embedded(Path(tmp, "pg"), cleanup_mode="stop")
        try:
            asyncio.run(end_to_end(server.url(), args.requests, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
