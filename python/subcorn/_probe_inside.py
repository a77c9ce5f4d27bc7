"""What `subcorn check` runs inside the interpreter it probes.

subcorn._probe calls run() in a fresh own-GIL sub-interpreter configured like
a shard (or, for a comparison, in the main interpreter of another throwaway
process). run() loads the app the way a shard does, records every extension
module import on the way (loaded, or refused with CPython's own message,
including those a library caught and quietly did without), and optionally
sends GET requests to the app. Only plain data goes back: a JSON string.
"""

from __future__ import annotations

# What a shard has imported before the app (subcorn._shard's imports), so the
# extension modules recorded below are the ones the app itself brings in.
import asyncio
import atexit  # noqa: F401  (imported by every shard before the app)
import contextlib
import importlib
import importlib.machinery
import io
import json
import os
import re
import sys
import threading  # noqa: F401  (imported by every shard before the app)
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any

from subcorn import _logging
from subcorn._importer import AppLoadError, app_location, load_app
from subcorn._lifespan import Lifespan
from subcorn._probe_known import FIRST_USE
from subcorn._wsgi import detect_interface

# CPython's message (Python/import.c) for an extension module that does not
# declare support for own-GIL sub-interpreters.
REFUSAL = re.compile(r"module (\S+) does not support loading in subinterpreters")

REQUEST_TIMEOUT = 10.0  # one exercised request; the whole probe has its own timeout


