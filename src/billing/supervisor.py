"""Several uvicorn workers, each with a listening socket of its own.

With one socket shared by all workers, whichever worker wakes first accepts every connection
waiting, so a client that opens its keep-alive connections at once (a frontend's pool, a load
balancer) ends up on one worker while the others idle. Here every worker gets its own socket,
all bound to the same port with SO_REUSEPORT, and the kernel spreads new connections over them.
Where SO_REUSEPORT is missing, all workers share one socket as before.
"""

from __future__ import annotations

import logging
import socket

from uvicorn.config import Config
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host:port`` (one shared socket without SO_REUSEPORT)."""
    shared = not hasattr(socket, "SO_REUSEPORT")
    sockets = []
    for _ in range(1 if shared else count):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every keep-alive response waits some 40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


class Supervisor(Multiprocess):
    """uvicorn's supervisor (restarts, health checks, signals), with a socket per worker.

    uvicorn starts every worker, first ones and replacements, with ``Process(config,
    self.sockets)``. Here ``sockets`` answers with a socket that no live worker serves, and
    remembers which worker got which, so every socket keeps exactly one worker however the
    workers die and come back. A worker started while all are alive (a restart on SIGHUP)
    listens on all of them. The number of workers is fixed (SIGTTIN and SIGTTOU are refused):
    a socket without a worker would keep receiving connections that nobody accepts.
    """

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.all_sockets = sockets
        self._slot_of: dict[Process, int] = {}  # worker -> the index of its socket
        self._pending: int | None = None  # the slot handed out for the worker being made
        super().__init__(config, sockets)

    @property
    def sockets(self) -> list[socket.socket]:
        if len(self.all_sockets) == 1:
            return self.all_sockets
        for worker in self.processes:
            if worker not in self._slot_of and self._pending is not None:
                self._slot_of[worker] = self._pending  # made with the last slot handed out
        self._pending = None
        self._slot_of = {w: slot for w, slot in self._slot_of.items() if w.process.is_alive()}
        free = [i for i in range(len(self.all_sockets)) if i not in self._slot_of.values()]
        if not free:
            return self.all_sockets
        self._pending = free[0]
        return [self.all_sockets[free[0]]]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        """Set by uvicorn's constructor; the sockets are ``all_sockets``."""

    def handle_ttin(self) -> None:
        logger.warning("The number of workers is fixed; restart billing serve to change it.")

    handle_ttou = handle_ttin

    def terminate_all(self) -> None:
        # Let go of the listening sockets first: once the stopping workers close their copies,
        # new connections are refused at once rather than left in a backlog that nobody
        # accepts from until this process exits.
        for sock in self.all_sockets:
            sock.close()
        super().terminate_all()
