"""Records when its interpreter ends: an object in a global of this module,
finalized when Py_EndInterpreter clears the modules, appends "begin ID T"
and, 0.3 s later, "end ID T" to the file ENDING_LOG names. It imports
concurrent.interpreters (common.py), as the apps whose interpreters crashed
CPython when two ended at once, unless ENDING_WITHOUT_CONCURRENT_INTERPRETERS
is set."""

import os
import time

from common import interpreter_id, lifespan_noop, respond

LOG = os.environ["ENDING_LOG"]
if os.environ.get("ENDING_WITHOUT_CONCURRENT_INTERPRETERS"):
    import _interpreters  # the interpreter's id without importing _interpqueues
    ME = _interpreters.get_current()[0]
else:
    ME = interpreter_id()


class _Sentinel:
    # What it uses is bound now: the interpreter's modules are being cleared
    # when it runs.
    def __del__(self, open=open, sleep=time.sleep, monotonic=time.monotonic, log=LOG, me=ME):
        with open(log, "a") as f:
            f.write(f"begin {me} {monotonic()}\n")
        sleep(0.3)
        with open(log, "a") as f:
            f.write(f"end {me} {monotonic()}\n")


_sentinel = _Sentinel()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan_noop(receive, send)
        return
    await respond(send, str(ME).encode())
