"""`subcorn check APP`: the compatibility probe (python/subcorn/check.py).

Each test runs `python -m subcorn check` (the Python running the tests: 3.14
or 3.15) as a subprocess against a fixture
app in apps/check_*.py. Some fixtures need Debian packages of libraries that
refuse sub-interpreters or lose their accelerators there (python3-yaml,
python3-psycopg-c, python3-sqlalchemy-ext, python3-cryptography,
python3-psycopg2): the dev root installs them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest
from harness import APPS, HERE, server_env

pytestmark = pytest.mark.subcorn_only

REFUSED = "does not support loading in subinterpreters"

# The keys of `subcorn check --json`, as docs/compatibility.md lists them.
TOP_KEYS = {"schema", "compatible", "exit_code", "app", "verdict", "reason", "failure",
            "extension_modules", "slower_paths", "missing_builds", "requests", "notes",
            "interface", "python", "interpreter_config", "seconds", "output"}
FAILURE_KEYS = {"stage", "error", "module", "package", "version", "system_package", "message",
                "path", "where", "traceback"}
EXTENSION_KEYS = {"module", "origin", "package", "version", "system_package", "stdlib",
                  "subinterpreters"}
SLOWER_KEYS = {"module", "package", "what", "effect", "message"}
MISSING_BUILD_KEYS = {"module", "package", "version", "system_package", "found", "python"}
REQUEST_KEYS = {"path", "status", "error", "ok"}


def check(app: str, *flags: str, env: dict[str, str] | None = None, timeout: float = 90,
          python: str = sys.executable, app_dir=APPS) -> subprocess.CompletedProcess:
    cmd = [python, "-m", "subcorn", "check", app, "--app-dir", str(app_dir), *flags]
    return subprocess.run(cmd, check=False, env=server_env(env), cwd=HERE, capture_output=True,
                          text=True, timeout=timeout)


def check_json(app: str, *flags: str, **kw) -> tuple[int, dict]:
    done = check(app, "--json", *flags, **kw)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def slower_modules(report: dict) -> list[str]:
    return [s["module"] for s in report["slower_paths"]]


def test_pure_asgi_app_is_compatible():
    done = check("check_pure:app")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("compatible: serves in interpreters mode\n")


def test_fastapi_needs_worker_processes_and_names_pydantic_core():
    done = check("check_fastapi:app")
    assert done.returncode == 3, done.stdout + done.stderr
    headline = done.stdout.splitlines()[0]
    assert headline.startswith("needs worker processes: pydantic_core._pydantic_core (package ")
    assert "package pydantic_core" in headline or "package pydantic-core" in headline
    assert headline.endswith(REFUSED)
    # CPython's own message, word for word.
    assert (f"CPython: ImportError: module pydantic_core._pydantic_core {REFUSED}"
            in done.stdout)
    assert "check_fastapi.py:3" in done.stdout  # the app's line that pulled it in


def test_fastapi_json_failure():
    code, report = check_json("check_fastapi:app")
    assert code == 3
    assert report["verdict"] == "needs-processes" and report["compatible"] is False
    failure = report["failure"]
    assert failure["stage"] == "import"
    assert failure["module"] == "pydantic_core._pydantic_core"
    assert failure["package"].replace("-", "_") == "pydantic_core"
    assert failure["message"] == f"ImportError: module pydantic_core._pydantic_core {REFUSED}"
    listed = {x["module"]: x["subinterpreters"] for x in report["extension_modules"]}
    assert listed["pydantic_core._pydantic_core"] is False


def test_cpython_short_name_is_mapped_to_the_module_and_its_package():
    # psycopg2's extension calls itself "_psycopg" in CPython's message.
    code, report = check_json("check_psycopg2:app")
    assert code == 3
    failure = report["failure"]
    assert failure["module"] == "psycopg2._psycopg"
    assert failure["package"] == "psycopg2"
    assert failure["message"] == f"ImportError: module _psycopg {REFUSED}"


def test_sqlalchemy_is_compatible_but_without_its_cyextension():
    done = check("check_sqlalchemy:app")
    assert done.returncode == 0, done.stdout + done.stderr
    slower = done.stdout.split("Slower paths", 1)[1]
    assert "sqlalchemy.cyextension" in slower
    code, report = check_json("check_sqlalchemy:app")
    assert code == 0
    assert any(m.startswith("sqlalchemy.cyextension.") for m in slower_modules(report))
    assert "greenlet._greenlet" in slower_modules(report)
    listed = {x["module"]: x for x in report["extension_modules"]}
    assert listed["_sqlite3"]["subinterpreters"] is True and listed["_sqlite3"]["stdlib"]


def test_quietly_missing_accelerators_are_slower_paths():
    code, report = check_json("check_accelerators:app", "--exercise", "/")
    assert code == 0, report["reason"]
    modules = slower_modules(report)
    assert "psycopg_c.pq" in modules
    assert "yaml._yaml" in modules
    for slower in report["slower_paths"]:
        assert slower["message"].endswith(REFUSED)
    # The request still works, on the pure-Python paths.
    assert report["requests"] == [{"path": "/", "status": 200, "error": None, "ok": True}]


def test_library_that_fails_on_first_use_is_caught_at_import():
    # `import cryptography` works; its Rust core is refused when first used.
    code, report = check_json("check_cryptography:app")
    assert code == 3
    assert report["failure"]["stage"] == "first-use"
    assert report["failure"]["module"] == "cryptography.hazmat.bindings._rust"


@pytest.mark.parametrize("app, reason", [
    ("check_nope:app", 'Could not import module "check_nope".'),
    ("check_pure:nope", 'Attribute "nope" not found in module "check_pure".'),
    ("nocolon", "must be in format"),
    ("check_raises:app", "RuntimeError: this app is broken"),
])
def test_an_app_that_cannot_be_imported_exits_1_with_one_line(app, reason):
    done = check(app)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith("cannot import the app: ") and reason in lines[0]


def test_lazy_import_fails_only_when_exercised():
    done = check("check_lazy:app")
    assert done.returncode == 0, done.stdout + done.stderr
    code, report = check_json("check_lazy:app", "--exercise", "/", "/lazy")
    assert code == 3
    failure = report["failure"]
    assert (failure["stage"], failure["path"], failure["module"]) == (
        "request", "/lazy", "httptools.parser.parser")
    assert failure["message"] == f"ImportError: module httptools.parser.parser {REFUSED}"
    statuses = {r["path"]: r["status"] for r in report["requests"]}
    assert statuses["/"] == 200


# An extension module built for another Python only: a package whose build
# for this one is missing (Debian's python3-uvloop has no 3.15 build). The
# file's tag is never the running Python's, so it is never loaded.
OTHER_TAG = "cpython-313-x86_64-linux-gnu"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def app_with_missing_build(tmp_path, init: str):
    package = tmp_path / "nobuild"
    package.mkdir()
    (package / "__init__.py").write_text(init)
    (package / f"_speedups.{OTHER_TAG}.so").write_bytes(b"")
    (tmp_path / "nobuild_app.py").write_text(
        "import nobuild\n"
        "async def app(scope, receive, send):\n"
        "    pass\n")
    return tmp_path


def test_an_extension_built_for_another_python_only_is_named(tmp_path):
    # The package needs it: the import fails in any mode, and the report says
    # why. (On 3.15.2, formatting this error's traceback itself raises:
    # python/cpython#151631; the probe must report it all the same.)
    app_dir = app_with_missing_build(tmp_path, "from ._speedups import fast\n")
    code, report = check_json("nobuild_app:app", app_dir=app_dir)
    assert code == 1, report
    assert "No module named 'nobuild._speedups'" in report["reason"]
    [missing] = report["missing_builds"]
    assert set(missing) == MISSING_BUILD_KEYS
    assert (missing["module"], missing["found"], missing["python"]) == (
        "nobuild._speedups", [f"_speedups.{OTHER_TAG}.so"], PYTHON)
    done = check("nobuild_app:app", app_dir=app_dir)
    assert (f"  note: nobuild._speedups (package nobuild) has no build for Python {PYTHON} "
            f"here, only _speedups.{OTHER_TAG}.so: importing it fails in any mode") in done.stdout


def test_an_optional_extension_built_for_another_python_only_is_a_note(tmp_path):
    app_dir = app_with_missing_build(
        tmp_path, "try:\n    from . import _speedups\nexcept ImportError:\n    _speedups = None\n")
    code, report = check_json("nobuild_app:app", app_dir=app_dir)
    assert code == 0, report
    assert [m["module"] for m in report["missing_builds"]] == ["nobuild._speedups"]
    assert any(n.startswith(f"nobuild._speedups (package nobuild) has no build for Python "
                            f"{PYTHON} here") for n in report["notes"]), report["notes"]


def test_failure_only_in_a_sub_interpreter_without_an_extension_to_blame():
    # signal.signal works only in a main interpreter: the probe compares.
    code, report = check_json("check_signal:app")
    assert code == 3
    assert report["failure"]["module"] is None
    assert "signal only works in main thread of the main interpreter" in report["failure"]["error"]
    code, report = check_json("check_lazy:app", "--exercise", "/signal")
    assert code == 3
    assert report["failure"]["path"] == "/signal"


def test_an_app_bug_is_not_a_sub_interpreter_problem():
    code, report = check_json("check_lazy:app", "--exercise", "/broken")
    assert code == 0, report["reason"]
    assert report["requests"][0]["ok"] is False
    assert any("/broken" in note and "main interpreter too" in note for note in report["notes"])


def test_wsgi_app_is_exercised_through_wsgi():
    code, report = check_json("check_flask:app", "--exercise", "/")
    assert code == 0, report["reason"]
    assert report["interface"] == "wsgi"
    assert report["requests"] == [{"path": "/", "status": 200, "error": None, "ok": True}]


def test_factory():
    code, report = check_json("check_pure:make_app", "--factory", "--exercise", "/")
    assert code == 0, report["reason"]
    assert report["requests"][0]["status"] == 200


def test_json_has_the_documented_keys():
    code, report = check_json("check_lazy:app", "--exercise", "/lazy")
    assert code == 3
    assert set(report) == TOP_KEYS
    assert report["schema"] == 1 and report["exit_code"] == 3
    assert set(report["failure"]) == FAILURE_KEYS
    assert all(set(x) == EXTENSION_KEYS for x in report["extension_modules"])
    assert all(set(r) == REQUEST_KEYS for r in report["requests"])
    code, report = check_json("check_sqlalchemy:app")
    assert set(report) == TOP_KEYS and report["failure"] is None
    assert report["slower_paths"] and all(set(s) == SLOWER_KEYS for s in report["slower_paths"])
    # The probe ran in an interpreter configured like a shard's.
    assert report["interpreter_config"] == {
        "use_main_obmalloc": False, "allow_fork": False, "allow_exec": False,
        "allow_threads": True, "allow_daemon_threads": True,
        "check_multi_interp_extensions": True, "gil": "own"}


def test_a_hanging_import_times_out():
    done = check("check_hang:app", "--timeout", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "timed out after 1 s" in done.stdout


def test_the_check_process_never_imports_the_app(tmp_path):
    pid_file = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, "-m", "subcorn", "check", "check_pure:app", "--app-dir", str(APPS)],
        env=server_env({"SUBCORN_CHECK_PID_FILE": str(pid_file)}), cwd=HERE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, out + err
    pids = {int(line) for line in pid_file.read_text().split()}
    assert pids, "the app was never imported"
    assert proc.pid not in pids


def test_probe_api_leaves_the_calling_process_alone(tmp_path, monkeypatch):
    # What a server does before choosing its mode (--mode auto).
    from subcorn.check import probe
    from subcorn.config import Config

    pid_file = tmp_path / "pids"
    monkeypatch.setenv("SUBCORN_CHECK_PID_FILE", str(pid_file))
    result = probe(Config(app="check_pure:app", app_dir=str(APPS), workers=1))
    assert result.compatible and result.exit_code == 0
    assert "check_pure" not in sys.modules
    assert os.getpid() not in {int(line) for line in pid_file.read_text().split()}

    result = probe(Config(app="check_fastapi:app", app_dir=str(APPS), workers=1))
    assert not result.compatible and result.verdict == "needs-processes"
    assert result.failure is not None and result.failure.module == "pydantic_core._pydantic_core"
    assert "check_fastapi" not in sys.modules


# A single-phase C extension module: CPython refuses it in a sub-interpreter.
TINYEXT_C = """
#include <Python.h>
static struct PyModuleDef tinyext = {PyModuleDef_HEAD_INIT, "tinyext", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&tinyext); }
"""


def build_tinyext_wheel(tmp_path) -> str:
    """tinyext 1.0 as a wheel: the extension compiled here, and the metadata
    an installer reads."""
    source = tmp_path / "tinyext.c"
    source.write_text(TINYEXT_C)
    module = f"tinyext{sysconfig.get_config_var('EXT_SUFFIX')}"
    subprocess.run(["cc", "-shared", "-fPIC", "-I", sysconfig.get_paths()["include"],
                    str(source), "-o", str(tmp_path / module)], check=True)
    info = "tinyext-1.0.dist-info"
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    files = {
        module: (tmp_path / module).read_bytes(),
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: tinyext\nVersion: 1.0\n",
        f"{info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: test_check\nRoot-Is-Purelib: false\n"
                          f"Tag: {tag}-{tag}-{platform}\n").encode(),
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    wheel = tmp_path / f"tinyext-1.0-{tag}-{tag}-{platform}.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return str(wheel)


def test_package_installed_in_a_virtualenv_is_not_the_standard_library(tmp_path):
    # A venv's site-packages lies inside sysconfig's platstdlib there
    # (venv/lib/python3.X): that made its packages read as "stdlib".
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True)
    python = str(venv / "bin" / "python")
    wheel = build_tinyext_wheel(tmp_path)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel],
                   check=True, env=server_env())
    done = check("check_venv:app", python=python)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        f"needs worker processes: tinyext (package tinyext 1.0) {REFUSED}"), done.stdout
    code, report = check_json("check_venv:app", python=python)
    listed = {x["module"]: x for x in report["extension_modules"]}
    assert listed["tinyext"]["stdlib"] is False
    assert listed["tinyext"]["origin"].startswith(str(venv))
    # The standard library's own extension modules are still the standard library.
    assert listed["_sqlite3"]["stdlib"] is True, listed
