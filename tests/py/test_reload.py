"""--reload (docs/development.md): real files in a temporary directory, a real
server, httpx. In interpreters mode a change replaces the interpreters in
place (same process, same socket); code that does not compile or import
leaves the old code serving, said once; the next good save recovers.
subcorn only: uvicorn restarts its process instead."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness import run_cli, wait_for_log

pytestmark = pytest.mark.subcorn_only

# The app under test: its version, and who answered. /slow answers after a
# second (a request in flight during a reload). {extra} is spliced in at the
# top level, after VERSION: an error to import, or code that reads a template.
APP_SOURCE = '''\
import asyncio
import json
import os
from concurrent import interpreters

VERSION = {version!r}
{extra}

async def app(scope, receive, send):
    if scope["path"] == "/slow":
        await asyncio.sleep(1)
    body = json.dumps({{"version": VERSION, "pid": os.getpid(),
                       "interpreter": interpreters.get_current().id}}).encode()
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": body}})
'''

# The line `{extra}` lands on in APP_SOURCE (1-based), for errors put there.
EXTRA_LINE = APP_SOURCE.splitlines().index("{extra}") + 1


def write_app(directory: Path, version: str, extra: str = "") -> Path:
    path = directory / "app.py"
    path.write_text(APP_SOURCE.format(version=version, extra=extra))
    return path


def start(server, app_dir: Path, *flags: str, workers: int = 1, wait: bool = True):
    # --app-dir after the fixture's own: the last one wins. The reload
    # directory defaults to --app-dir. Bytecode is written, as on a
    # developer's machine (the test environment turns it off).
    return server("app:app", "--app-dir", str(app_dir), "--reload", "--lifespan", "off",
                  "--mode", "interpreters", *flags, workers=workers, wait=wait,
                  env={"PYTHONDONTWRITEBYTECODE": ""})


def get(s, path: str = "/") -> dict:
    # A new connection each time: a kept-alive one may be drained by a reload.
    with httpx.Client(base_url=s.url, timeout=5) as client:
        r = client.get(path)
    assert r.status_code == 200, (r, s.describe())
    return r.json()


def wait_for_version(s, version: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = get(s)
        if answer["version"] == version:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still {answer} after {timeout}s, not {version}\n{s.describe()}")
        time.sleep(0.05)


def answers(s, n: int = 8) -> list[dict]:
    return [get(s) for _ in range(n)]


def every_interpreter(s, count: int, timeout: float = 30.0) -> set[int]:
    """The interpreters that serve, once `count` different ones have
    answered: a new connection goes to the least loaded shard, and on a
    loaded machine a few requests in a row may all go to the same one."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only interpreters {seen} answered within {timeout}s, "
                                 f"not {count}\n{s.describe()}")
        seen.add(get(s)["interpreter"])
    return seen


# ---------------------------------------------------------------- in place

def test_a_change_replaces_the_interpreters_in_place(server, tmp_path):
    app = write_app(tmp_path, "v1")
    s = start(server, tmp_path, workers=2)
    before = answers(s)
    assert {a["version"] for a in before} == {"v1"}
    pid = before[0]["pid"]
    # The saved file has the size and the mtime (in seconds) of the old one:
    # the .pyc written at the first import would pass as fresh, had the
    # supervisor not removed it.
    pyc = app.parent / "__pycache__" / f"app.{sys.implementation.cache_tag}.pyc"
    assert pyc.exists(), "the first import wrote no bytecode: the test would prove nothing"
    old = app.stat()
    slow: dict = {}
    in_flight = threading.Thread(target=lambda: slow.update(get(s, "/slow")))
    in_flight.start()
    time.sleep(0.3)  # the slow request is in the old code now
    write_app(tmp_path, "v2")
    assert app.stat().st_size == old.st_size
    os.utime(app, ns=(old.st_atime_ns, old.st_mtime_ns))

    after = wait_for_version(s, "v2")
    in_flight.join(10)
    assert slow["version"] == "v1", "the request in flight was not let finish in the old code"
    # Same process, same socket; fresh interpreters.
    assert after["pid"] == pid
    assert {a["pid"] for a in answers(s)} == {pid}
    wait_for_log(s, "Reload complete")
    assert {a["version"] for a in answers(s)} == {"v2"}
    assert not {a["interpreter"] for a in before} & {a["interpreter"] for a in answers(s)}
    # Each fresh interpreter's join counts the shards that serve on, never
    # the old one its replacement waits to take over from.
    joins = re.findall(r"shard \d+ serving \((\d+) of 2\)", s.stderr)
    assert len(joins) == 4 and all(int(k) <= 2 for k in joins), joins
    # (Shown relative to the current directory when below it: here it is not.)
    assert len(re.findall(rf"Detected changes in '{app}': reloading", s.stderr)) == 1
    assert s.stderr.count("Started worker process") == 1
    # The supervisor watches; the worker process is not given the flags
    # (its settings are the supervisor's Config, as JSON in its environment).
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(item.decode().split("=", 1) for item in f.read().split(b"\0") if item)
    handed = json.loads(environ["SUBCORN_WORKER_CONFIG"])
    assert handed["reload"] is False and handed["reload_dirs"] == []


