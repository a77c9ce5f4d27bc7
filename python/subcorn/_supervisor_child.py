"""The worker process's side of supervision: it must not outlive its supervisor.

The workers run in their own process group (so that a Ctrl+C reaches the
supervisor alone), so a `kill -9` of the supervisor, or of its group, would
leave them serving with nobody to stop them. The kernel's parent-death signal
closes that hole: when the supervisor dies, each worker gets SIGTERM and
drains as on any shutdown.
"""

from __future__ import annotations

import ctypes
import os
import signal

from subcorn._supervisor_worker import SUPERVISOR_PID_ENV

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
