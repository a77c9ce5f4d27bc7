"""Log lines in uvicorn's format ("INFO:     message"), in every interpreter."""

from __future__ import annotations

import logging
import sys

TRACE = 5


class LevelPrefixFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{record.levelname}:".ljust(10)
        record.levelprefix = prefix
        return super().format(record)


def setup(level: str) -> logging.Logger:
    logging.addLevelName(TRACE, "TRACE")
    logger = logging.getLogger("subcorn")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LevelPrefixFormatter("%(levelprefix)s%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(TRACE if level == "trace" else level.upper())
    logger.propagate = False
    return logger