# The second interpreter to import a version takes 1.5 s longer than the first.
SLOW_SECOND_IMPORT = """\
_marker = os.path.join(os.path.dirname(__file__), "imported-" + VERSION)
try:
    os.close(os.open(_marker, os.O_CREAT | os.O_EXCL))
except FileExistsError:
    import time
    time.sleep(1.5)"""


def test_the_interpreters_take_over_all_at_once(server, tmp_path):
    """With two workers, one fresh interpreter serves 1.5 s before the other:
    it gets no connection until both can, so no answer in new code is
    followed by one in old code."""
    write_app(tmp_path, "v1", extra=SLOW_SECOND_IMPORT)
    s = start(server, tmp_path, workers=2)
    wait_for_log(s, "Application startup complete", timeout=10)
    saved = time.monotonic()
    write_app(tmp_path, "v2", extra=SLOW_SECOND_IMPORT)
    seen = []
    while time.monotonic() - saved < 3.5:
        seen.append((time.monotonic() - saved, get(s)["version"]))
    versions = [v for _, v in seen]
    assert "v2" in versions, seen
    first_new = versions.index("v2")
    assert set(versions[first_new:]) == {"v2"}, seen
    assert seen[first_new][0] > 1.2, "the swap did not wait for the slower interpreter"
    assert versions[0] == "v1"


def test_a_save_during_a_reload_supersedes_it(server, tmp_path):
    """The fresh interpreters of a reload still importing when the next save
    comes are abandoned: the newest code takes over without waiting for
    them, and the older code never does."""
    write_app(tmp_path, "v1")
    s = start(server, tmp_path)
    assert get(s)["version"] == "v1"
    marker = tmp_path / "importing-v2"
    write_app(tmp_path, "v2", extra=f"open({str(marker)!r}, 'w').close()\n"
                                    "import time\ntime.sleep(5)")
    deadline = time.monotonic() + 10
    while not marker.exists():  # a fresh interpreter is importing v2 (and sleeping)
        assert time.monotonic() < deadline, s.describe()
        time.sleep(0.02)
    saved = time.monotonic()
    write_app(tmp_path, "v3")
    seen = []
    while "v3" not in seen and time.monotonic() - saved < 10:
        seen.append(get(s)["version"])
    assert seen[-1] == "v3", s.describe()
    assert time.monotonic() - saved < 4, "the new code waited for the abandoned import"
    time.sleep(max(0.0, saved + 6 - time.monotonic()))  # the v2 import has ended by now
    seen += [a["version"] for a in answers(s)]
    assert "v2" not in seen, seen
    assert seen[seen.index("v3"):] == ["v3"] * (len(seen) - seen.index("v3")), seen
    assert s.stderr.count("Reloading in place") == 2
    assert s.stderr.count("Reload complete") == 1


