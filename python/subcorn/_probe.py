"""The throwaway process behind `subcorn check`.

    python3.14 -c "from subcorn._probe import main; main()" REQUEST_JSON RESULT_PATH

Creates one interpreter configured exactly like a shard's (src/py/interpreter.cpp:
own GIL, own allocator, no fork or exec, threads and daemon threads allowed,
extensions checked for sub-interpreter support), runs subcorn._probe_inside
in it and writes the findings, with the package each extension module belongs
to, as JSON to RESULT_PATH. With "where": "main" in the request it runs the
same probe in this process's main interpreter instead: the comparison that
tells "fails only in a sub-interpreter" from "fails everywhere".

The process exits with os._exit: the app may have left threads running, and
ending an interpreter with live daemon threads can hang or crash (DESIGN.md
section 8). A failed import can also leave the process itself unusable, which
is why the probe never runs in the process that asked for it.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import traceback
from collections.abc import Mapping
from typing import Any

# The shard's PyInterpreterConfig, field by field (src/py/interpreter.cpp).
SHARD_CONFIG: dict[str, Any] = {
    "use_main_obmalloc": False,
    "allow_fork": False,
    "allow_exec": False,
    "allow_threads": True,
    "allow_daemon_threads": True,
    "check_multi_interp_extensions": True,
    "gil": "own",
}


class ProbeError(Exception):
    """The probe itself failed inside the interpreter (not the app)."""


def run_in_subinterpreter(request_json: str) -> tuple[str, dict[str, Any]]:
    import _interpreters  # private, but the only way to pick the config from Python

    config = _interpreters.new_config("isolated", **SHARD_CONFIG)
    iid = _interpreters.create(config)
    actual = vars(_interpreters.get_config(iid))
    # The sub-interpreter starts with this process's sys.path; make sure it
    # can import subcorn even when subcorn was found some other way.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _interpreters.exec(
        iid,
        "import sys\n"
        f"if {package_parent!r} not in sys.path:\n"
        f"    sys.path.append({package_parent!r})\n",
    )
    from subcorn import _probe_inside

    out, error = _interpreters.call(iid, _probe_inside.run, (request_json,))
    if error is not None:
        raise ProbeError(getattr(error, "errdisplay", None) or getattr(error, "formatted", ""))
    return out, actual


def run_in_main(request_json: str) -> tuple[str, dict[str, Any]]:
    from subcorn import _probe_inside

    return _probe_inside.run(request_json), {"main_interpreter": True}


def main(argv: list[str] | None = None) -> None:
    request_json, result_path = (sys.argv[1:] if argv is None else argv)[:2]
    request = json.loads(request_json)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        # `python -c` put the working directory first; a shard's interpreter
        # has only --app-dir there (subcorn._shard adds it).
        del sys.path[0]
    code = 0
    try:
        if request["where"] == "sub":
            out, config = run_in_subinterpreter(request_json)
        else:
            out, config = run_in_main(request_json)
        result = json.loads(out)
        result["interpreter_config"] = config
        result["python"] = sys.version.split()[0]
        add_packages(result["events"])
        from subcorn._mode import file_stamp

        result["loaded_files"] = {path: file_stamp(path) for path in result.get("loaded_files", [])}
    except ProbeError as exc:
        result = {"probe_error": str(exc)}
        code = 2
    except Exception:  # noqa: BLE001  (the probe's own failure; the app's are in `out`)
        result = {"probe_error": traceback.format_exc()}
        code = 2
    _write(result_path, result)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _write(path: str, result: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def add_packages(events: list[dict[str, Any]]) -> None:
    """Names the distribution (and, on Debian, the system package) each
    extension module belongs to. Reading package metadata is safe here, in the
    main interpreter: it loads none of the app's extension modules."""
    finder = PackageFinder()
    system = system_packages([e["origin"] for e in events if _is_file(e["origin"])])
    for event in events:
        event.update(finder.find(event["module"], event["origin"]))
        event["system_package"] = system.get(event["origin"] or "")


def _is_file(origin: object) -> bool:
    return isinstance(origin, str) and os.path.isabs(origin)


def _dirs(paths: object) -> tuple[str, ...]:
    return tuple(sorted({os.path.realpath(str(p)) + os.sep for p in paths if p}))


def stdlib_dirs() -> tuple[str, ...]:
    """The standard library's directories, those of the base installation: in
    a virtualenv sysconfig's platstdlib is the venv's own lib/python3.X."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
            "installed_base": sys.base_prefix, "installed_platbase": sys.base_exec_prefix}
    paths = sysconfig.get_paths(vars=base)
    return _dirs(paths[key] for key in ("stdlib", "platstdlib"))


def site_dirs() -> tuple[str, ...]:
    """Where installed packages live. They can lie inside a standard library
    directory (/usr/lib/python3.14/site-packages; a venv's site-packages
    under its platstdlib) and are not the standard library."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    found = [*site.getsitepackages(), site.getusersitepackages()]
    for paths in (sysconfig.get_paths(), sysconfig.get_paths(vars=base)):
        found += [paths["purelib"], paths["platlib"]]
    return _dirs(found)


class PackageFinder:
    def __init__(self) -> None:
        self._stdlib = stdlib_dirs()
        self._site = site_dirs()
        self._by_top: Mapping[str, list[str]] | None = None
        self._by_name: dict[str, str] | None = None

    def in_stdlib(self, origin: str | None) -> bool:
        if origin == "built-in":
            return True
        if not _is_file(origin):
            return False
        path = os.path.realpath(str(origin))
        return path.startswith(self._stdlib) and not path.startswith(self._site)

    def find(self, module: str, origin: str | None) -> dict[str, Any]:
        if self.in_stdlib(origin):
            return {"package": "stdlib", "version": sys.version.split()[0], "stdlib": True}
        name = self._distribution(module.split(".")[0])
        return {"package": name or module.split(".")[0], "version": _version(name),
                "stdlib": False}

    def _distribution(self, top: str) -> str | None:
        import importlib.metadata as md

        if self._by_top is None:
            self._by_top = md.packages_distributions()
        names = self._by_top.get(top)
        if names:
            return names[0]
        # Debian's dist-info directories carry no RECORD or top_level.txt, so
        # packages_distributions() misses them: match the import name instead.
        if self._by_name is None:
            self._by_name = {}
            for dist in md.distributions():
                name = dist.metadata["Name"]
                if name:
                    self._by_name.setdefault(_canonical(name), name)
        return self._by_name.get(_canonical(top))


def _canonical(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _version(name: str | None) -> str | None:
    if not name:
        return None
    import importlib.metadata as md

    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def system_packages(paths: list[str]) -> dict[str, str]:
    """File -> the Debian package that installed it (dpkg-query -S), if any."""
    query = shutil.which("dpkg-query")
    paths = sorted(set(paths))
    if not query or not paths:
        return {}
    try:
        proc = subprocess.run([query, "-S", *paths], check=False, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        packages, sep, path = line.partition(": ")
        if sep and not packages.startswith("diversion"):
            found[path.strip()] = packages.split(",")[0].strip().split(":")[0]
    return found


if __name__ == "__main__":
    main()
