"""`subcorn check APP`: will this app run in own-GIL sub-interpreters?

The app is imported (and, with --exercise, sent GET requests) in a fresh
sub-interpreter configured exactly like a shard's, inside a throwaway child
process: a failed import in a sub-interpreter can break the same import for
the rest of that process (measured with psycopg2), so the process that asks,
the CLI or a server choosing its mode, never imports the app itself.

Exit codes: 0 compatible, 3 needs worker processes, 1 cannot be imported at
all. docs/compatibility.md describes the output and the JSON keys.

For `--mode auto` the server calls probe(config) and reads Result.compatible.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from subcorn import _probe_known
from subcorn.config import Config, ConfigError, Interface

EXIT_COMPATIBLE = 0
EXIT_CANNOT_IMPORT = 1
EXIT_NEEDS_PROCESSES = 3

DEFAULT_TIMEOUT = 60.0
OUTPUT_TAIL = 4000  # characters of the probe process's own output kept for the report

class CheckError(Exception):
    """The check itself failed (not the app): e.g. no sub-interpreter support."""


Verdict = Literal["compatible", "needs-processes", "cannot-import"]
_EXIT_CODES: dict[str, int] = {
    "compatible": EXIT_COMPATIBLE,
    "needs-processes": EXIT_NEEDS_PROCESSES,
    "cannot-import": EXIT_CANNOT_IMPORT,
}


@dataclasses.dataclass(frozen=True)
class Extension:
    """An extension module the app loaded, or tried to."""

    module: str
    origin: str | None
    package: str | None
    version: str | None
    system_package: str | None  # the Debian package, when dpkg knows the file
    stdlib: bool
    subinterpreters: bool  # loaded in the own-GIL sub-interpreter


@dataclasses.dataclass(frozen=True)
class Failure:
    """Why the app needs worker processes (or cannot be imported)."""

    stage: str  # "import", "first-use", "request" or "lifespan"
    error: str  # the exception as the app saw it, one line
    module: str | None = None  # the extension module at fault, when one is
    package: str | None = None
    version: str | None = None
    system_package: str | None = None
    message: str | None = None  # CPython's own message for the refusal
    path: str | None = None  # the exercised path, for stage "request"
    where: str | None = None  # FILE:LINE, the app's own line when it has one
    traceback: str | None = None


@dataclasses.dataclass(frozen=True)
class SlowerPath:
    """An extension module that was refused and that the library quietly did
    without, so the app runs on its fallback (usually slower) path."""

    module: str
    package: str | None
    what: str
    effect: str
    message: str


@dataclasses.dataclass(frozen=True)
class MissingBuild:
    """An extension module that has no build for the Python that ran the
    check, while its package holds builds for other Pythons (a Debian package
    not yet rebuilt for 3.15, a wheel for another version): importing it fails
    in any mode. A library that imports it inside `try` does without it."""

    module: str
    package: str | None
    version: str | None
    system_package: str | None
    found: list[str]  # the files there, e.g. ["loop.cpython-314-x86_64-linux-gnu.so"]
    python: str  # "3.15"


@dataclasses.dataclass(frozen=True)
class Request:
    path: str
    status: int | None
    error: str | None
    ok: bool


@dataclasses.dataclass
class Result:
    app: str
    verdict: Verdict
    reason: str
    failure: Failure | None = None
    extension_modules: list[Extension] = dataclasses.field(default_factory=list)
    slower_paths: list[SlowerPath] = dataclasses.field(default_factory=list)
    missing_builds: list[MissingBuild] = dataclasses.field(default_factory=list)
    requests: list[Request] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    interface: str | None = None  # "asgi" or "wsgi", once the app is imported
    python: str | None = None
    interpreter_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""
    # Every file the probed interpreter loaded -> [size, mtime_ns] (--mode
    # auto remembers its decision until one changes); not part of the report.
    loaded_files: dict[str, list[int] | None] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def compatible(self) -> bool:
        return self.verdict == "compatible"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self.verdict]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["loaded_files"]
        return {"schema": 1, "compatible": self.compatible, "exit_code": self.exit_code, **data}


# -- running the probe -----------------------------------------------------


@dataclasses.dataclass
class _Run:
    """One throwaway probe process: its findings, or how it died."""

    data: dict[str, Any] | None
    problem: str | None  # "timed out after 60 s", "the probe process died of SIGSEGV"
    output: str

    @property
    def imported(self) -> bool:
        return self.data is not None and self.data.get("import_error") is None


def _run_probe(config: Config, where: str, exercise: Sequence[str], timeout: float) -> _Run:
    request = json.dumps({
        "where": where, "app": config.app, "factory": config.factory,
        "app_dir": config.app_dir, "interface": str(config.interface),
        "lifespan": str(config.lifespan), "exercise": list(exercise),
    })
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bootstrap = (f"import sys; sys.path.append({package_parent!r}); "
                 "from subcorn._probe import main; main()")
    with tempfile.TemporaryDirectory(prefix="subcorn-check-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        output_path = os.path.join(tmp, "output.txt")
        # Output goes to a file, not a pipe: a process the app started would
        # hold a pipe open after the probe is done. Its own session, so what
        # the app started goes with it.
        with open(output_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", bootstrap, request, result_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        problem = None
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            problem = f"timed out after {timeout:g} s"
        finally:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with open(output_path, "rb") as f:
            f.seek(max(0, os.path.getsize(output_path) - OUTPUT_TAIL * 4))
            output = f.read().decode("utf-8", "replace")[-OUTPUT_TAIL:]
        data = None
        if problem is None and os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as f:
                data = json.load(f)
        if data is not None and "probe_error" in data:
            raise CheckError(f"the probe failed: {data['probe_error'].strip()}")
        if problem is None and data is None:
            problem = _death(proc.returncode)
    return _Run(data, problem, output)


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"the probe process died of {signal.Signals(-code).name}"
        except ValueError:
            return f"the probe process died of signal {-code}"
    return f"the probe process exited with {code} without a result"


def probe(config: Config, *, exercise: Sequence[str] = (),
          timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Probes config.app in a throwaway child process and says whether it can
    serve in interpreters mode. Of the config it uses app, app_dir, factory,
    interface and lifespan, the way a shard does.

    The app is imported in a fresh own-GIL sub-interpreter configured like a
    shard's; with `exercise`, each path is then sent a GET request in that
    interpreter (ASGI after lifespan startup, or WSGI). When that fails for a
    reason other than a refused extension module, the same steps run in the
    main interpreter of a second throwaway process, to tell an app that cannot
    work anywhere (verdict "cannot-import") from one that cannot work in a
    sub-interpreter ("needs-processes"). `timeout` bounds each child process.

    The calling process never imports the app, so a server can call this
    before choosing its mode. The app's faults are in the Result; CheckError
    means the probe itself could not run.
    """
    started = time.monotonic()
    sub = _run_probe(config, "sub", exercise, timeout)

    def in_main(paths: Sequence[str]) -> _Run:
        return _run_probe(config, "main", paths, timeout)

    result = _judge(config.app, sub, in_main)
    if sub.data:
        result.interface = sub.data.get("interface")
        result.python = sub.data.get("python")
        result.interpreter_config = sub.data.get("interpreter_config") or {}
        result.loaded_files = sub.data.get("loaded_files") or {}
    result.seconds = round(time.monotonic() - started, 3)
    return result