def test_a_syntax_error_keeps_the_old_code_until_the_fix(server, tmp_path):
    write_app(tmp_path, "v1")
    s = start(server, tmp_path, workers=2)
    first = every_interpreter(s, 2)
    app = write_app(tmp_path, "v2", extra="def broken(:\n    pass")
    wait_for_log(s, "does not compile", timeout=30)
    assert {a["version"] for a in answers(s)} == {"v1"}
    assert {a["interpreter"] for a in answers(s)} <= first
    # The error once, pointing at the user's file and line (the supervisor's
    # compile(): no interpreter was started for it).
    assert s.stderr.count("does not compile") == 1
    assert f'File "{app}", line {EXTRA_LINE}' in s.stderr
    assert "SyntaxError" in s.stderr
    assert "Reloading in place" not in s.stderr

    write_app(tmp_path, "v3")
    wait_for_version(s, "v3", timeout=30)
    assert s.stderr.count("does not compile") == 1


def test_an_import_error_keeps_the_old_code_logged_once(server, tmp_path):
    write_app(tmp_path, "v1")
    s = start(server, tmp_path, workers=2)
    pid = get(s)["pid"]
    interpreters_before = every_interpreter(s, 2)
    app = write_app(tmp_path, "v2", extra='raise RuntimeError("boom at import")')
    # It compiles: only importing it in the fresh interpreters shows the error.
    wait_for_log(s, "Reload failed")
    assert {a["version"] for a in answers(s)} == {"v1"}
    assert {a["interpreter"] for a in answers(s)} <= interpreters_before
    # Once for the reload, not once per worker, and not retried.
    time.sleep(2.5)
    assert s.stderr.count("Reload failed") == 1, s.stderr
    assert s.stderr.count("boom at import") == 1, s.stderr
    assert s.stderr.count("Reloading in place") == 1, s.stderr
    failed = next(line for line in s.stderr.splitlines() if "Reload failed" in line)
    assert f"{app}:{EXTRA_LINE}" in failed, failed
    assert {a["version"] for a in answers(s)} == {"v1"}

    write_app(tmp_path, "v3")
    assert wait_for_version(s, "v3")["pid"] == pid
    wait_for_log(s, "Reload complete")
    assert {a["version"] for a in answers(s)} == {"v3"}


def test_a_broken_first_start_waits_for_the_fix(server, tmp_path):
    write_app(tmp_path, "v1", extra="def broken(:\n    pass")
    s = start(server, tmp_path, wait=False)
    wait_for_log(s, "waiting for a file to change", timeout=20)
    s.check_alive()
    write_app(tmp_path, "v2")
    s.wait_ready()
    assert wait_for_version(s, "v2")["version"] == "v2"


# ---------------------------------------------------------------- which files

def test_only_included_and_not_excluded_files_reload(server, tmp_path):
    """*.py and --reload-include '*.html' reload; the default excludes (hidden
    files and directories, .pyc, swap files), --reload-exclude and files no
    include names do not."""
    (tmp_path / "page.html").write_text("t1")
    write_app(tmp_path, "v1", extra="VERSION = open(os.path.join(os.path.dirname(__file__), "
                                    "'page.html')).read()")
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    s = start(server, tmp_path, "--reload-include", "*.html", "--reload-exclude", "scratch_*.py")
    before = get(s)
    assert before["version"] == "t1"

    for name in ("notes.txt", ".hidden.py", "app.pyc", ".app.py.swp", "~app.py",
                 "scratch_1.py", ".venv/lib/installed.py"):
        (tmp_path / name).write_text("x = 1\n")
    time.sleep(1.5)  # far more than the watcher's 50 ms of quiet and a reload
    assert "Detected changes" not in s.stderr, s.stderr
    assert get(s)["interpreter"] == before["interpreter"]

    (tmp_path / "page.html").write_text("t2")
    after = wait_for_version(s, "t2")
    assert after["interpreter"] != before["interpreter"]
    assert f"Detected changes in '{tmp_path / 'page.html'}': reloading" in s.stderr


