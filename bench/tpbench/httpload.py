"""Fallback load generator when ``wrk`` is not installed: httpx, asyncio, a process of its own.

Run as ``python -m tpbench.httpload ...`` with ``bench/`` on the path; prints one JSON object.
It makes the same requests as bench/wrk/graphql.lua and classifies answers the same way (a
hold-capture: each client captures the hold it just made; the latency is that of both). It is
far more expensive per request than wrk, so its CPU use (reported) competes with the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import asdict

import httpx

from tpbench.common import AMOUNT, KINDS, Kind, Load, percentile

TRANSFER = "mutation($i: TransferInput!) { transfer(input: $i) { __typename } }"
RESUPPLY = "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename } }"
READ = "query($id: ID!) { wallet(id: $id) { balance } }"
HOLD = (
    "mutation($i: HoldTransferInput!) { holdTransfer(input: $i) { __typename"
    " ... on HoldTransferSuccess { hold { id reference } } } }"
)
CAPTURE = (
    "mutation($i: CaptureHoldInput!) { captureHold(input: $i) { __typename"
    " ... on CaptureHoldSuccess { hold { id } } } }"
)
TYPENAME = re.compile(rb'"__typename":\s*"(\w+)"')
HOLD_ID = re.compile(rb'"id":\s*"(\d+)"')


def two_wallets(first: int, count: int, rng: random.Random) -> tuple[str, str]:
    a = rng.randrange(count)
    b = rng.randrange(count - 1)
    if b >= a:
        b += 1
    return str(first + a), str(first + b)


def body_for(kind: Kind, first: int, count: int, rng: random.Random, amount: str) -> bytes:
    """The request of one operation; for hold-capture, its hold (see ``capture_body``)."""
    if kind in ("transfer", "hold-capture"):
        a, b = two_wallets(first, count, rng)
        given = {"walletFromId": a, "walletToId": b, "amount": amount}
        doc = TRANSFER
        if kind == "hold-capture":
            given["reference"] = f"httpx-{rng.getrandbits(48):x}"
            doc = HOLD
        variables: dict[str, object] = {"i": given}
    elif kind == "resupply":
        variables = {"i": {"walletId": str(first + rng.randrange(count)), "amount": amount}}
        doc = RESUPPLY
    else:
        variables = {"id": str(first + rng.randrange(count))}
        doc = READ
    return json.dumps({"query": doc, "variables": variables}).encode()


def capture_body(answer: bytes) -> bytes | None:
    """The capture of the hold a successful holdTransfer answered with; None if it failed."""
    found = HOLD_ID.search(answer)
    if found is None:
        return None
    variables = {"i": {"holdId": found.group(1).decode()}}
    return json.dumps({"query": CAPTURE, "variables": variables}).encode()


def classify(kind: Kind, status: int, body: bytes) -> str:
    if status != 200:
        return f"HTTP {status}"
    if kind == "read":
        if re.search(rb'"balance":\s*"', body):
            return "Wallet"
        return "null" if re.search(rb'"wallet":\s*null', body) else "errors"
    found = TYPENAME.search(body)
    return found.group(1).decode() if found else "errors"


async def run(args: argparse.Namespace) -> Load:
    headers = {"Content-Type": "application/json"}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    socket_errors = 0
    loop = asyncio.get_running_loop()
    cpu_at_start = time.process_time()
    async with httpx.AsyncClient(limits=limits, timeout=30.0, headers=headers) as http:
        started = loop.time()
        stop_at = started + args.duration

        async def worker(n: int) -> None:
            nonlocal socket_errors
            rng = random.Random(args.seed * 1000 + n)  # load, not secrets
            url = args.url[n % len(args.url)]  # several servers: clients spread evenly
            while loop.time() < stop_at:
                body: bytes | None = body_for(args.kind, args.first, args.count, rng, args.amount)
                t0 = loop.time()
                lost = False
                while body is not None:  # hold-capture: the capture follows its hold
                    try:
                        response = await http.post(url, content=body)
                    except httpx.HTTPError:
                        socket_errors += 1
                        lost = True
                        break
                    outcome = classify(args.kind, response.status_code, response.content)
                    outcomes[outcome] += 1
                    answer = response.content
                    body = capture_body(answer) if outcome == "HoldTransferSuccess" else None
                if not lost:
                    latencies.append(loop.time() - t0)

        await asyncio.gather(*(worker(n) for n in range(args.clients)))
        seconds = loop.time() - started
    ms = sorted(t * 1000 for t in latencies)
    return Load(
        requests=sum(outcomes.values()),
        seconds=seconds,
        counts=dict(outcomes),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else 0.0,
        socket_errors=socket_errors,
        generator_cpu_s=time.process_time() - cpu_at_start,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="httpx load generator for the GraphQL API")
    parser.add_argument("--url", action="append", required=True, help="again for more servers")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--amount", default=AMOUNT)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args()
    json.dump(asdict(asyncio.run(run(args))), sys.stdout)


if __name__ == "__main__":
    main()
