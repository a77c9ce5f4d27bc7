"""What every example must do through the server; each check takes a running
AppServer and fails with the server's log attached."""

from __future__ import annotations

import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from appserver import AppServer
from catalog import Example

BOOM = "boom: this view fails on purpose"  # what each example's /api/boom raises


def client(server: AppServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=20)


def expect(response: httpx.Response, status: int, server: AppServer) -> httpx.Response:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: {response.status_code}, "
        f"expected {status}: {response.text[:500]}\n{server.describe()}")
    return response


def create(c: httpx.Client, server: AppServer, title: str, body: str = "") -> int:
    note_id = expect(c.post("/api/notes", json={"title": title, "body": body}), 201, server).json()["id"]
    assert isinstance(note_id, int)
    return note_id


def check_crud(server: AppServer) -> None:
    with client(server) as c:
        assert isinstance(expect(c.get("/api/notes"), 200, server).json()["notes"], list)
        created = {create(c, server, title, body): (title, body)
                   for title, body in [("first", "hello"), ("zweite Notiz \u00e4\u00f6\u00fc", ""),
                                       ("third", "line 1\nline 2")]}
        listed = {n["id"]: (n["title"], n["body"]) for n in c.get("/api/notes").json()["notes"]}
        assert {i: listed.get(i) for i in created} == created
        expect(c.post("/api/notes", content=b"not json", headers={"content-type": "application/json"}),
               400, server)
        expect(c.post("/api/notes", json={"body": "no title"}), 400, server)


def check_concurrent_writes(server: AppServer, example: Example, clients: int = 50,
                            per_client: int = 10) -> None:
    """clients x per_client POSTs at once; every one must succeed and be stored once."""
    def one_client(i: int) -> list[tuple[int | None, object]]:
        outcomes: list[tuple[int | None, object]] = []
        with client(server) as c:
            for j in range(per_client):
                try:
                    r = c.post("/api/notes", json={"title": f"load-{i}-{j}", "body": "concurrent"})
                    outcomes.append((r.status_code, r.json()["id"] if r.status_code == 201 else r.text[:300]))
                except (httpx.HTTPError, ValueError) as error:
                    outcomes.append((None, repr(error)))
        return outcomes

    with ThreadPoolExecutor(clients) as pool:
        outcomes = [o for per in pool.map(one_client, range(clients)) for o in per]
    failed = Counter((status, str(what)[:300]) for status, what in outcomes if status != 201)
    assert not failed, (f"{failed.total()} of {len(outcomes)} POSTs failed; the answers, most frequent "
                        f"first: {failed.most_common(3)}\n{server.describe()}")
    assert len({note_id for _, note_id in outcomes}) == clients * per_client
    with psycopg.connect(server.env["DATABASE_URL"]) as conn:
        row = conn.execute(f"SELECT count(*), count(DISTINCT title) FROM {example.table} "
                           "WHERE title LIKE 'load-%'").fetchone()
    assert row == (clients * per_client, clients * per_client)


def check_clean_log(server: AppServer, paths: tuple[str, ...] = ("/api/notes", "/healthz")) -> None:
    """Several requests (on separate connections too, so both workers serve
    some), then no traceback and no daemon-thread complaint in the output."""
    for i in range(6):
        with client(server) as c:
            create(c, server, f"clean log {i}")
            for path in paths:
                expect(c.get(path), 200, server)
    for bad in ("Traceback", "daemon threads"):
        assert bad not in server.log, f"{bad!r} in the output\n{server.describe(200)}"


def check_view_exception(server: AppServer) -> None:
    """A view that raises: 500, the traceback in the log, and the next requests work."""
    with client(server) as c:
        expect(c.get("/api/boom"), 500, server)
        assert server.wait_for_log(BOOM), f"the exception is not logged\n{server.describe()}"
        assert "Traceback" in server.log, server.describe()
        expect(c.get("/healthz"), 200, server)
        create(c, server, "after a failing view")
    with client(server) as c:  # and on a new connection
        expect(c.get("/api/notes"), 200, server)


def check_abandoned_upload(server: AppServer, rounds: int = 3) -> None:
    """A client announces a 1 MB body, sends 1000 bytes and hangs up; the worker
    must not stay stuck on that request (run it with one worker)."""
    head = (b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n")
    for i in range(rounds):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(head + b'{"title": "' + b"x" * 989)
        with client(server) as c:
            expect(c.get("/healthz"), 200, server)
            create(c, server, f"after abandoned upload {i}")
    server.check_alive()


def check_database_down(server: AppServer, example: Example) -> None:
    """The app answers its own error while its database is down, and the server
    keeps serving what does not need the database."""
    with client(server) as c:
        for request in (c.build_request("GET", "/api/notes"),
                        c.build_request("POST", "/api/notes", json={"title": "lost"})):
            r = expect(c.send(request), example.db_down_status, server)
            assert example.db_down_body in r.text, f"not the app's own error: {r.text[:300]}\n{server.describe()}"
        assert server.wait_for_log(example.db_down_log), f"no {example.db_down_log!r} in the log\n{server.describe()}"
        expect(c.get("/healthz"), 200, server)
    server.check_alive()
