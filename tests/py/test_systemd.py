"""systemd: socket activation through the real systemd-socket-activate, and
the notify protocol (Type=notify) read from a NOTIFY_SOCKET the test binds.
No running systemd is needed."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from harness import APPS, RawConn, base_command, free_port, server_env

pytestmark = pytest.mark.subcorn_only  # uvicorn speaks neither protocol

APP = "binds_app:app"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def ask(port: int | None = None, uds: str | None = None, timeout: float = 5.0) -> dict:
    with RawConn(port, uds=uds, timeout=timeout) as c:
        c.request("GET", "/", headers=[("Connection", "close")])
        r = c.read_response(timeout=timeout)
    assert r.status == 200, r
    return json.loads(r.body)


@pytest.fixture
def short_dir():
    """A directory with a short path: a unix socket's path must fit in 108 bytes."""
    path = tempfile.mkdtemp(prefix="sc-")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- socket activation

class Activated:
    """subcorn started by systemd-socket-activate, which binds the sockets,
    then execs subcorn (the same pid) with LISTEN_FDS, LISTEN_PID and
    LISTEN_FDNAMES. Without --now it waits for the first connection."""

    def __init__(self, logdir: Path, listen: list[str], flags: list[str], *,
                 fdnames: str | None = None, now: bool = True) -> None:
        # systemd-socket-activate passes only the environment it is told to.
        env = server_env()
        setenv = [f"--setenv={k}={v}" for k, v in env.items() if "\n" not in v]
        args = ["systemd-socket-activate", *(f"--listen={a}" for a in listen), *setenv]
        if fdnames:
            args.append(f"--fdname={fdnames}")
        if now:
            args.append("--now")
        args += [*base_command(), APP, "--app-dir", str(APPS), *flags]
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        with open(logdir / "out.txt", "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=logdir,
                                         start_new_session=True)

    @property
    def output(self) -> str:
        return (self.logdir / "out.txt").read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            raise AssertionError(f"did not stop on SIGTERM:\n{self.output}") from None


@pytest.fixture
def activate(tmp_path):
    started: list[Activated] = []

    def start(listen, *flags, **kwargs) -> Activated:
        a = Activated(tmp_path / f"activated{len(started)}", list(listen), list(flags), **kwargs)
        started.append(a)
        return a

    yield start
    for a in started:
        code = a.stop()
        print(a.output)
        assert code == 0, a.output


def wait_answer(a: Activated, port: int | None = None, uds: str | None = None,
                timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ask(port, uds=uds)
        except (OSError, TimeoutError):
            if a.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no answer:\n{a.output}") from None
            time.sleep(0.1)


@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_socket_activation_serves_every_passed_socket(activate, short_dir, mode):
    port = free_port()
    path = str(short_dir / "x.sock")
    a = activate([f"127.0.0.1:{port}", path], "--mode", mode, "--workers", "2",
                 fdnames="web:api")
    tcp = wait_answer(a, port)
    unix = wait_answer(a, uds=path)
    assert tcp["server"] == ["127.0.0.1", port]
    assert unix["server"] == [path, None]
    # The app (and whatever it starts) does not see systemd's variables.
    assert tcp["systemd_variables"] == [] and unix["systemd_variables"] == []
    # The names systemd gave them are in the log (once every worker serves).
    deadline = time.monotonic() + 20
    while "subcorn running on" not in a.output and time.monotonic() < deadline:
        time.sleep(0.05)
    serving = next(line for line in a.output.splitlines() if "subcorn running on" in line)
    assert f"http://127.0.0.1:{port} (systemd socket 'web')" in serving, serving
    assert f"unix:{path} (systemd socket 'api')" in serving, serving
    # The supervisor is the process systemd-socket-activate became.
    assert re.search(rf"Started server process \[{a.proc.pid}\]", a.output), a.output


def test_the_connection_that_activates_is_answered(activate):
    # Without --now systemd-socket-activate waits for a connection, then
    # starts subcorn: that first request waits in the backlog and is served.
    port = free_port()
    a = activate([f"127.0.0.1:{port}"], "--workers", "1", now=False)
    deadline = time.monotonic() + 10
    while True:  # until systemd-socket-activate listens
        try:
            conn = RawConn(port, timeout=30)
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, a.output
            time.sleep(0.05)
    with conn:
        conn.request("GET", "/", headers=[("Connection", "close")])
        r = conn.read_response(timeout=30)
    assert r.status == 200, a.output
    assert json.loads(r.body)["server"] == ["127.0.0.1", port]


def test_unnamed_sockets_are_unknown_and_bind_flags_are_not_used(activate):
    port, ignored = free_port(), free_port()
    a = activate([f"127.0.0.1:{port}"], "--workers", "1", "-b", f"127.0.0.1:{ignored}")
    wait_answer(a, port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ignored), timeout=2).close()
    assert "(systemd socket 'unknown')" in a.output, a.output
    assert f"Serving the sockets systemd passed (LISTEN_FDS): 127.0.0.1:{ignored} not used" \
        in a.output, a.output


