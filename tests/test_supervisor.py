"""Every listening socket keeps exactly one worker, however the workers die and come back.

The supervisor's bookkeeping is exercised directly: real sockets, and stand-ins for uvicorn's
worker handles whose liveness the test sets (starting real workers is tests/test_cli.py's and
tests/test_serve_operations.py's job).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from uvicorn.config import Config

from billing.supervisor import Supervisor, listening_sockets


@dataclass
class Liveness:
    alive: bool = True

    def is_alive(self) -> bool:
        return self.alive


@dataclass(eq=False)
class Worker:
    """What the supervisor reads of a uvicorn worker handle: ``.process.is_alive()``."""

    process: Liveness = field(default_factory=Liveness)


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sockets = listening_sockets("127.0.0.1", port, 3)
    try:
        yield Supervisor(Config(app="billing.app:create_app"), sockets)
    finally:
        for sig, handler in handlers.items():  # uvicorn's constructor installs its own
            signal.signal(sig, handler)
        for sock in sockets:
            sock.close()


def start(sup: Supervisor, slot: int | None = None) -> tuple[Worker, list[socket.socket]]:
    """Do what uvicorn does to start a worker: read ``sockets``, make it, put it in place."""
    given = sup.sockets
    worker = Worker()
    processes: list[Any] = sup.processes
    if slot is None:
        processes.append(worker)
    else:
        processes[slot] = worker
    return worker, given


def served(sup: Supervisor) -> list[int]:
    """Which socket each live worker got, as the supervisor will hand them out next."""
    sup.sockets  # noqa: B018 - reading it settles the last worker's socket
    return sorted(sup._slot_of.values())


def test_each_first_worker_gets_a_socket_of_its_own(supervisor: Supervisor) -> None:
    given = [start(supervisor)[1] for _ in range(3)]
    assert [len(g) for g in given] == [1, 1, 1]
    assert len({g[0].fileno() for g in given}) == 3


def test_a_replacement_takes_the_dead_workers_socket(supervisor: Supervisor) -> None:
    # given
    workers = [start(supervisor) for _ in range(3)]
    # when: worker 1 dies and uvicorn replaces it
    workers[1][0].process.alive = False
    _, given = start(supervisor, slot=1)
    # then
    assert given == workers[1][1]
    assert served(supervisor) == [0, 1, 2]


def test_two_deaths_during_one_replacement_still_leave_no_socket_without_a_worker(
    supervisor: Supervisor,
) -> None:
    # given: workers 0 and 2 die; uvicorn replaces 2 first, then 0
    workers = [start(supervisor) for _ in range(3)]
    workers[0][0].process.alive = False
    workers[2][0].process.alive = False
    start(supervisor, slot=2)
    start(supervisor, slot=0)
    # then: the three sockets are served once each (whichever worker got which)
    assert served(supervisor) == [0, 1, 2]


def test_a_worker_started_beside_live_ones_listens_on_all(supervisor: Supervisor) -> None:
    for _ in range(3):
        start(supervisor)
    _, given = start(supervisor)  # as on SIGHUP: the new one starts before the old one stops
    assert given == supervisor.all_sockets
