"""Prometheus metrics, and the ``/metrics`` endpoint that exposes them.

In one process the values live in memory. ``billing serve`` runs the API in worker processes
(one or more) and gives them a fresh private directory in ``PROMETHEUS_MULTIPROC_DIR`` before
any of them imports prometheus_client: each worker then writes its values to files there, and a
scrape answered by any worker adds up the files of all of them. Gauges count live workers
only: before each scrape the files of workers that have exited are marked dead.

Everything on the request path is a dictionary lookup of a cached label child and an
increment; nothing is allocated per request beyond the first request of a label combination.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
    values,
)
from prometheus_client.exposition import choose_encoder
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import Response

from billing.http.auth import authenticate, bearer_secret
from billing.http.responses import json_error
from billing.logs import process_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from billing.config import Settings
    from billing.http.observability import RequestRecord

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})
RETRY_REASONS = {"40001": "serialization_failure", "40P01": "deadlock"}
# Seconds. An operation takes a few milliseconds; retries and lock queues stretch the tail.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# No *_created series: they double the output and nobody reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
if os.environ.get(MULTIPROC_ENV):
    # Each value in a worker's files checks, on every update, that the process has not changed
    # (forked) since it opened them: with os.getpid, a system call each time. Ours keeps the id.
    values.ValueClass = values.MultiProcessValue(process_identifier=process_id)  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self, paths: Iterable[str] = ()) -> None:
        """``paths``: the app's own paths, besides PATHS, to count requests by."""
        self.paths = PATHS | frozenset(paths)
        self.directory = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        registry = self.registry
        self.http_requests = Counter(
            "billing_http_requests",
            "HTTP requests answered, by path (other paths are 'other') and status code.",
            ["path", "status"],
            registry=registry,
        )
        self.operations = Counter(
            "billing_operations",
            "Operations, by GraphQL root field (the REST adapter's endpoints count as the mutation"
            " of the same name) and result (a mutation's result type, an error code, or 'ok').",
            ["operation", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "billing_request_duration_seconds",
            "Time from receiving an API request to the end of its response, by operation.",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "billing_transaction_retries",
            "Transactions run again after a serialization failure, a deadlock, or a lost"
            " connection.",
            ["reason"],
            registry=registry,
        )
        self.try_again = Counter(
            "billing_try_again",
            "Mutations answered TryAgain (contention outlasted the retries, or no connection"
            " was free in time).",
            ["operation"],
            registry=registry,
        )
        self.pool_size = Gauge(
            "billing_db_pool_size",
            "Database connections each pool keeps (summed over worker processes).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.pool_max_overflow = Gauge(
            "billing_db_pool_max_overflow",
            "Extra connections each pool may open under bursts (summed over worker processes).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.pool_checked_out = Gauge(
            "billing_db_pool_checked_out",
            "Database connections in use right now (summed over worker processes).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.replica_lag = Gauge(
            "billing_read_replica_lag_seconds",
            "How far the read replica lags behind the primary, as last measured (-1: unknown,"
            " queries read on the primary).",
            registry=registry,
            multiprocess_mode="max",
        )
        self._http: dict[tuple[str, int], Counter] = {}
        self._operations: dict[tuple[str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}

    # -- the request path ------------------------------------------------------------------

    def request(self, path: str, status: int, record: RequestRecord, seconds: float) -> None:
        """One HTTP request has been answered."""
        key = (path if path in self.paths else "other", status)
        child = self._http.get(key)
        if child is None:
            child = self._http[key] = self.http_requests.labels(key[0], str(status))
        child.inc()
        operation = record.operation
        if operation is None:
            return  # refused before any GraphQL ran (401, 413, a malformed body)
        result = record.result or "ok"
        counted = self._operations.get((operation, result))
        if counted is None:
            counted = self._operations[operation, result] = self.operations.labels(
                operation, result
            )
        counted.inc()
        timed = self._durations.get(operation)
        if timed is None:
            timed = self._durations[operation] = self.duration.labels(operation)
        timed.observe(seconds)
        if record.results:
            for mutation, result_type in record.results:
                if result_type == "TryAgain":
                    self.try_again.labels(mutation).inc()

    def retried(self, sqlstate: str | None) -> None:
        self.retries.labels(RETRY_REASONS.get(sqlstate or "", "connection")).inc()

    def watch_pool(self, engine: AsyncEngine, max_overflow: int) -> None:
        """The pool's configured size; connections in use come from ``in_use``."""
        pool = engine.sync_engine.pool
        if not isinstance(pool, QueuePool):  # pragma: no cover - the engine always queues
            return
        self.pool_size.set(pool.size())
        self.pool_max_overflow.set(max_overflow)

    def lag(self, seconds: float | None) -> None:
        """The read replica's lag as last measured (``ReadReplica.on_lag``)."""
        self.replica_lag.set(-1 if seconds is None else seconds)

    def in_use(self, connections: int) -> None:
        """Requests hold this many database connections now (``Database.on_in_use``)."""
        self.pool_checked_out.set(connections)

    # -- exposition ------------------------------------------------------------------------

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The current values (of all workers, if several) and their content type: the
        Prometheus text format, or OpenMetrics when ``accept`` asks for it."""
        encode, content_type = choose_encoder(accept)
        if self.directory is None:
            return encode(self.registry), content_type
        forget_dead_workers(Path(self.directory))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.directory)  # type: ignore[no-untyped-call]
        return encode(registry), content_type

    def endpoint(self, settings: Settings) -> Callable[[Request], Awaitable[Response]]:
        """The ``/metrics`` route: operators' tokens, the metrics token, or none if public."""
        token = settings.metrics_token
        static = token.get_secret_value().encode() if token else None

        async def metrics(request: Request) -> Response:
            if not settings.metrics_public:
                refused = await _refusal(request, static)
                if refused is not None:
                    return refused
            body, content_type = self.render(request.headers.get("accept", ""))
            return Response(body, headers={"Content-Type": content_type})

        return metrics


async def _refusal(request: Request, static: bytes | None) -> Response | None:
    """None if the request may read the metrics, else the answer that refuses it."""
    secret = bearer_secret(request)
    if static is not None and secret and hmac.compare_digest(secret.encode(), static):
        return None
    found = await authenticate(request, json_error)
    if isinstance(found, Response):
        return found
    if not found.is_operator:
        return json_error(403, "FORBIDDEN", "Metrics are for operator tokens.")
    return None


def forget_dead_workers(directory: Path) -> None:
    """Drop the gauge values of worker processes that have exited (their counters stay)."""
    pids = {file.stem.rpartition("_")[2] for file in directory.glob("*.db")}
    for pid in pids:
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]