def test_listen_fds_meant_for_another_process_are_ignored(server):
    # LISTEN_PID names the process the sockets are for; a parent that was
    # activated and started us without clearing them did not mean us.
    port = free_port()
    s = server(APP, "-b", f"127.0.0.1:{port}", "--workers", "1", address=False, port=port,
               env={"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "other"})
    answer = ask(port)
    assert answer["server"] == ["127.0.0.1", port]
    assert answer["systemd_variables"] == []
    assert "systemd socket" not in s.stderr


# ---------------------------------------------------------------- Type=notify

class NotifyListener:
    """A NOTIFY_SOCKET as systemd has one: a datagram socket it reads. Each
    message is kept with when it came; `on_ready` runs on the reader thread
    the moment a READY=1 arrives."""

    def __init__(self, address: str | bytes, on_ready=None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self.on_ready = on_ready
        self.ready_results: list[object] = []
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            at = time.monotonic()
            if "READY" in fields and self.on_ready:
                try:
                    self.ready_results.append(self.on_ready())
                except Exception as exc:  # noqa: BLE001 - kept to assert on
                    self.ready_results.append(exc)
            # Kept once on_ready has run: a test that sees the READY sees its result.
            self.messages.append((at, fields))

    def states(self) -> list[str]:
        """READY, RELOADING and STOPPING, in order (WATCHDOG and STATUS left out)."""
        return [name for _, m in self.messages for name in ("READY", "RELOADING", "STOPPING")
                if m.get(name) == "1"]

    def wait_states(self, want: list[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.states()[:len(want)] != want:
            assert time.monotonic() < deadline, f"states {self.states()}, want {want}"
            time.sleep(0.05)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_notify_ready_reloading_ready_stopping(server, short_dir, mode):
    port = free_port()
    path = str(short_dir / "notify")
    notify = NotifyListener(path, on_ready=lambda: ask(port, timeout=2))
    try:
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        s = server(APP, "--mode", mode, "--workers", "2", "-b", f"127.0.0.1:{port}",
                   address=False, port=port, wait=False,
                   env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})
        notify.wait_states(["READY"])
        # READY came only once a request could be answered: the reader asked
        # at that very moment (a connection before it would have been refused).
        first = notify.ready_results[0]
        assert isinstance(first, dict), f"{first!r}\n{s.describe()}"
        assert first["systemd_variables"] == [], "the app does not see NOTIFY_SOCKET"
        ready = next(m for _, m in notify.messages if m.get("READY") == "1")
        assert ready["MAINPID"] == str(s.pid)
        assert f"127.0.0.1:{port}" in ready["STATUS"]

        os.kill(s.pid, signal.SIGHUP)
        notify.wait_states(["READY", "RELOADING", "READY"])
        reloading = next(m for _, m in notify.messages if m.get("RELOADING") == "1")
        assert before <= int(reloading["MONOTONIC_USEC"]) <= \
            time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert isinstance(notify.ready_results[1], dict), notify.ready_results[1]

        s.terminate()
        assert s.wait(30) == 0, s.describe()
        assert notify.states() == ["READY", "RELOADING", "READY", "STOPPING"]
        # WATCHDOG=1 every WATCHDOG_USEC/2 (0.15 s) while it ran.
        pings = [t for t, m in notify.messages if m.get("WATCHDOG") == "1"]
        ran = notify.messages[-1][0] - notify.messages[0][0]
        assert len(pings) >= max(2, ran / 0.15 / 2), (len(pings), ran)
        assert max(b - a for a, b in zip(pings, pings[1:])) < 1.0
    finally:
        notify.close()


def test_notify_on_an_abstract_socket_without_our_watchdog(server):
    name = f"subcorn-test-{os.getpid()}-{time.monotonic_ns()}"
    notify = NotifyListener(b"\0" + name.encode())
    try:
        # WATCHDOG_PID names another process: the watchdog is not ours to ping.
        s = server(APP, "--workers", "1", env={"NOTIFY_SOCKET": "@" + name,
                                               "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"})
        notify.wait_states(["READY"])
        time.sleep(0.5)
        s.terminate()
        assert s.wait(30) == 0, s.describe()
        assert notify.states() == ["READY", "STOPPING"]
        assert not [m for _, m in notify.messages if "WATCHDOG" in m]
    finally:
        notify.close()


def test_a_failed_reload_is_ready_again(server, short_dir, tmp_path):
    # The manager waits for READY=1 after RELOADING=1; the old workers serve on.
    value = tmp_path / "value"
    value.write_text("one")
    path = str(short_dir / "notify")
    notify = NotifyListener(path)
    try:
        s = server("supervised_app:app", "--workers", "1",
                   env={"NOTIFY_SOCKET": path, "TESTAPP_VALUE_FILE": str(value)})
        notify.wait_states(["READY"])
        value.write_text("fail")
        os.kill(s.pid, signal.SIGHUP)
        notify.wait_states(["READY", "RELOADING", "READY"])
        assert "Reload failed" in [m for _, m in notify.messages if m.get("READY")][-1]["STATUS"]
        assert "Reload failed" in s.stderr
    finally:
        notify.close()


# ---------------------------------------------------------------- the unit files in the docs

def unit_files() -> dict[str, str]:
    """The ```ini blocks of docs/deployment.md that start with a `# NAME.service`
    or `# NAME.socket` comment line."""
    units = {}
    for block in re.findall(r"```ini\n(.*?)```", DOCS.read_text(), re.S):
        first = block.splitlines()[0]
        match = re.fullmatch(r"# (\S+\.(?:service|socket))", first.strip())
        if match:
            units[match.group(1)] = block
    return units


def test_the_docs_unit_files_verify(tmp_path):
    units = unit_files()
    assert {"subcorn.service", "subcorn.socket"} <= set(units), units.keys()
    service = units["subcorn.service"]
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=kill -HUP $MAINPID"):
        assert line in service, line
    # systemd-analyze checks every option's name and value (no running
    # systemd needed); the ExecStart binary must exist, so it is pointed at
    # one for the check.
    for name, text in units.items():
        text = re.sub(r"^ExecStart=\S+", f"ExecStart={shutil.which('true')}", text, flags=re.M)
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           *(str(tmp_path / n) for n in units)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # It exits 0 on an unknown option or a bad value, and says so on stderr.
    problems = [line for line in done.stderr.splitlines()
                if any(word in line for word in ("Unknown", "Invalid", "Failed", "ignoring"))]
    assert not problems, done.stderr