# -- judging what the probe found -------------------------------------------

# Runs the probe again in a fresh process's main interpreter, with these paths.
_InMain = Callable[[Sequence[str]], _Run]


def _judge(app: str, sub: _Run, in_main: _InMain) -> Result:
    if sub.data is None:
        # The probe process died or hung inside the sub-interpreter: whether
        # that is the sub-interpreter's fault depends on what the main
        # interpreter of another process makes of the same import.
        main = in_main(())
        if main.imported:
            died = Failure("import", sub.problem or "")
            return Result(app, "needs-processes", _needs_processes_reason(died),
                          failure=died, output=sub.output)
        return Result(app, "cannot-import", _cannot_import_reason(main), output=main.output)

    events = sub.data["events"]
    extensions = _extensions(events)
    requests = [_request(r) for r in sub.data.get("requests", [])]
    result = Result(app, "compatible", "compatible: serves in interpreters mode",
                    extension_modules=extensions, requests=requests, output=sub.output)
    result.missing_builds = _missing_builds(events, sub.data.get("python") or "")
    result.notes += [_missing_build_note(m) for m in result.missing_builds]
    failure = _failure(sub.data, events)
    if failure is None and not sub.imported:
        main = in_main(())
        if not main.imported:
            result.verdict, result.reason = "cannot-import", _cannot_import_reason(sub)
            return result
        error = sub.data["import_error"]
        refused = [e for e in events if e["refused"]]
        failure = _fault("import", error["line"], _likely(_refused_while(refused, None)),
                         where=error.get("where"), traceback=error["traceback"])
    if failure is None:
        failure = _compare_requests(sub.data, events, in_main, result.notes)
    if failure is not None:
        result.verdict, result.failure = "needs-processes", failure
        result.reason = _needs_processes_reason(failure)
    result.slower_paths = _slower_paths(events, failure, requests)
    return result


