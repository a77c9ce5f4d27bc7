"""subcorn: an application server for Python web apps with a C++ engine.

It runs many copies of an ASGI app in one process, each in its own
sub-interpreter with its own GIL. Run it with ``subcorn module:app``, or
from Python with ``subcorn.run("module:app", workers=4)``.
"""

import os

__version__ = "0.1.0"

# ./dev builds the extension outside the source tree and points here, so a
# work tree never holds a stale binary that `pip install .` could pick up.
# One directory per supported Python (os.pathsep between them): each Python
# loads only the file named with its own ABI tag (_native.cpython-315-...so).
for _dev_ext_dir in os.environ.get("SUBCORN_DEV_EXT_DIR", "").split(os.pathsep):
    if _dev_ext_dir:
        __path__.append(_dev_ext_dir)


def __getattr__(name):
    # subcorn.ClientDisconnected: what a WebSocket's send() raises once the
    # connection is closed (an OSError, ASGI 2.4). It lives in the extension
    # (one class per interpreter), loaded only when asked for.
    if name == "ClientDisconnected":
        from subcorn._native import ClientDisconnected

        return ClientDisconnected
    # subcorn.run(app, **settings) and the settings as one object (imported
    # when asked for: `import subcorn` stays cheap in every interpreter).
    if name == "run":
        from subcorn._run import run

        return run
    if name in ("Config", "ConfigError"):
        from subcorn import config

        return getattr(config, name)
    raise AttributeError(f"module 'subcorn' has no attribute {name!r}")