def test_reload_dir_is_what_is_watched(server, tmp_path):
    """--reload-dir replaces the default (the app's directory)."""
    code, other = tmp_path / "code", tmp_path / "other"
    code.mkdir()
    other.mkdir()
    write_app(code, "v1")
    s = start(server, code, "--reload-dir", str(other))
    assert get(s)["version"] == "v1"  # imported (the port accepts before that)
    app = write_app(code, "v2")
    # Not watched, so nobody forgets its bytecode: a later mtime makes the
    # .pyc of v1 stale (v2 has v1's size, and may be saved in v1's second).
    later = app.stat().st_mtime + 2
    os.utime(app, (later, later))
    time.sleep(1.5)
    assert "Detected changes" not in s.stderr
    assert get(s)["version"] == "v1"
    (other / "settings.py").write_text("DEBUG = True\n")
    wait_for_version(s, "v2")  # a change there reloads, and the app's new code comes with it
    assert "Detected changes in" in s.stderr and "settings.py" in s.stderr


# ---------------------------------------------------------------- processes mode

def test_processes_mode_replaces_the_worker_processes(server, tmp_path):
    write_app(tmp_path, "v1")
    s = server("app:app", "--app-dir", str(tmp_path), "--reload", "--lifespan", "off",
               "--mode", "processes", workers=2)
    old_pids = {a["pid"] for a in answers(s)}
    write_app(tmp_path, "v2")
    wait_for_version(s, "v2")
    wait_for_log(s, "Reload complete")
    new = answers(s)
    assert {a["version"] for a in new} == {"v2"}
    assert not {a["pid"] for a in new} & old_pids
    assert "Reloading (a file changed): starting 2 new worker processes" in s.stderr


# ---------------------------------------------------------------- flags

@pytest.mark.parametrize("flags, error", [
    (["--reload-dir", "."], "--reload-dir needs --reload"),
    (["--reload-include", "*.html"], "--reload-include needs --reload"),
    (["--reload-exclude", "*.txt"], "--reload-exclude needs --reload"),
    (["--reload", "--reload-dir", "/nonexistent/dir"], "--reload-dir /nonexistent/dir: no such directory"),
])
def test_bad_reload_flags_are_one_line(flags, error):
    r = run_cli(["app:app", *flags])
    assert r.returncode == 1
    assert error in r.stderr
    assert "Traceback" not in r.stderr


def test_without_watchfiles_reload_is_one_line(tmp_path):
    # A sitecustomize that makes `watchfiles` unimportable, as on a machine
    # without it.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['watchfiles'] = None\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    r = run_cli(["app:app", "--reload"], env={"PYTHONPATH": path})
    assert r.returncode == 1
    assert "--reload needs watchfiles: apt install python3-watchfiles" in r.stderr
    assert "Traceback" not in r.stderr


def test_reload_before_the_app_is_not_taken_for_its_value(tmp_path):
    """`subcorn --reload main:app`, as people type it for uvicorn."""
    from subcorn.cli import build_parser

    args = build_parser().parse_args(["--reload", "main:app", "--reload-dir", "a",
                                      "--reload-dir", "b"])
    assert (args.app, args.reload, args.reload_dirs) == ("main:app", True, ["a", "b"])


def test_file_filter_follows_uvicorn():
    from subcorn._reload import FileFilter

    root = Path("/srv/app")
    default = FileFilter(roots=[root])
    assert default(root / "main.py")
    assert default(root / "pkg" / "views.py")
    for name in ("main.pyc", ".main.py", "main.html", "~main.py", ".main.py.swp",
                 ".venv/lib/x.py", ".git/hooks/x.py"):
        assert not default(root / name), name
    custom = FileFilter(includes=["*.html", "templates/*.txt"], excludes=["*.py", "old_*"],
                        roots=[root])
    assert custom(root / "page.html")
    assert custom(root / "templates" / "mail.txt")
    assert not custom(root / "notes.txt")
    assert not custom(root / "main.py")  # a default include given as an exclude is dropped
    assert not custom(root / "old_page.html")
    assert not custom(root / "old_stuff" / "page.html")  # a directory an exclude names
    # A default exclude given as an include is dropped.
    assert FileFilter(includes=[".*"], roots=[root])(root / ".env")
