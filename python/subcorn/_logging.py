"""Log records in every interpreter (the supervisor's, each shard's): uvicorn's
text ("INFO:     message"), or with --log-format json one JSON object per line
with the same fields as the engine's own lines (src/server/engine_log.cpp),
or whatever a --log-config file says.

A record that belongs to a worker carries `worker`, and one that belongs to a
request also `method`, `path` and `client` (the app's exceptions, timeouts):
text lines show them after the message, JSON records as fields.
"""

from __future__ import annotations

import configparser
import datetime
import json
import logging
import logging.config
import os
import sys
import traceback
from typing import Any

TRACE = 5
_CONTEXT_FIELDS = ("method", "path", "client")


class LogConfigError(ValueError):
    """A --log-config file that cannot be read or applied (one line)."""


def context_text(record: logging.LogRecord) -> str:
    """' (worker 2: GET /p from 10.0.0.1:5000)', or '' for a record of neither."""
    worker = getattr(record, "worker", None)
    method = getattr(record, "method", None)
    parts = []
    if worker is not None:
        parts.append(f"worker {worker}")
    if method:
        parts.append(f"{method} {record.path} from {record.client}")  # type: ignore[attr-defined]
    return f" ({': '.join(parts)})" if parts else ""


def format_exception(exc: BaseException) -> str:
    """traceback.format_exception(exc), which must not fail while reporting
    an error. On CPython 3.15.2 it raises for a ModuleNotFoundError of
    `pkg.mod` whose package `pkg` cannot be imported (uvloop there: its
    loop.cpython-314 module has no 3.15 build), because the new hint "found
    for a different Python version" imports `pkg` again
    (python/cpython#151631). Then the same traceback, without that hint and
    without the exceptions chained to it."""
    try:
        return "".join(traceback.format_exception(exc))
    except Exception:  # noqa: BLE001  (a bug of the formatter, not the app's)
        tb = traceback.format_tb(exc.__traceback__)
        head = ["Traceback (most recent call last):\n", *tb] if tb else []
        return "".join([*head, f"{type(exc).__name__}: {exc}\n"])


class LevelPrefixFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{record.levelname}:".ljust(10)
        record.levelprefix = prefix
        record.context = context_text(record)
        return super().format(record)

    def formatException(self, ei: Any) -> str:  # noqa: N802  (logging's name)
        return format_exception(ei[1]).rstrip("\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and
    worker, method, path, client and traceback when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        out: dict[str, Any] = {
            "time": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        worker = getattr(record, "worker", None)
        if worker is not None:
            out["worker"] = worker
        out["message"] = record.getMessage()
        if getattr(record, "method", None):
            for name in _CONTEXT_FIELDS:
                out[name] = getattr(record, name)
        if record.exc_info:
            out["traceback"] = format_exception(record.exc_info[1]).rstrip("\n")
        elif record.stack_info:
            out["traceback"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _name_worker(worker: int) -> None:
    """Every record made in this interpreter (the server's, the app's) gets
    `worker`, for the formatters here and for a --log-config's `%(worker)s`.
    Each sub-interpreter has its own logging module, so this is per worker."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "subcorn_worker", None) is not None:
        make_record = make_record.wrapped  # type: ignore[attr-defined]

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.worker = worker
        return record

    factory.subcorn_worker = worker  # type: ignore[attr-defined]
    factory.wrapped = make_record  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def setup(level: str, log_format: str = "text", log_config: str | None = None,
          worker: int | None = None) -> logging.Logger:
    """The "subcorn" logger, configured. With `log_config` the file decides
    (applied here, in this interpreter); LogConfigError when it cannot be."""
    logging.addLevelName(TRACE, "TRACE")
    logger = logging.getLogger("subcorn")
    if worker is not None:
        _name_worker(worker)
    if log_config:
        apply_config_file(log_config)
        return logger
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(LevelPrefixFormatter("%(levelprefix)s%(message)s%(context)s"))
    logger.addHandler(handler)
    logger.setLevel(TRACE if level == "trace" else level.upper())
    logger.propagate = False
    return logger


def apply_config_file(path: str) -> None:
    """A logging configuration as uvicorn takes it: a dictConfig in JSON
    (.json) or YAML (.yaml, .yml), anything else an INI file for fileConfig.
    Loggers that exist already are kept unless the file says otherwise."""
    try:
        if path.endswith(".json"):
            with open(path) as f:
                config = json.load(f)
            _dict_config(path, config)
        elif path.endswith((".yaml", ".yml")):
            import yaml  # Debian's python3-yaml

            with open(path) as f:
                config = yaml.safe_load(f)
            _dict_config(path, config)
        else:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"No such file: {path!r}")
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except LogConfigError:
        raise
    except (OSError, ValueError, TypeError, AttributeError, ImportError, KeyError,
            configparser.Error) as exc:
        raise LogConfigError(f"--log-config {path}: {_one_line(exc)}") from None
    except Exception as exc:  # a YAML syntax error and the like: still one line
        raise LogConfigError(f"--log-config {path}: {_one_line(exc)}") from None


def _dict_config(path: str, config: object) -> None:
    if not isinstance(config, dict):
        raise LogConfigError(f"--log-config {path}: the file must hold a mapping "
                             f"(a logging dictConfig), not {type(config).__name__}")
    config.setdefault("disable_existing_loggers", False)
    logging.config.dictConfig(config)


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())
