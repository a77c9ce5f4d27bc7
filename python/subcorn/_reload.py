"""--reload, for development: the supervisor watches the app's files and has
the new code served when one changes (docs/development.md).

What "served" means depends on the mode. In interpreters mode the worker
process replaces its shards' interpreters in place (the supervisor sends it
SIGHUP; the engine's Server::reload_shards starts fresh interpreters beside
the old ones and swaps them once all serve), so the process, its listening
socket and its open connections stay. In processes mode a process's main
interpreter cannot be replaced, so new worker processes take over, as on a
SIGHUP to the supervisor.

Either way a changed `.py` file that does not compile is reported here, with
its file and line, and nothing is started: the old code keeps serving. An
error that only importing shows (an exception at import time, a missing
name) is caught by the real path: the fresh interpreters fail, the engine
logs why once and keeps the old ones.

The watcher is watchfiles (from Debian) on a thread of its own; it hands the
changed paths to the supervisor's select loop through a pipe.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from subcorn.config import Config

log = logging.getLogger("subcorn")

# uvicorn's defaults, with the same meaning: a file is watched when it
# matches an include and no exclude.
DEFAULT_INCLUDES = ("*.py",)
DEFAULT_EXCLUDES = (".*", ".py[cod]", ".sw.*", "~*")
# How long the supervisor waits for the watcher thread to begin watching
# before it starts the first worker (so that no save is missed).
WATCHER_START_TIMEOUT = 2.0


class FileFilter:
    """Which changed paths count, as uvicorn decides it: a path counts when it
    matches an include pattern and no exclude pattern (patterns are matched
    from the right, as `PurePath.match` does: `*.py` matches a .py file in any
    directory, `templates/*.html` one in a directory named templates).
    A default include that is also given as an exclude is dropped, and the
    other way round. An exclude that names an existing directory excludes
    everything under it.

    One addition: an exclude pattern is also matched against each directory
    between the watched directory and the file, so that `.*` leaves out
    `.git/`, `.venv/` and `.mypy_cache/` (uvicorn would reload when pip
    installs a package into a `.venv` below the app)."""

    def __init__(self, includes: Sequence[str] = (), excludes: Sequence[str] = (),
                 roots: Sequence[Path] = ()) -> None:
        self.includes = _unique([p for p in DEFAULT_INCLUDES if p not in excludes] + list(includes))
        excluded = [p for p in DEFAULT_EXCLUDES if p not in includes]
        self.exclude_dirs: list[Path] = []
        for pattern in excludes:
            if _is_dir(pattern):
                self.exclude_dirs.append(Path(pattern).resolve())
            else:
                excluded.append(pattern)
        self.excludes = _unique(excluded)
        self.roots = [Path(r) for r in roots]

    def __call__(self, path: Path) -> bool:
        if not any(path.match(pattern) for pattern in self.includes):
            return False
        if any(d == path or d in path.parents for d in self.exclude_dirs):
            return False
        if any(path.match(pattern) for pattern in self.excludes):
            return False
        return not any(fnmatch.fnmatchcase(part, pattern) for part in self._dirs_below_root(path)
                       for pattern in self.excludes if "/" not in pattern)

    def _dirs_below_root(self, path: Path) -> tuple[str, ...]:
        for root in self.roots:
            with contextlib.suppress(ValueError):
                return path.parent.relative_to(root).parts
        return ()


def missing_watcher() -> str | None:
    """Why --reload cannot work here, in one line; None when it can."""
    if importlib.util.find_spec("watchfiles") is None:
        return ("--reload needs watchfiles: apt install python3-watchfiles (Debian, Ubuntu) "
                "or pip install watchfiles")
    return None


def watched_dirs(reload_dirs: Sequence[str] | None, app_dir: str) -> list[Path]:
    """--reload-dir's directories, or the app's (--app-dir, the current
    directory by default); a directory inside another is watched once."""
    dirs = sorted({Path(d).resolve() for d in (reload_dirs or [app_dir])})
    return [d for d in dirs if not any(other in d.parents for other in dirs)]


class Watcher:
    """Watches `dirs` on a thread; `fileno()` becomes readable when files that
    pass `file_filter` changed, and `take()` says which."""

    def __init__(self, dirs: Sequence[Path], file_filter: FileFilter) -> None:
        self.dirs = list(dirs)
        self.filter = file_filter
        self._read_end, self._write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._lock = threading.Lock()
        self._changed: set[Path] = set()
        self._stop = threading.Event()
        self._watching = threading.Event()
        self._thread = threading.Thread(target=self._run, name="subcorn-reload", daemon=True)

    @classmethod
    def for_config(cls, config: Config) -> Watcher:
        dirs = watched_dirs(config.reload_dirs, config.app_dir)
        return cls(dirs, FileFilter(config.reload_includes or (), config.reload_excludes or (), dirs))

    def fileno(self) -> int:
        return self._read_end

    def start(self) -> None:
        self._thread.start()
        self._watching.wait(WATCHER_START_TIMEOUT)
        log.info("Will watch for changes in these directories: %s",
                 [str(d) for d in self.dirs])

    def stop(self) -> None:
        self._stop.set()  # watchfiles looks at it every 50 ms
        if self._thread.is_alive():
            self._thread.join(1.0)
        if self._thread.is_alive():
            return  # it may still write: its descriptors stay until the process exits
        for fd in (self._read_end, self._write_end):
            with contextlib.suppress(OSError):
                os.close(fd)

    def take(self) -> list[Path]:
        """The paths that changed since the last call, sorted."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_end, 512):
                pass
        with self._lock:
            changed, self._changed = self._changed, set()
        return sorted(changed)

    def _run(self) -> None:
        import watchfiles  # imported here: only --reload needs it

        try:
            changes = watchfiles.watch(
                *self.dirs, watch_filter=lambda _change, path: self.filter(Path(path)),
                stop_event=self._stop, raise_interrupt=False, ignore_permission_denied=True)
            # The generator sets its watch up at once on the first next(),
            # just below: the supervisor waits for this before it starts the
            # first worker, so that a save made while it starts is seen.
            self._watching.set()
            for batch in changes:
                with self._lock:
                    self._changed.update(Path(path) for _change, path in batch)
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(self._write_end, b"!")
        except Exception as exc:  # a directory removed, out of inotify watches...
            log.error("--reload: the file watcher stopped: %s", exc)
        finally:
            self._watching.set()


