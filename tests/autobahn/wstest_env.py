"""The Autobahn|Testsuite's `wstest`, installed from the pins on first use.

wstest is a Python 2.7 program. The ./dev root mounts pyenv's CPython 2.7.18
and names its interpreter in $SUBCORN_PYTHON27; this module installs
requirements-py27.txt with it into a prefix of its own,
build/autobahn/py27-<hash of the pins>/, and returns the command that runs
wstest from there. The prefix is a Python *user base* (PYTHONUSERBASE): 2.7
has no `venv`, and a user site is a real site directory (its .pth files run,
which zope.interface's namespace package needs) searched before the
interpreter's own site-packages, so the pinned setuptools and friends win over
whatever pyenv ships. Nothing is written into pyenv's tree.

The install is cached: a second run finds the `.complete` marker and does
nothing; editing the pins changes the hash and so makes a fresh prefix (older
ones are removed).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PINS = HERE / "requirements-py27.txt"
PREFIXES = REPO / "build" / "autobahn"

# Installed first, on their own: the sdists among the pins are built with them
# (no build isolation, so pip fetches no unpinned build requirement).
BUILD_TOOLS = ("setuptools", "wheel")

# pyenv built 2.7 where libxcrypt's <crypt.h> existed, so its Python.h includes
# it; the root has no libcrypt-dev. No extension here calls crypt(), so the
# declaration is all that Python.h needs to compile (wsaccel's C extension).
CRYPT_H = """/* stand-in for libxcrypt's header, for Python 2.7's Python.h (wstest_env.py) */
char *crypt(const char *phrase, const char *setting);
"""


class WstestUnavailable(Exception):
    """wstest cannot be run here; the message is one line saying why."""


@dataclass(frozen=True)
class Wstest:
    prefix: Path
    python27: str

    def command(self, *args: str) -> list[str]:
        # The console script made by pip from the wheel's entry point; its
        # shebang is the 2.7 interpreter that installed it.
        return [str(self.prefix / "bin" / "wstest"), *args]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONUSERBASE"] = str(self.prefix)
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # the prefix stays as installed
        env["PYTHONUNBUFFERED"] = "1"  # its log says which case it is on, as it goes
        return env


def python27() -> str:
    path = os.environ.get("SUBCORN_PYTHON27", "")
    if not path:
        raise WstestUnavailable(
            "SUBCORN_PYTHON27 is not set: the Autobahn stage needs pyenv's Python 2.7.18 "
            "($PYENV_ROOT/versions/2.7.18, mounted by ./dev)")
    if not os.access(path, os.X_OK):
        raise WstestUnavailable(f"SUBCORN_PYTHON27={path} is not an executable Python 2.7")
    return path


def pins_key() -> str:
    return hashlib.sha256(PINS.read_bytes()).hexdigest()[:16]


def ensure_wstest(log=print) -> Wstest:
    """The installed wstest, installing it first when the pins changed."""
    py27 = python27()
    prefix = PREFIXES / f"py27-{pins_key()}"
    PREFIXES.mkdir(parents=True, exist_ok=True)
    with open(PREFIXES / ".lock", "w") as lock:
        # Two runs at once (a pytest and a manual run) install once.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (prefix / ".complete").exists():
            log(f"autobahn: installing wstest into {prefix.relative_to(REPO)} (once per pins)")
            for stale in PREFIXES.glob("py27-*"):
                shutil.rmtree(stale)
            _install(py27, prefix)
            (prefix / ".complete").write_text(PINS.read_text())
    return Wstest(prefix, py27)


def _install(py27: str, prefix: Path) -> None:
    lines = [line for line in PINS.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    tools = [line for line in lines if line.split("==")[0] in BUILD_TOOLS]
    rest = [line for line in lines if line not in tools]
    prefix.mkdir(parents=True)
    shim = prefix / "include-shim"
    shim.mkdir()
    (shim / "crypt.h").write_text(CRYPT_H)
    for step, reqs in (("build-tools", tools), ("suite", rest)):
        req_file = prefix / f"requirements-{step}.txt"
        req_file.write_text("\n".join(reqs) + "\n")
        _pip(py27, prefix, shim, "install", "--user", "--ignore-installed", "--no-deps",
             "--require-hashes", "--no-build-isolation", "-r", str(req_file))


def _pip(py27: str, prefix: Path, include: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONUSERBASE"] = str(prefix)
    env["CPATH"] = str(include)
    cmd = [py27, "-m", "pip", *args, "--no-cache-dir", "--disable-pip-version-check",
           "--no-warn-script-location", "--progress-bar", "off"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        (prefix / "pip.log").write_text(result.stdout + result.stderr)
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise WstestUnavailable(
            "pip could not install the Autobahn pins:\n" + "\n".join(tail))
