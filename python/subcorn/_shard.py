"""The code each shard runs inside its own sub-interpreter.

The C++ shard thread creates the interpreter and calls run(); run() imports
the app, runs lifespan startup, hands the loop to the engine
(_native._shard_serve returns once shutdown has drained every connection),
then runs lifespan shutdown and the interpreter's atexit hooks.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import sys
import threading
from typing import Any

from subcorn import _logging, _native
from subcorn._importer import AppLoadError, load_app
from subcorn._lifespan import Lifespan
from subcorn._wsgi import detect_interface, interface_mismatch

SHUTDOWN_STEP_TIMEOUT = 10.0


def run(handle: int, config_json: str, index: int = 0) -> bool:
    """Serves one shard; True when no other thread is left, so the
    interpreter can be ended safely."""
    cfg = json.loads(config_json)
    worker = cfg["worker_base"] + index
    try:
        logger = _logging.setup(cfg["log_level"], cfg["log_format"], cfg["log_config"], worker)
    except _logging.LogConfigError as exc:  # checked by the CLI; the file changed since
        _native._shard_failed(handle, str(exc))
        return _no_threads_left()
    if cfg["app_dir"] not in sys.path:
        sys.path.insert(0, cfg["app_dir"])
    try:
        app = load_app(cfg["app"], cfg["factory"])
    except AppLoadError as exc:
        if exc.user_traceback and index == 0:  # every shard fails alike: one traceback
            logger.error("%s", exc.user_traceback.rstrip())
        _native._shard_failed(handle, f"Error loading app. {exc}")
        return _no_threads_left()

    interface = cfg["interface"]
    if interface == "auto":
        interface, why = detect_interface(app)
        if index == 0:
            logger.info("Serving %s as %s (%s)", cfg["app"], interface.upper(), why)
    elif mismatch := interface_mismatch(app, interface):
        other = "asgi" if interface == "wsgi" else "wsgi"
        _native._shard_failed(handle, f"--interface {interface} does not fit {cfg['app']}: "
                                      f"{mismatch}; serve it with --interface {other} or auto.")
        return _no_threads_left()
    # WSGI has no lifespan protocol.
    lifespan_mode = "off" if interface == "wsgi" else cfg["lifespan"]

    def log_exception(message: str, exc: BaseException, worker: int, method: str | None,
                      path: str | None, client: str | None) -> None:
        # `worker` is on every record made here already (_logging._name_worker).
        context = {} if method is None else {"method": method, "path": path, "client": client}
        logger.error(message, exc_info=exc, extra=context)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    lifespan = Lifespan(app, {}, lifespan_mode, logger)
    try:
        if not loop.run_until_complete(lifespan.startup()):
            _native._shard_failed(handle, f"Application startup failed: {lifespan.error}")
        elif not _native._shard_stop_requested(handle):
            _native._shard_serve(
                handle, app, loop, lifespan.state, log_exception, cfg["root_path"], interface
            )
        _cancel_remaining_tasks(loop, keep=lifespan.task)
        loop.run_until_complete(_bounded(lifespan.shutdown(), "lifespan shutdown", logger))
        loop.run_until_complete(_bounded(loop.shutdown_asyncgens(), "async generators", logger))
        loop.run_until_complete(
            _bounded(loop.shutdown_default_executor(), "the default executor", logger)
        )
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    # The app's atexit hooks close what they opened (a psycopg pool's workers
    # otherwise stall the interpreter's end for 20 s: DESIGN.md section 8).
    atexit._run_exitfuncs()
    return _no_threads_left()


async def _bounded(awaitable: Any, what: str, logger: Any) -> None:
    try:
        await asyncio.wait_for(awaitable, SHUTDOWN_STEP_TIMEOUT)
    except TimeoutError:
        logger.warning("Gave up waiting for %s after %.0f s", what, SHUTDOWN_STEP_TIMEOUT)


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop, keep: Any) -> None:
    """Requests still running after the grace period are cancelled."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done() and t is not keep]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=SHUTDOWN_STEP_TIMEOUT))


def _no_threads_left() -> bool:
    """Whether no thread the app started in this interpreter is still alive.

    In a sub-interpreter, threading's "main thread" is the process's main
    thread (it belongs to the main interpreter), and the shard thread shows as
    a dummy thread: neither is the app's."""
    foreign = (threading._MainThread, threading._DummyThread)  # type: ignore[attr-defined]
    return not any(t.is_alive() and not isinstance(t, foreign) for t in threading.enumerate())