class Recorder:
    """Sees every extension module import from now on, in this interpreter."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.phase = "import"

    def add(self, spec: Any, error: BaseException | None) -> None:
        message = None if error is None else f"{type(error).__name__}: {error}"
        self.events.append({
            "module": spec.name,
            "origin": spec.origin,
            "loaded": error is None,
            "refused": error is not None and REFUSAL.search(str(error)) is not None,
            "message": message,
            "phase": self.phase,
        })

    def add_missing_build(self, name: str, found: list[str]) -> None:
        """An extension module that is not there for this Python, while its
        package holds builds for other Pythons (found: those files)."""
        if any(e["module"] == name and e.get("missing_build") for e in self.events):
            return
        files = ", ".join(os.path.basename(f) for f in found)
        self.events.append({
            "module": name,
            "origin": found[0],
            "loaded": False,
            "refused": False,
            "missing_build": [os.path.basename(f) for f in found],
            "message": f"ModuleNotFoundError: No module named {name!r} "
                       f"(no build for Python {sys.version_info[0]}.{sys.version_info[1]}; "
                       f"found {files})",
            "phase": self.phase,
        })

    def install(self) -> None:
        # Patching the loader classes (not sys.meta_path) sees every way an
        # extension gets loaded, and the refusal is raised in create_module
        # before a library's `except ImportError` can swallow it. The classes
        # belong to this interpreter only, and it is thrown away afterwards.
        recorder = self
        ext = importlib.machinery.ExtensionFileLoader
        create_ext = ext.create_module

        def create_module(loader: Any, spec: Any) -> Any:
            try:
                module = create_ext(loader, spec)
            except ImportError as exc:
                recorder.add(spec, exc)
                raise
            recorder.add(spec, None)
            return module

        ext.create_module = create_module  # type: ignore[method-assign,assignment]

        builtin = importlib.machinery.BuiltinImporter
        create_builtin = builtin.create_module

        def create_builtin_module(spec: Any) -> Any:
            # Built-in modules are part of Python: only their refusals count.
            try:
                return create_builtin(spec)
            except ImportError as exc:
                recorder.add(spec, exc)
                raise

        builtin.create_module = staticmethod(create_builtin_module)  # type: ignore[method-assign,assignment]

        # A module found nowhere: is it an extension built for other Pythons
        # only (a Debian package whose 3.15 build is missing, a wheel for the
        # wrong version)? Looked at on the disk, without importing anything.
        path_finder = importlib.machinery.PathFinder
        find_spec = path_finder.find_spec

        def find_spec_watched(cls: Any, fullname: str, path: Any = None, target: Any = None) -> Any:
            spec = find_spec(fullname, path, target)
            if spec is None:
                found = other_builds(fullname, sys.path if path is None else path)
                if found:
                    recorder.add_missing_build(fullname, found)
            return spec

        path_finder.find_spec = classmethod(find_spec_watched)  # type: ignore[method-assign,assignment]

    def sweep(self, before: set[str]) -> None:
        """Extension modules that reached sys.modules some other way."""
        seen = {e["module"] for e in self.events}
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        for name, module in list(sys.modules.items()):
            spec = getattr(module, "__spec__", None)
            origin = getattr(spec, "origin", None)
            if name in before or name in seen or not isinstance(origin, str):
                continue
            if origin.endswith(suffixes):
                self.events.append({"module": name, "origin": origin, "loaded": True,
                                    "refused": False, "message": None, "phase": self.phase})


def other_builds(fullname: str, search: Any) -> list[str]:
    """Files in the search directories that are extension module `fullname`
    built for another Python (name.cpython-314-x86_64-linux-gnu.so on 3.15)."""
    child = fullname.rpartition(".")[2]
    ours = {child + suffix for suffix in importlib.machinery.EXTENSION_SUFFIXES}
    found = []
    for directory in search:
        try:
            entries = sorted(os.listdir(directory or "."))
        except (OSError, TypeError):
            continue
        found += [os.path.join(directory, e) for e in entries
                  if e.startswith(child + ".") and e.endswith(".so") and e not in ours]
    return found


# --app-dir, set by run(): errors are located in the app's own code first.
# (A module global is fine: each probed interpreter has its own copy.)
_app_dir = ""


def describe(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data: one line, its whole chain, where, the traceback."""
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    if isinstance(exc, AppLoadError):
        # No cause: the import string itself is wrong; no line to point at.
        where = _where(exc.__cause__, _app_dir) if exc.__cause__ else None
    else:
        where = _where(exc, _app_dir)
    if isinstance(exc, AppLoadError):
        # Its "(at FILE:LINE)" may name this module's loader hook: say it again.
        line = re.sub(r" \(at [^()]*:\d+\)$", "", str(exc))
    else:
        line = f"{type(exc).__name__}: {exc}"
    line = " ".join(line.split())
    return {
        "type": type(exc).__name__,
        "line": line + (f" (at {where})" if where else ""),
        "where": where,
        "chain": chain,
        "traceback": _logging.format_exception(exc),
    }


def _where(exc: BaseException, app_dir: str) -> str | None:
    """The app's own line that led to the error (subcorn._importer's rule)."""
    return app_location(exc, app_dir)


def first_use(recorder: Recorder) -> None:
    """Loads the C core of packages that load it lazily, so its refusal shows
    now and not on the app's first real request."""
    recorder.phase = "first-use"
    for package, (core, _what) in FIRST_USE.items():
        if package in sys.modules and core not in sys.modules:
            # A refusal is recorded by the loader hook; anything else is the
            # library's business, not the probe's.
            with contextlib.suppress(Exception):
                importlib.import_module(core)


def _split(path: str) -> tuple[str, str]:
    raw, _, query = path.partition("?")
    return raw or "/", query


async def asgi_get(app: Any, path: str, state: dict[str, Any]) -> int | None:
    raw, query = _split(path)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": urllib.parse.unquote(raw),
        "raw_path": raw.encode("latin-1", "replace"),
        "query_string": query.encode("latin-1", "replace"),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"subcorn-check"),
                    (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": dict(state),
    }
    status: int | None = None
    requested = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message.get("type") == "http.response.start":
            status = int(message["status"])
        elif message.get("type") == "http.response.body" and not message.get("more_body"):
            finished.set()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return status


