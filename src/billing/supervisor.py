"""Several uvicorn workers, each with a listening socket of its own.

With one socket shared by all workers, whichever worker wakes first accepts every connection
waiting, so a client that opens its keep-alive connections at once (a frontend's pool, a load
balancer) ends up on one worker while the others idle. Here every worker gets its own socket,
all bound to the same port with SO_REUSEPORT, and the kernel spreads new connections over them.
Where SO_REUSEPORT is missing, all workers share one socket as before.
"""

from __future__ import annotations

import socket

from uvicorn.config import Config
from uvicorn.supervisors import Multiprocess


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
    self.sockets)``; here ``sockets`` answers with the socket of the slot being filled: the
    first slot without a live worker. A worker started beside a live one (a restart on SIGHUP)
    listens on all of them.
    """

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.all_sockets = sockets
        super().__init__(config, sockets)

    @property
    def sockets(self) -> list[socket.socket]:
        if len(self.all_sockets) == 1:
            return self.all_sockets
        for slot, worker in enumerate(self.processes):
            if not worker.process.is_alive():
                return [self.all_sockets[slot]]
        if len(self.processes) < len(self.all_sockets):
            return [self.all_sockets[len(self.processes)]]
        return self.all_sockets

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        """Set by uvicorn's constructor; the sockets are ``all_sockets``."""

    def terminate_all(self) -> None:
        # Let go of the listening sockets first: once the stopping workers close their copies,
        # new connections are refused at once rather than left in a backlog that nobody
        # accepts from until this process exits.
        for sock in self.all_sockets:
            sock.close()
        super().terminate_all()
