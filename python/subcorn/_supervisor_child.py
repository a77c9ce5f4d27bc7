"""The worker process's side of supervision: it must not outlive its supervisor.

The workers run in their own process group (so that a Ctrl+C reaches the
supervisor alone), so a `kill -9` of the supervisor, or of its group, would
leave them serving with nobody to stop them. The kernel's parent-death signal
closes that hole: when the supervisor dies, each worker gets SIGTERM and
drains as on any shutdown.

`python -m subcorn._supervisor_child` is the worker process's command: its
settings come from the supervisor as they are (main), never through argv.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from subcorn._supervisor_worker import SUPERVISOR_PID_ENV, WORKER_CONFIG_ENV

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def follow_supervisor() -> bool:
    """Asks for SIGTERM when the supervisor dies. False when it is already
    gone (this process should exit); True otherwise, also where prctl is missing."""
    expected = os.environ.pop(SUPERVISOR_PID_ENV, None)  # not the app's business
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return True
    except (OSError, AttributeError):
        return True
    # The supervisor may have died before the request took effect: then our
    # parent is already someone else, and no signal will come.
    return expected is None or os.getppid() == int(expected)


def main() -> int:
    """A worker process: the engine itself, serving the settings the
    supervisor handed over (its Config as JSON in WORKER_CONFIG_ENV: exactly
    the supervisor's settings, with the listening socket, the worker count
    and the pipes decided for this child)."""
    from subcorn import _logging
    from subcorn.cli import KEYFILE_PASSWORD_ENV, serve
    from subcorn.config import Config, ConfigError

    # Neither is the app's business (the password is in the handed-over settings).
    handed_over = os.environ.pop(WORKER_CONFIG_ENV, None)
    os.environ.pop(KEYFILE_PASSWORD_ENV, None)
    logger = _logging.setup("info")
    if handed_over is None:
        logger.error("A worker process is started by subcorn's supervisor: run subcorn APP")
        return 1
    try:
        config = Config.from_json(handed_over)
    except (ConfigError, TypeError, ValueError) as exc:
        logger.error("The supervisor's settings: %s", exc)
        return 1
    return serve(config, logger) if follow_supervisor() else 1


if __name__ == "__main__":
    sys.exit(main())
