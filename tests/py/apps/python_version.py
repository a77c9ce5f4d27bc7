"""Fixture for test_python_versions.py.

/             the Python serving, and the interpreter answering and its configuration
/missing      imports a package whose C extension was built for another Python
              only (a package on disk, made here on first use): the app fails
              with ModuleNotFoundError, as an app on uvloop does on 3.15
"""

import _interpreters
import asyncio
import os
import sys
import tempfile

from common import interpreter_id, lifespan_noop, respond_json

OTHER_TAG = "cpython-313-x86_64-linux-gnu"


def make_package_built_for_another_python() -> str:
    root = tempfile.mkdtemp(prefix="subcorn-nobuild-")
    os.mkdir(os.path.join(root, "nobuild"))
    with open(os.path.join(root, "nobuild", "__init__.py"), "w") as f:
        f.write("from ._speedups import fast\n")
    open(os.path.join(root, "nobuild", f"_speedups.{OTHER_TAG}.so"), "wb").close()
    return root


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    if scope["path"] == "/missing":
        sys.path.insert(0, make_package_built_for_another_python())
        import nobuild  # noqa: F401  (raises ModuleNotFoundError)
    config = vars(_interpreters.get_config(interpreter_id()))
    await respond_json(send, {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "interpreter": interpreter_id(),
        "gil": config["gil"],
        "use_main_obmalloc": config["use_main_obmalloc"],
        "task": type(asyncio.current_task()).__name__,
    })
