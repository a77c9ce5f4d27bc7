"""`pip install .` builds the extension with scikit-build-core and installs the
`subcorn` console script and `python -m subcorn`, which then serve an app."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    # A copy of the tree, so the in-place dev build does not leak into the wheel.
    src = root / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns("build", ".git", "_native*.so",
                                                             "__pycache__"))
    env_dir = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", env_dir], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [env_dir / "bin" / "pip", "install", "--no-build-isolation", "--no-deps", "-q", src],
        check=True, env=env, timeout=600,
    )
    return env_dir


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_console_script_version(venv: Path) -> None:
    out = subprocess.run([venv / "bin" / "subcorn", "--version"], capture_output=True,
                         text=True, env=clean_env(), cwd="/", timeout=30)
    assert out.returncode == 0
    assert out.stdout.startswith("subcorn ")


def test_installed_module_serves(venv: Path, tmp_path: Path) -> None:
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
        [venv / "bin" / "python", "-m", "subcorn", "app:app", "--app-dir", tmp_path,
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