def wsgi_get(app: Any, path: str) -> int | None:
    raw, query = _split(path)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": urllib.parse.unquote(raw, "latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "subcorn-check",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status: int | None = None

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
        nonlocal status
        status = int(line.split()[0])
        return lambda data: None

    body = app(environ, start_response)
    try:
        for _chunk in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return status


def _outcome(path: str, status: int | None, error: BaseException | None) -> dict[str, Any]:
    return {"path": path, "status": status,
            "error": None if error is None else describe(error)}


def exercise(app: Any, kind: str, paths: list[str], lifespan: str,
             recorder: Recorder) -> list[dict[str, Any]]:
    if kind == "wsgi":
        results = []
        for path in paths:
            recorder.phase = f"request {path}"
            try:
                results.append(_outcome(path, wsgi_get(app, path), None))
            except (Exception, SystemExit) as exc:  # noqa: BLE001  (the app's error is the finding)
                results.append(_outcome(path, None, exc))
        return results
    return asyncio.run(_exercise_asgi(app, paths, lifespan, recorder))


async def _exercise_asgi(app: Any, paths: list[str], mode: str,
                         recorder: Recorder) -> list[dict[str, Any]]:
    # Like a shard: lifespan startup first (apps open their pools there).
    recorder.phase = "lifespan startup"
    lifespan = Lifespan(app, {}, mode, _logging.setup("warning"))
    started = await asyncio.wait_for(lifespan.startup(), REQUEST_TIMEOUT)
    if not started:
        error = RuntimeError(f"lifespan startup failed: {lifespan.error}")
        return [_outcome(path, None, error) for path in paths]
    results = []
    for path in paths:
        recorder.phase = f"request {path}"
        try:
            status = await asyncio.wait_for(asgi_get(app, path, lifespan.state), REQUEST_TIMEOUT)
            results.append(_outcome(path, status, None))
        except (Exception, SystemExit) as exc:  # noqa: BLE001  (the app's error is the finding)
            results.append(_outcome(path, None, exc))
    recorder.phase = "lifespan shutdown"
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(lifespan.shutdown(), REQUEST_TIMEOUT)
    return results


def run(request_json: str) -> str:
    """Probes the app described by the request; returns the findings as JSON."""
    global _app_dir
    req = json.loads(request_json)
    _app_dir = req["app_dir"]
    if req["app_dir"] not in sys.path:
        sys.path.insert(0, req["app_dir"])
    before = set(sys.modules)
    recorder = Recorder()
    recorder.install()
    result: dict[str, Any] = {"import_error": None, "interface": None, "requests": []}
    try:
        try:
            app = load_app(req["app"], req["factory"])
        except AppLoadError as exc:
            result["import_error"] = describe(exc)
            return _finish(result, recorder, before)
        except BaseException as exc:  # noqa: BLE001  (SystemExit raised by the app's import)
            result["import_error"] = describe(exc)
            return _finish(result, recorder, before)
        recorder.sweep(before)
        first_use(recorder)
        # Called the way a shard would call it (subcorn._shard).
        interface = req["interface"]
        if interface == "auto":
            interface = detect_interface(app)[0]
        result["interface"] = interface
        if req["exercise"]:
            result["requests"] = exercise(app, interface, req["exercise"], req["lifespan"],
                                          recorder)
        return _finish(result, recorder, before)
    finally:
        # os._exit ends the probe process: nothing else flushes this
        # interpreter's own stdout and stderr.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()


def _finish(result: dict[str, Any], recorder: Recorder, before: set[str]) -> str:
    recorder.sweep(before)
    result["events"] = recorder.events
    result["loaded_files"] = loaded_files()
    return json.dumps(result)


def loaded_files() -> list[str]:
    """What the outcome rests on, for --mode auto's cache (subcorn._mode): the
    file of every module in this interpreter. Not the directories on sys.path:
    anything written next to the app (a log, a database, the cache itself)
    would change their stamps and defeat the cache."""
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    return sorted(f for f in files if isinstance(f, str) and os.path.isabs(f))
