"""The hostile review's findings on the connection: each test fails on the
engine as it was before the fix (deadlock, memory, timeouts, abandoned tasks)."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import free_port

pytestmark = pytest.mark.subcorn_only


def read_response(sock: socket.socket) -> bytes:
    """Reads one response with a Content-Length body (or to the close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        while chunk := sock.recv(65536):
            body += chunk
        return head + b"\r\n\r\n" + body
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def split_upload(port: int, size: int, pause: float) -> bytes:
    """A POST whose body arrives `pause` seconds after its head."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % size)
        time.sleep(pause)
        sock.sendall(b"a" * size)
        return read_response(sock)


def test_split_uploads_through_worker_threads_do_not_deadlock(server):
    # A worker thread waiting for the body held the connection's wake mutex
    # while it took the GIL back; the shard thread held the GIL and waited for
    # that mutex: the interpreter hung for good.
    s = server("hardening_apps:wsgi_read_body", "--threads", "4", "--interface", "wsgi")
    deadline = time.monotonic() + 90
    size = 300_000

    def one(_):
        return split_upload(s.port, size, 0.1)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(200)]
        answers = [f.result(timeout=max(1, deadline - time.monotonic())) for f in futures]
    expected = b"%d %s" % (size, hashlib.sha256(b"a" * size).hexdigest().encode())
    bad = [a for a in answers if not (a.startswith(b"HTTP/1.1 200") and a.endswith(expected))]
    assert not bad, bad[0]


def worker_rss(server) -> int:
    """Resident bytes of the process that serves (the supervisor's child)."""
    import psutil

    children = psutil.Process(server.pid).children(recursive=True)
    return sum(p.memory_info().rss for p in children)


def open_idle_connections(port: int, count: int) -> list[socket.socket]:
    """`count` keep-alive connections, each after one answered request."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        socks.append(sock)
    for sock in socks:
        assert read_response(sock).startswith(b"HTTP/1.1 200")
    return socks


def test_idle_keep_alive_connections_cost_little_memory_and_give_it_back(server):
    # Each idle connection kept its 64 KiB read buffer (68.7 KB each; 10,000
    # of them: 705 MB, not returned after they closed).
    import resource

    count = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * count + 1000), hard))
    s = server("hardening_apps:wsgi_hello", "--interface", "wsgi", "--timeout-keep-alive", "120")
    # Warm up the allocator and the app with a first batch, then measure a second.
    for sock in open_idle_connections(s.port, 200):
        sock.close()
    time.sleep(0.5)
    before = worker_rss(s)
    socks = open_idle_connections(s.port, count)
    time.sleep(0.5)
    during = worker_rss(s)
    per_connection = (during - before) / count
    for sock in socks:
        sock.close()
    time.sleep(3)
    after = worker_rss(s)
    print(f"rss before {before >> 10} KiB, with {count} idle {during >> 10} KiB "
          f"({per_connection:.0f} B each), after closing {after >> 10} KiB")
    assert per_connection <= 4096, f"{per_connection:.0f} bytes per idle connection"
    assert after - before <= max(2 << 20, (during - before) // 2), (before, during, after)


def test_wsgi_request_without_a_body_has_no_content_length(server):
    # httpbin echoed a "Content-Length: 0" request header nobody sent.
    import httpx

    s = server("wsgi_apps:environ_echo", "--interface", "wsgi")
    assert "CONTENT_LENGTH" not in httpx.get(s.url + "/").json()
    chunked = httpx.post(s.url + "/", content=iter([b"abc", b"de"])).json()
    assert chunked["CONTENT_LENGTH"] == "5"
    assert httpx.post(s.url + "/", content=b"").json()["CONTENT_LENGTH"] == "0"