def describe(paths: Iterable[Path]) -> str:
    """'app.py', 'templates/x.html': relative to the current directory where
    they are below it, as uvicorn shows them."""
    cwd = Path.cwd()
    shown = []
    for path in paths:
        try:
            shown.append(f"'{path.relative_to(cwd)}'")
        except ValueError:
            shown.append(f"'{path}'")
    return ", ".join(shown)


def syntax_error(paths: Iterable[Path]) -> SyntaxError | None:
    """The first SyntaxError among the changed .py files that still exist,
    found by compiling them here, in the supervisor: cheaper than starting
    interpreters that would fail to import them."""
    for path in paths:
        if path.suffix != ".py":
            continue
        try:
            source = path.read_bytes()
        except OSError:  # removed or renamed since: importing will tell
            continue
        try:
            compile(source, str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors
            return exc
        except ValueError:  # NUL bytes: the import will say so
            continue
    return None


def forget_bytecode(paths: Iterable[Path]) -> None:
    """Removes the cached bytecode of changed .py files. A .pyc is checked
    against its source's mtime in whole seconds and its size, so a file saved
    twice within a second at the same size (`v1` -> `v2`) would otherwise be
    imported from the stale .pyc."""
    for path in paths:
        if path.suffix != ".py":
            continue
        for optimization in ("", sys.flags.optimize or ""):
            with contextlib.suppress(OSError, NotImplementedError, ValueError):
                os.unlink(importlib.util.cache_from_source(str(path), optimization=optimization))


def _is_dir(pattern: str) -> bool:
    try:
        return Path(pattern).is_dir()
    except OSError:
        return False


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
