"""Queries on a hot standby while it keeps up with the primary, else on the primary.

The standby's lag is measured, not assumed: every ``interval`` seconds the primary's WAL
position is noted with the time, and the standby says how far it has replayed. The lag is the
age of the oldest position noted that the standby has not replayed yet (0 when it has replayed
them all): on an idle primary nothing is written and a caught-up standby lags 0, whatever the
time of its last replayed commit. A standby that does not answer has no known lag.

Queries go to the standby while its lag is known and at most ``max_lag``; otherwise, and
whenever a caller asks for it, to the primary. Mutations, their payloads included, always run
on the primary.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from billing.db.background import Background
from billing.db.database import Database
from billing.db.statements import Statement, fetch

log = logging.getLogger(__name__)

_PRIMARY = Statement("SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS bigint)")
# (A server that is not a standby has replayed nothing: it is as fresh as the primary.)
_REPLAYED = Statement(
    "SELECT CAST(pg_wal_lsn_diff(COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn()),"
    " '0/0') AS bigint)"
)


_NOTED = 1000  # positions noted at most (at 0.2 s, the last 200 s of them one by one)


def _no_lag(lag: float | None) -> None:
    return None


class ReadReplica(Background):
    task_name = "replica-lag"

    def __init__(
        self,
        primary: Database,
        standby: Database,
        *,
        max_lag: float,
        interval: float = 0.2,
        on_lag: Callable[[float | None], None] = _no_lag,
    ) -> None:
        super().__init__()
        self.primary = primary
        self.standby = standby
        self.max_lag = max_lag
        self.interval = interval
        self.on_lag = on_lag
        self.lag: float | None = None  # seconds; None: not known (the standby does not answer)

    def for_queries(self) -> Database:
        """Where a query reads now."""
        lag = self.lag
        return self.standby if lag is not None and lag <= self.max_lag else self.primary

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        noted: deque[tuple[float, int]] = deque()  # (when, primary's position), oldest first
        while True:
            try:
                now = loop.time()
                position = await _position(self.primary, _PRIMARY)
                if not noted or position > noted[-1][1]:
                    if len(noted) < _NOTED:
                        noted.append((now, position))
                    else:  # the newest keeps its time: the lag is overestimated, never under
                        noted[-1] = (noted[-1][0], position)
                replayed = await _position(self.standby, _REPLAYED)
                while noted and noted[0][1] <= replayed:
                    noted.popleft()
                lag: float | None = loop.time() - noted[0][0] if noted else 0.0
            except Exception as exc:
                if self.lag is not None:
                    log.warning("read replica: lag unknown, queries go to the primary: %r", exc)
                lag = None
            before, self.lag = self.for_queries(), lag
            if (now_reading := self.for_queries()) is not before:
                where = "standby" if now_reading is self.standby else "primary"
                log.info("read replica: lag %s, queries go to the %s", _seconds(lag), where)
            self.on_lag(lag)
            await asyncio.sleep(self.interval)


async def _position(db: Database, statement: Statement) -> int:
    rows = await db.read_one(lambda conn: fetch(conn, statement, {}))
    return int(rows[0][0])


def _seconds(lag: float | None) -> str:
    return "unknown" if lag is None else f"{lag:.2f} s"
