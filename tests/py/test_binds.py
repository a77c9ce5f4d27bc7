"""--bind (repeatable), --uds-permissions, the stale unix socket, and --pid's
place after the binds: real sockets, in both modes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time

import pytest

from harness import (APPS, TRACEBACK, RawConn, base_command, free_port, server_env,
                     wait_for_log)

pytestmark = pytest.mark.subcorn_only  # uvicorn has one address, no --bind

APP = "binds_app:app"


def ask(port: int | None = None, host: str = "127.0.0.1", uds: str | None = None) -> dict:
    """GET / over a new connection: what binds_app saw."""
    with RawConn(port, host, uds=uds) as c:
        c.request("GET", "/", headers=[("Connection", "close")])
        r = c.read_response()
    assert r.status == 200, r
    return json.loads(r.body)


def fails_to_start(*flags: str, env: dict[str, str] | None = None, pass_fds=()):
    return subprocess.run(base_command() + [APP, "--app-dir", str(APPS), "--workers", "2",
                                            *flags],
                          env=server_env(env), capture_output=True, text=True, timeout=40,
                          pass_fds=pass_fds)


def assert_one_line_and_exit_1(done, *mentions: str) -> str:
    err = done.stderr
    assert done.returncode == 1, err
    assert TRACEBACK not in err, err
    lines = [line for line in err.splitlines() if all(m in line for m in mentions)]
    assert len(lines) == 1, f"want one line naming {mentions}:\n{err}"
    # Refused before any worker started.
    assert "Started worker process" not in err, err
    return lines[0]


# ---------------------------------------------------------------- every form, one server

@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_every_bind_form_is_served_by_the_same_workers(server, tmp_path, mode):
    v4, v6 = free_port(), free_port()
    path = str(tmp_path / "app.sock")
    with socket.socket() as inherited:
        inherited.bind(("127.0.0.1", 0))
        inherited_port = inherited.getsockname()[1]
        s = server(APP, "--mode", mode, "--workers", "2",
                   "-b", f"127.0.0.1:{v4}", "--bind", f"[::1]:{v6}", "-b", f"unix:{path}",
                   "-b", f"fd://{inherited.fileno()}",
                   address=False, port=v4, fd=inherited.fileno())
    answers = {
        "tcp": ask(v4),
        "ipv6": ask(v6, host="::1"),
        "unix": ask(uds=path),
        "fd": ask(inherited_port),
    }
    # The scope's server is the socket that took the connection.
    assert answers["tcp"]["server"] == ["127.0.0.1", v4]
    assert answers["ipv6"]["server"] == ["::1", v6]
    assert answers["unix"]["server"] == [path, None]
    assert answers["unix"]["client"] is None
    assert answers["fd"]["server"] == ["127.0.0.1", inherited_port]
    # One log line says where it serves, every address in it (once every
    # worker serves: the first one may answer before).
    wait_for_log(s, "subcorn running on", timeout=20)
    serving = next(line for line in s.stderr.splitlines() if "subcorn running on" in line)
    for address in (f"http://127.0.0.1:{v4}", f"http://[::1]:{v6}", f"unix:{path}",
                    f"http://127.0.0.1:{inherited_port}"):
        assert address in serving, serving
    # The same worker processes answer on every socket: while one TCP
    # connection is held open, a unix one goes to the worker with fewer
    # connections (processes mode), or to the one worker process.
    workers = {int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == s.pid}
    assert {a["pid"] for a in answers.values()} <= workers, (answers, workers)
    time.sleep(0.5)  # the closed connections' counts reach the supervisor
    with RawConn(v4) as held:
        held.request("GET", "/")
        r = held.read_response()
        on_tcp = json.loads(r.body)["pid"]
        on_unix = ask(uds=path)["pid"]
    assert {on_tcp, on_unix} <= workers
    assert (on_tcp != on_unix) == (mode == "processes"), (on_tcp, on_unix, workers)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_host_alone_is_port_8000(server):
    # 127.0.0.3: a loopback address nothing else on the machine serves 8000 on.
    s = server(APP, "--workers", "1", "-b", "127.0.0.3", address=False, wait=False)
    deadline = time.monotonic() + 20
    while True:
        try:
            assert ask(8000, host="127.0.0.3")["server"] == ["127.0.0.3", 8000]
            break
        except OSError:
            s.check_alive()
            assert time.monotonic() < deadline, s.describe()
            time.sleep(0.05)


def test_bind_wins_over_host_and_port_and_says_so(server):
    bound, ignored = free_port(), free_port()
    s = server(APP, "--workers", "1", "--host", "127.0.0.1", "--port", str(ignored),
               "-b", f"127.0.0.1:{bound}", address=False, port=bound)
    assert ask(bound)["server"] == ["127.0.0.1", bound]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ignored), timeout=2).close()
    assert "--bind given: --host/--port not used" in s.stderr, s.stderr


def test_binds_from_the_environment(server, tmp_path):
    port = free_port()
    path = str(tmp_path / "env.sock")
    server(APP, "--workers", "1", address=False, port=port,
           env={"SUBCORN_BIND": f"127.0.0.1:{port} unix:{path}"})
    assert ask(port)["server"] == ["127.0.0.1", port]
    assert ask(uds=path)["server"] == [path, None]


def test_command_line_binds_replace_the_environments(server):
    from_env, given = free_port(), free_port()
    server(APP, "--workers", "1", "-b", f"127.0.0.1:{given}", address=False, port=given,
           env={"SUBCORN_BIND": f"127.0.0.1:{from_env}"})
    assert ask(given)["server"] == ["127.0.0.1", given]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", from_env), timeout=2).close()


def test_uds_and_fd_still_work_as_uvicorns(server, tmp_path):
    # --fd wins over --uds, which wins over --host/--port (uvicorn's order).
    path = str(tmp_path / "uds.sock")
    with socket.socket() as inherited:
        inherited.bind(("127.0.0.1", 0))
        port = inherited.getsockname()[1]
        server(APP, "--workers", "1", "--uds", path, "--fd", str(inherited.fileno()),
               address=False, port=port, fd=inherited.fileno())
    assert ask(port)["server"] == ["127.0.0.1", port]
    assert not os.path.exists(path)


# ---------------------------------------------------------------- failures: one line, exit 1

@pytest.mark.parametrize("address, why", [
    ("127.0.0.1:http", "the port must be a number"),
    ("127.0.0.1:70000", "the port must be a number"),
    ("[::1:8000", "closing bracket"),
    ("[nothost]:8000", "not an IPv6 address"),
    ("::1:8000", "in brackets"),
    (":8000", "no host"),
    ("unix:", "needs a path"),
    ("fd://three", "file descriptor number"),
])
def test_bad_bind_syntax(address, why):
    line = assert_one_line_and_exit_1(fails_to_start("-b", address), address, why)
    assert len(line) < 200, line


def test_address_in_use_is_one_line_naming_it_and_nothing_stays_bound(tmp_path):
    path = tmp_path / "first.sock"
    pid_file = tmp_path / "server.pid"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = fails_to_start("-b", f"unix:{path}", "-b", f"127.0.0.1:{port}",
                              "--pid", str(pid_file))
    assert_one_line_and_exit_1(done, f"127.0.0.1:{port}", "Address already in use")
    # The bind before it was undone, and no pid file was written: it comes
    # after every bind.
    assert not path.exists()
    assert not pid_file.exists()


def test_the_same_address_twice_is_refused():
    port = free_port()
    done = fails_to_start("-b", f"127.0.0.1:{port}", "-b", f"0.0.0.0:{port}")
    assert_one_line_and_exit_1(done, f"0.0.0.0:{port}", "bound already")


def test_unix_socket_in_a_missing_directory(tmp_path):
    path = tmp_path / "no-such-dir" / "app.sock"
    done = fails_to_start("-b", f"unix:{path}")
    assert_one_line_and_exit_1(done, f"unix:{path}", "No such file or directory")


def test_permission_denied_is_one_line():
    # A port below 1024 as an unprivileged user (the tests run as root: the
    # server is started as nobody, who can read the sources and the build).
    done = _as_nobody("-b", "127.0.0.1:81")
    assert_one_line_and_exit_1(done, "127.0.0.1:81", "Permission denied")


def _as_nobody(*flags: str):
    if os.geteuid() != 0:  # already unprivileged
        return fails_to_start(*flags)
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           *base_command(), APP, "--app-dir", str(APPS), "--workers", "1",
                           *flags],
                          env=server_env(), capture_output=True, text=True, timeout=40, cwd="/")


def test_fd_that_is_not_a_socket(tmp_path):
    with open(tmp_path / "file", "w") as f:
        fd = f.fileno()
        done = fails_to_start("-b", f"fd://{fd}", pass_fds=(fd,))
    assert_one_line_and_exit_1(done, f"fd://{fd}", "not a socket")


# ---------------------------------------------------------------- unix sockets

@pytest.mark.parametrize("given, mode", [(None, 0o666), ("660", 0o660), ("0o600", 0o600),
                                         ("0640", 0o640)])
def test_uds_permissions(server, tmp_path, given, mode):
    first, second = str(tmp_path / "a.sock"), str(tmp_path / "b.sock")
    flags = ["--uds-permissions", given] if given else []
    server(APP, "--workers", "1", "-b", f"unix:{first}", "--uds", second, *flags,
           address=False, uds=first)
    # --uds beside --bind is not served; every unix socket bound gets the mode.
    assert stat.S_IMODE(os.stat(first).st_mode) == mode
    assert not os.path.exists(second)


@pytest.mark.parametrize("given", ["abc", "888", "1777"])
def test_bad_uds_permissions(given):
    assert_one_line_and_exit_1(fails_to_start("--uds-permissions", given), "--uds-permissions",
                               given)


def test_uds_permissions_apply_to_uds_too(server, tmp_path):
    path = str(tmp_path / "uds.sock")
    server(APP, "--workers", "1", "--uds", path, "--uds-permissions", "600", address=False,
           uds=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ask(uds=path)["server"] == [path, None]


def test_stale_socket_file_is_replaced(server, tmp_path):
    path = str(tmp_path / "stale.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.listen(1)
    dead.close()  # as a server that died: the file stays, nobody listens
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    s = server(APP, "--workers", "1", "-b", f"unix:{path}", address=False, uds=path)
    assert ask(uds=path)["pid"] != s.pid
    s.terminate()
    assert s.wait(20) == 0
    assert not os.path.exists(path), "removed on exit"


def test_live_socket_is_refused_and_left_alone(tmp_path):
    path = str(tmp_path / "live.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(path)
        live.listen(4)
        done = fails_to_start("-b", f"unix:{path}")
        assert_one_line_and_exit_1(done, f"unix:{path}", "a server is listening on it")
        # Still the live server's.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)


def test_a_file_that_is_not_a_socket_is_never_removed(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    done = fails_to_start("-b", f"unix:{path}")
    assert_one_line_and_exit_1(done, f"unix:{path}", "Address already in use")
    assert path.read_text() == "keep me"


# ---------------------------------------------------------------- --pid

def test_pid_file_is_written_after_every_bind_and_removed_on_exit(server, tmp_path):
    port = free_port()
    path = str(tmp_path / "p.sock")
    pid_file = tmp_path / "server.pid"
    s = server(APP, "--workers", "1", "-b", f"127.0.0.1:{port}", "-b", f"unix:{path}",
               "--pid", str(pid_file), address=False, port=port)
    assert pid_file.read_text() == f"{s.pid}\n"
    assert ask(uds=path)["server"] == [path, None]
    s.terminate()
    assert s.wait(20) == 0
    assert not pid_file.exists()
    assert not os.path.exists(path)
