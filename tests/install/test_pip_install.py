"""`pip install .` builds the extension with scikit-build-core and installs the
`subcorn` console script and `python -m subcorn`, which then serve an app.

The build runs as on a machine without llhttp (Debian 12, Ubuntu): every file
of libllhttp-dev, libllhttp9.4 and libllhttp-source is hidden from it
(hidden.py), so cmake/llhttp.cmake downloads llhttp's released sources from
PyPI, checks their SHA-256 and compiles them in. It runs under the Python
that runs the tests, so `./dev test` builds one wheel for 3.14 and one for 3.15.
"""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HIDDEN = Path(__file__).resolve().parent / "hidden.py"
LLHTTP_PACKAGES = ["libllhttp-dev", "libllhttp9.4", "libllhttp-source"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


class Installed:
    def __init__(self, env_dir: Path, src: Path, files_before: set[str], log: str) -> None:
        self.env_dir, self.src, self.files_before, self.log = env_dir, src, files_before, log


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("venv")
    # A copy of the tree as a fresh clone has it (no build folders, no .git).
    src = root / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns("build", ".git", "_native*.so",
                                                             "__pycache__"))
    files_before = tree(src)
    env_dir = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", env_dir], check=True)
    done = subprocess.run(
        [sys.executable, HIDDEN, *LLHTTP_PACKAGES, "--",
         env_dir / "bin" / "pip", "install", "-v", "--no-build-isolation", "--no-deps", src],
        env=clean_env(), cwd=root, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return Installed(env_dir, src, files_before, done.stdout + done.stderr)


def test_build_compiles_in_llhttp_from_the_pinned_sdist(installed: Installed) -> None:
    assert "llhttp: no system libllhttp; downloading llhttp 9.4.3's sources" in installed.log
    assert "llhttp: compiling in llhttp 9.4.3" in installed.log
    native = list((installed.env_dir / "lib").glob("python3.*/site-packages/subcorn/_native.*.so"))
    assert len(native) == 1, native
    needed = subprocess.run(["readelf", "-d", native[0]], check=True, capture_output=True,
                            text=True).stdout
    assert "libnghttp2" in needed and "libllhttp" not in needed
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    assert tag in native[0].name


def test_install_leaves_the_source_tree_as_it_was(installed: Installed) -> None:
    assert tree(installed.src) == installed.files_before


def test_console_script_version(installed: Installed) -> None:
    out = subprocess.run([installed.env_dir / "bin" / "subcorn", "--version"],
                         capture_output=True, text=True, env=clean_env(), cwd="/", timeout=30)
    assert out.returncode == 0
    assert out.stdout.startswith("subcorn ")


def test_installed_module_serves(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http': return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'installed'})\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [installed.env_dir / "bin" / "python", "-m", "subcorn", "app:app", "--app-dir", tmp_path,
         "--port", str(port), "--workers", "1"],
        env=clean_env(), cwd="/", stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        assert body == b"installed"
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


# The configuration's refusals, each one line that names the fix (a leading
# space in CMake's output: the line is not wrapped). Configure only: seconds.

def configure(build: Path, *defines: str, hide: list[str] | None = None) -> str:
    command = ["cmake", "-S", str(REPO), "-B", str(build), "-G", "Ninja", "-DSUBCORN_EXTENSION=OFF",
               *defines]
    if hide:
        command = [sys.executable, str(HIDDEN), *hide, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, done.stdout
    return done.stderr


def test_an_archive_with_another_checksum_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "httptools-0.9.0.tar.gz"
    llhttp = tmp_path / "httptools-0.9.0" / "vendor" / "llhttp" / "src"
    llhttp.mkdir(parents=True)
    (llhttp / "llhttp.c").write_text("int planted;\n")
    with tarfile.open(fake, "w:gz") as tar:
        tar.add(tmp_path / "httptools-0.9.0", arcname="httptools-0.9.0")
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    err = configure(tmp_path / "build", "-DSUBCORN_LLHTTP=download",
                    f"-DSUBCORN_LLHTTP_URL=file://{fake}")
    assert re.search(rf"^\s+file://{re.escape(str(fake))} has SHA-256 {digest}, "
                     r"not the pinned [0-9a-f]{64}: refused$", err, re.M), err
    assert not (tmp_path / "build" / "_deps" / "llhttp-9.4.3").exists()


def test_a_missing_system_library_is_named_in_one_line(tmp_path: Path) -> None:
    err = configure(tmp_path / "build", hide=["libnghttp2-dev"])
    assert re.search(r"^\s+subcorn needs these libraries with their headers: nghttp2 >= 1\.62 "
                     r"\(libnghttp2-dev on Debian and Ubuntu, libnghttp2-devel on Fedora\)$",
                     err, re.M), err
