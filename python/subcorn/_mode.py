"""--mode auto: probe the app (in a throwaway process, never this one), then
serve it with interpreters when it loads in a sub-interpreter, else with
worker processes, saying which module decided it.

The probe imports the app, and so does the worker after it: an app that takes
6 s to import would be ready after 12. So the decision is remembered, in
$XDG_CACHE_HOME/subcorn/probe (~/.cache/subcorn/probe), together with every
file the probe's interpreter loaded (size and modification time): the next start with the same app, Python,
subcorn and environment variables, and none of those files changed, skips the
probe. Anything else probes again."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from subcorn import __version__
from subcorn.config import Config, Mode

CACHE_SCHEMA = 1


class ProbeInterrupted(Exception):
    """SIGINT (Ctrl+C) or SIGTERM while the probe ran: the probe process was
    ended and nothing was started. `signum` is the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM end the probe (its process group is killed on the
    way out of check.probe) and become ProbeInterrupted, not a traceback."""
    def interrupt(signum: int, frame: object) -> None:
        raise ProbeInterrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def resolve_mode(config: Config, log: logging.Logger) -> Config:
    """The config with a concrete mode (interpreters or processes)."""
    if config.mode != Mode.AUTO:
        return config
    cache = ProbeCache.for_config(config)
    decision = cache.load()
    if decision is not None:
        log.info("%s loaded in a sub-interpreter before and none of its files changed: "
                 "no need to check again (--mode auto)", config.app)
    else:
        log.info("Checking whether %s loads in a sub-interpreter (--mode auto; "
                 "--mode interpreters or processes skips this)...", config.app)
        with _interruptible():
            decision, files = _probe(config)
        if files:
            cache.store(decision, files)
    for line in decision["warnings"]:
        log.warning("%s", line)
    return dataclasses.replace(config, mode=Mode(decision["mode"]))


def _probe(config: Config) -> tuple[dict[str, Any], dict[str, list[int]] | None]:
    """The decision, and the files it rests on (None: not to be remembered)."""
    from subcorn import check  # the probe is only needed to decide

    try:
        result = check.probe(config)
    except check.CheckError as exc:
        return _decision(Mode.PROCESSES, [f"Could not probe {config.app} ({exc}): "
                                          "serving with worker processes."]), None
    if result.verdict == "cannot-import":
        # Interpreters mode fails the start with the app's own error.
        return _decision(Mode.INTERPRETERS, []), None
    if result.compatible:
        warnings = [f"In a sub-interpreter {slow.package or slow.module} runs without "
                    f"{slow.module} ({slow.what}): {slow.effect}."
                    for slow in result.slower_paths]
        return _decision(Mode.INTERPRETERS, warnings), result.loaded_files
    return _decision(Mode.PROCESSES, [f"{result.reason}: serving with worker processes "
                                      "(--mode processes)."]), result.loaded_files


def _decision(mode: Mode, warnings: list[str]) -> dict[str, Any]:
    return {"mode": str(mode), "warnings": warnings}


@dataclasses.dataclass(frozen=True)
class ProbeCache:
    """One app's remembered decision: a JSON file named by what the decision
    depends on besides the files (app, options, Python, subcorn, environment)."""

    path: str

    @classmethod
    def for_config(cls, config: Config) -> ProbeCache:
        key = json.dumps({
            "schema": CACHE_SCHEMA, "app": config.app, "app_dir": config.app_dir,
            "factory": config.factory, "interface": str(config.interface),
            "python": sys.executable, "version": sys.version, "subcorn": __version__,
            # What the app imports can depend on any variable (DATABASE_URL...).
            "environ": sorted(os.environ.items()),
        }, sort_keys=True)
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return cls(os.path.join(base, "subcorn", "probe", digest + ".json"))

    def load(self) -> dict[str, Any] | None:
        """The decision, when it was remembered and its files are unchanged."""
        try:
            with open(self.path, encoding="utf-8") as f:
                entry = json.load(f)
            if entry.get("schema") != CACHE_SCHEMA:
                return None
            if any(file_stamp(path) != stamp for path, stamp in entry["files"].items()):
                return None
            decision = entry["decision"]
            Mode(decision["mode"])
            return {"mode": decision["mode"], "warnings": list(decision["warnings"])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # none, unreadable or from another version: probe again

    def store(self, decision: dict[str, Any], files: dict[str, list[int]]) -> None:
        """Best effort: a cache that cannot be written only means probing again."""
        entry = {"schema": CACHE_SCHEMA, "decision": decision, "files": files}
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with contextlib.suppress(OSError):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def file_stamp(path: str) -> list[int] | None:
    """[size, mtime in ns] of a file; None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]