def _cannot_import_reason(run: _Run) -> str:
    if run.data is not None and run.data.get("import_error"):
        return f"cannot import the app: {run.data['import_error']['line']}"
    return f"cannot import the app: {run.problem}"


def _find_fault(texts: Sequence[str], refused: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The refused module an error chain names (CPython names it by its short
    name, e.g. `_psycopg`, so match the recorded message, not the name)."""
    text = "\n".join(texts)
    for event in refused:
        cpython = event["message"].partition(": ")[2]
        if cpython and cpython in text:
            return event
    return None


def _failure(data: dict[str, Any], events: list[dict[str, Any]]) -> Failure | None:
    refused = [e for e in events if e["refused"]]
    error = data.get("import_error")
    if error is not None:
        event = _find_fault(error["chain"], refused)
        if event is None:
            return None  # decided by the comparison with a main interpreter
        return _fault("import", error["line"], event, where=error.get("where"),
                      traceback=error["traceback"])
    for event in refused:
        if event["phase"] == "first-use":
            package = event["module"].split(".")[0]
            what = _probe_known.FIRST_USE.get(package, ("", ""))[1]
            return _fault("first-use", f"the app imported {package}, which loads this "
                          "module lazily" + (f" ({what})" if what else ""), event)
    for req in data.get("requests", []):
        if _request(req).ok:
            continue
        chain = req["error"]["chain"] if req["error"] else []
        event = _find_fault(chain, _refused_while(refused, req["path"]))
        if event is not None:
            stage = "lifespan" if event["phase"] == "lifespan startup" else "request"
            line = req["error"]["line"] if req["error"] else f"status {req['status']}"
            return _fault(stage, line, event, path=req["path"],
                          where=req["error"]["where"] if req["error"] else None,
                          traceback=req["error"]["traceback"] if req["error"] else None)
    return None


def _refused_while(refused: list[dict[str, Any]], path: str | None) -> list[dict[str, Any]]:
    """Refusals during the import (path None) or while serving GET path."""
    phases = ("import",) if path is None else (f"request {path}", "lifespan startup")
    return [e for e in refused if e["phase"] in phases]


def _fault(stage: str, error: str, event: dict[str, Any] | None, *, path: str | None = None,
           where: str | None = None, traceback: str | None = None) -> Failure:
    if event is None:
        return Failure(stage, error, path=path, where=where, traceback=traceback)
    return Failure(stage, error, module=event["module"], package=event.get("package"),
                   version=event.get("version"), system_package=event.get("system_package"),
                   message=event["message"], path=path, where=where, traceback=traceback)


def _likely(refused: list[dict[str, Any]]) -> dict[str, Any] | None:
    """When something fails only in a sub-interpreter and its error does not
    name a module (reworded, or a 500 the framework answered), the last
    extension module refused on the way is the likely cause."""
    return refused[-1] if refused else None


def _request(raw: dict[str, Any]) -> Request:
    status, error = raw["status"], raw["error"]
    ok = error is None and status is not None and status < 500
    return Request(raw["path"], status, error["line"] if error else None, ok)


def _compare_requests(data: dict[str, Any], events: list[dict[str, Any]], in_main: _InMain,
                      notes: list[str]) -> Failure | None:
    """A request that failed with no refused module to blame: run it in a
    main interpreter too; failing only in the sub-interpreter is what counts."""
    failed = [r for r in data.get("requests", []) if not _request(r).ok]
    if not failed:
        return None
    main = in_main([r["path"] for r in failed])
    main_requests = {} if main.data is None else {
        r["path"]: _request(r) for r in main.data.get("requests", [])}
    refused = [e for e in events if e["refused"]]
    for raw in failed:
        req, error = _request(raw), raw["error"] or {}
        there = main_requests.get(req.path)
        if there is not None and there.ok:
            return _fault("request", _request_outcome(req),
                          _likely(_refused_while(refused, req.path)), path=req.path,
                          where=error.get("where"), traceback=error.get("traceback"))
        outcome = _request_outcome(there) if there else _cannot_import_reason(main)
        notes.append(f"GET {req.path} fails in a process's main interpreter too "
                     f"({outcome}): not a sub-interpreter problem")
    return None


def _request_outcome(req: Request) -> str:
    return req.error or f"status {req.status}"


def _extensions(events: list[dict[str, Any]]) -> list[Extension]:
    by_module: dict[str, Extension] = {}
    for e in events:
        if not e["loaded"] and not e["refused"]:
            continue  # not there at all (e.g. an optional module never built)
        known = by_module.get(e["module"])
        loaded = e["loaded"] or bool(known and known.subinterpreters)
        by_module[e["module"]] = Extension(
            e["module"], e["origin"], e.get("package"), e.get("version"),
            e.get("system_package"), bool(e.get("stdlib")), loaded)
    # Refused first, then the app's own libraries, then the standard library.
    return sorted(by_module.values(),
                  key=lambda x: (x.subinterpreters, x.stdlib, x.module.lower()))


def _missing_builds(events: list[dict[str, Any]], version: str) -> list[MissingBuild]:
    python = ".".join(version.split(".")[:2])  # "3.15.2" -> "3.15"
    found: dict[str, MissingBuild] = {}
    for e in events:
        if e.get("missing_build") and e["module"] not in found:
            found[e["module"]] = MissingBuild(e["module"], e.get("package"), e.get("version"),
                                              e.get("system_package"), e["missing_build"],
                                              python)
    return list(found.values())


def _missing_build_note(m: MissingBuild) -> str:
    pkg = _package_text(m.package, m.version, m.system_package)
    text = (f"{m.module}" + (f" ({pkg})" if pkg else "")
            + f" has no build for Python {m.python} here, only {', '.join(m.found)}: ")
    known = _probe_known.quiet_fallback(m.module)
    if known:
        return text + f"where the library does without {known[0]}, {known[1]}"
    return text + "importing it fails in any mode (install a build for this Python)"


def _slower_paths(events: list[dict[str, Any]], failure: Failure | None,
                  requests: list[Request]) -> list[SlowerPath]:
    # Refusals while serving a request that then failed are that request's story.
    failed = {f"request {r.path}" for r in requests if not r.ok}
    found: dict[str, SlowerPath] = {}
    for e in events:
        if not e["refused"] or e["phase"] == "first-use" or e["module"] in found:
            continue
        if (failure is not None and e["module"] == failure.module) or e["phase"] in failed:
            continue
        what, effect = _probe_known.quiet_fallback(e["module"]) or (
            e["module"], _probe_known.GENERIC_FALLBACK)
        found[e["module"]] = SlowerPath(e["module"], e.get("package"), what, effect,
                                        e["message"])
    return list(found.values())


def _package_text(package: str | None, version: str | None, system: str | None) -> str:
    if not package:
        return ""
    text = f"package {package}" + (f" {version}" if version else "")
    if system:
        text += f", Debian {system}"
    return text


def _needs_processes_reason(f: Failure) -> str:
    if f.module:
        pkg = _package_text(f.package, f.version, f.system_package)
        return (f"needs worker processes: {f.module}" + (f" ({pkg})" if pkg else "")
                + " does not support loading in subinterpreters")
    if f.stage == "request":
        return (f"needs worker processes: GET {f.path} fails in a sub-interpreter "
                "but works in a process's main interpreter")
    return ("needs worker processes: importing the app fails in a sub-interpreter "
            "but works in a process's main interpreter")


# -- the report --------------------------------------------------------------


def render(result: Result) -> str:
    """The human-readable report."""
    lines = [result.reason]
    f = result.failure
    if f is not None:
        if f.message:
            lines.append(f"  CPython: {f.message}")
        where = {"import": "while importing the app",
                 "first-use": "on first use",
                 "lifespan": "during lifespan startup",
                 "request": f"while serving GET {f.path}"}[f.stage]
        if f.module and f.where and f.stage != "first-use":
            lines.append(f"  {where}, at {f.where}")
        else:
            lines.append(f"  {where}: {f.error}")
        lines.append("  Serve it with worker processes: subcorn --mode processes (or --mode auto)")
    for note in result.notes:
        lines.append(f"  note: {note}")
    if result.verdict == "cannot-import":
        return "\n".join(lines) + "\n"

    third_party = [x for x in result.extension_modules if not x.stdlib]
    stdlib = [x for x in result.extension_modules if x.stdlib]
    lines.append("")
    lines.append("Extension modules the app loaded (loads in a sub-interpreter?):")
    width = max((len(x.module) for x in third_party), default=0)
    for x in third_party:
        pkg = x.package + (f" {x.version}" if x.version else "") if x.package else ""
        lines.append(f"  {'yes' if x.subinterpreters else 'NO ':3}  {x.module:{width}}  {pkg}")
    refused_std = [x for x in stdlib if not x.subinterpreters]
    for x in refused_std:
        lines.append(f"  NO   {x.module:{width}}  stdlib")
    loaded_std = sorted(x.module for x in stdlib if x.subinterpreters)
    if loaded_std:
        lines.append(f"  yes  {len(loaded_std)} from the standard library: {', '.join(loaded_std)}")
    if not result.extension_modules:
        lines.append("  none")

    if result.slower_paths:
        lines.append("")
        lines.append("Slower paths (C extensions refused in a sub-interpreter; "
                     "the library quietly did without):")
        for s in result.slower_paths:
            what = s.what if s.what != s.module else f"package {s.package or '?'}"
            lines.append(f"  {s.module} ({what}): {s.effect}")
    if result.requests:
        lines.append("")
        lines.append("Requests (--exercise):")
        for r in result.requests:
            status = "-" if r.status is None else str(r.status)
            lines.append(f"  GET {r.path}  {status}" + (f"  {r.error}" if r.error else ""))
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="subcorn check",
        description="Import APP in a throwaway own-GIL sub-interpreter, configured like a "
                    "shard, and report whether it can serve in interpreters mode.",
        epilog="Exit status: 0 compatible, 3 needs worker processes, 1 cannot be imported.",
    )
    p.add_argument("app", help="the app as module:attribute, e.g. main:app")
    p.add_argument("--app-dir", default=".",
                   help="look for APP in this directory (default: current directory)")
    p.add_argument("--factory", action="store_true", help="APP is a factory: call it")
    p.add_argument("--exercise", nargs="+", action="extend", default=[], metavar="PATH",
                   help="also send GET PATH to the app inside the probe (finds libraries "
                        "that import fine and fail on first use)")
    p.add_argument("--interface", choices=[i.value for i in Interface], default="auto",
                   help="how to call the app for --exercise (default: auto)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="give up on a probe process after this many seconds "
                        "(default: %(default)g)")
    p.add_argument("--json", action="store_true", help="print a JSON object for tools")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = Config(app=args.app, factory=args.factory, app_dir=args.app_dir, workers=1,
                        interface=Interface(args.interface))
    except ConfigError as exc:
        result = Result(args.app, "cannot-import", f"cannot import the app: {exc}")
    else:
        exercise = [p if p.startswith("/") else "/" + p for p in args.exercise]
        try:
            result = probe(config, exercise=exercise, timeout=args.timeout)
        except CheckError as exc:
            print(f"subcorn check: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(render(result))
    return result.exit_code
