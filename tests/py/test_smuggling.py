"""A differential request-smuggling suite: raw byte streams, each with the
strict verdict (the statuses answered, in order, and whether the server then
closes the connection) and, for every request accepted, the app's own view of
it (method, path, query, host, body length), for ASGI and for WSGI.

What it shows: the app sees exactly the requests the client framed, no more.
Every view the app records goes to a log as well as into its answer, and the
log must hold exactly the expected requests, so a request smuggled in behind
another one is caught even when its answer is lost. A connection the verdict
leaves open must still be in step: a probe request sent after the case must
come out as the next request, with its own path.

The limits at the end are the --limit-request-* flags, at their defaults
(8190 bytes for the line and for a field, 100 fields) in the table and set
on the command line below it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import APPS, CLEAN_EXITS, IncompleteResponse, RawConn, Server, free_port

# The strict verdicts are subcorn's; uvicorn (httptools) accepts much of this.
pytestmark = pytest.mark.subcorn_only

H = b"Host: h\r\n"
PROBE = b"GET /probe HTTP/1.1\r\nHost: probe\r\n\r\n"


@dataclass(frozen=True)
class Seen:
    """One request as the app saw it."""
    method: str
    path: str
    query: str = ""
    host: str | None = "h"
    body_length: int = 0


@dataclass
class Case:
    raw: bytes
    statuses: list[int]
    closed: bool
    seen: list[Seen] = field(default_factory=list)


def get(path: bytes = b"/a", extra: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\n" + H + extra + b"\r\n"


def post(head: bytes, body: bytes, path: bytes = b"/a") -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\n" + H + head + b"\r\n" + body


CHUNKED = b"Transfer-Encoding: chunked\r\n"
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"



def target_for_line(n: int) -> bytes:
    """A target that makes "GET <target> HTTP/1.1" n bytes long."""
    return b"/" + b"a" * (n - 14)


LINE_AT_LIMIT = target_for_line(8190)
# A field counts its name and value: "X" and 8189 bytes make 8190.
FIELD_AT_LIMIT = b"X: " + b"v" * 8189 + b"\r\n"
FIELDS_99 = b"".join(b"X-%d: v\r\n" % i for i in range(99))  # with Host: 100

CASES: dict[str, Case] = {
    # --- the baseline: framing that is fine ---
    "plain get": Case(get(b"/a?x=1"), [200], False, [Seen("GET", "/a", "x=1")]),
    "pipelined behind a content-length body": Case(
        post(b"Content-Length: 5\r\n", b"hello") + get(b"/b"), [200, 200], False,
        [Seen("POST", "/a", body_length=5), Seen("GET", "/b")]),
    "pipelined behind a chunked body": Case(
        post(CHUNKED, HELLO_CHUNKED) + get(b"/b"), [200, 200], False,
        [Seen("POST", "/a", body_length=5), Seen("GET", "/b")]),
    "a request inside a body stays body": Case(
        post(b"Content-Length: %d\r\n" % len(SMUGGLED), SMUGGLED) + get(b"/b"), [200, 200], False,
        [Seen("POST", "/a", body_length=len(SMUGGLED)), Seen("GET", "/b")]),
    "chunk extensions are skipped": Case(
        post(CHUNKED, b"5;name=value;flag\r\nhello\r\n0;last=\"quoted\"\r\n\r\n") + get(b"/b"), [200, 200], False,
        [Seen("POST", "/a", body_length=5), Seen("GET", "/b")]),
    "trailers are dropped": Case(
        post(CHUNKED, b"5\r\nhello\r\n0\r\nHost: evil\r\nX: y\r\n\r\n") + get(b"/b"),
        [200, 200], False, [Seen("POST", "/a", body_length=5), Seen("GET", "/b")]),
    "content-length in trailers": Case(
        post(CHUNKED, b"5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n") + get(b"/b"), [400], True),
    "get with a body": Case(
        get(b"/a", b"Content-Length: 5\r\n") + b"hello" + get(b"/b"), [200, 200], False,
        [Seen("GET", "/a", body_length=5), Seen("GET", "/b")]),
    "content-length with whitespace": Case(
        post(b"Content-Length:  5 \r\n", b"hello"), [200], False, [Seen("POST", "/a", body_length=5)]),
    "transfer-encoding with a tab and any case": Case(
        post(b"Transfer-Encoding:\tChunked\r\n", HELLO_CHUNKED) + get(b"/b"), [200, 200], False,
        [Seen("POST", "/a", body_length=5), Seen("GET", "/b")]),
    # An upgrade to a protocol the server does not speak (RFC 9110 7.8's own
    # example) is served as HTTP, and what follows it is HTTP too. (A
    # WebSocket upgrade is taken, or refused with 400/426: test_websocket.py.)
    "upgrade not taken stays http": Case(
        get(b"/a", b"Connection: Upgrade\r\nUpgrade: IRC/6.9\r\n") + get(b"/b"), [200, 200], False,
        [Seen("GET", "/a"), Seen("GET", "/b")]),
    "nothing after connection close": Case(
        get(b"/a", b"Connection: close\r\n") + get(b"/b"), [200], True, [Seen("GET", "/a")]),

    # --- CL.TE, TE.CL and TE.TE ---
    "cl.te": Case(post(b"Content-Length: 6\r\n" + CHUNKED, b"0\r\n\r\nG"), [400], True),
    "te.cl": Case(post(CHUNKED + b"Content-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n"), [400], True),
    "te.te chunked then other": Case(
        post(CHUNKED + b"Transfer-Encoding: x\r\n", HELLO_CHUNKED), [400], True),
    "te.te other then chunked": Case(
        post(b"Transfer-Encoding: x\r\n" + CHUNKED, HELLO_CHUNKED), [501], True),
    "te.te xchunked": Case(post(b"Transfer-Encoding: xchunked\r\n", HELLO_CHUNKED), [400], True),
    "te.te quoted": Case(post(b'Transfer-Encoding: "chunked"\r\n', HELLO_CHUNKED), [400], True),
    "te.te chunked, identity": Case(post(b"Transfer-Encoding: chunked, identity\r\n", HELLO_CHUNKED), [400], True),
    "te.te space before colon": Case(post(b"Transfer-Encoding : chunked\r\n", HELLO_CHUNKED), [400], True),
    "te.te folded": Case(post(b"X: y\r\n Transfer-Encoding: chunked\r\n", HELLO_CHUNKED), [400], True),
    "te in http/1.0": Case(
        b"POST /a HTTP/1.0\r\nHost: h\r\n" + CHUNKED + b"\r\n" + HELLO_CHUNKED, [400], True),
    # Not Transfer-Encoding: no body, and what follows is a broken request line.
    "te.te underscore": Case(
        post(b"Transfer_Encoding: chunked\r\n", HELLO_CHUNKED), [200, 400], True, [Seen("POST", "/a")]),

    # --- Content-Length ---
    "duplicate content-length, same value": Case(
        post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"), [400], True),
    "duplicate content-length, other value": Case(
        post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"), [400], True),
    "content-length list": Case(post(b"Content-Length: 5, 5\r\n", b"hello"), [400], True),
    "content-length with a sign": Case(post(b"Content-Length: +5\r\n", b"hello"), [400], True),
    "content-length in hex": Case(post(b"Content-Length: 0x5\r\n", b"hello"), [400], True),

    # --- line ends, folding, control bytes ---
    "obs-fold": Case(get(b"/a", b"X: a\r\n b\r\n"), [400], True),
    "bare lf line ends": Case(b"GET /a HTTP/1.1\nHost: h\n\n", [400], True),
    "bare lf in the head": Case(b"GET /a HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", [400], True),
    "bare cr in the head": Case(b"GET /a HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", [400], True),
    "bare lf in chunk framing": Case(post(CHUNKED, b"5\nhello\n0\n\n"), [400], True),
    "nul in a field value": Case(get(b"/a", b"X: a\x00b\r\n"), [400], True),
    "nul in the target": Case(b"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n", [400], True),
    "nul in the method": Case(b"G\x00ET /a HTTP/1.1\r\nHost: h\r\n\r\n", [400], True),
    "ctl in a field value": Case(get(b"/a", b"X: a\x01b\r\n"), [400], True),
    "del in a field value": Case(get(b"/a", b"X: a\x7fb\r\n"), [400], True),
    "ctl in a field name": Case(get(b"/a", b"X\x01Y: a\r\n"), [400], True),

    # --- chunk sizes and extensions ---
    "chunk size overflow": Case(post(CHUNKED, b"1ffffffffffffffff\r\nhello\r\n0\r\n\r\n"), [400], True),
    "chunk size past the body limit": Case(post(CHUNKED, b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n"), [413], True),
    "chunk size in 0x": Case(post(CHUNKED, b"0x5\r\nhello\r\n0\r\n\r\n"), [400], True),
    "chunk size negative": Case(post(CHUNKED, b"-5\r\nhello\r\n0\r\n\r\n"), [400], True),
    "chunk size then space": Case(post(CHUNKED, b"5 \r\nhello\r\n0\r\n\r\n"), [400], True),
    "chunk longer than its size": Case(post(CHUNKED, b"3\r\nhello\r\n0\r\n\r\n"), [400], True),
    "chunk extension with a bare lf": Case(post(CHUNKED, b"5;a=b\nhello\r\n0\r\n\r\n"), [400], True),
    "chunk extension with nul": Case(post(CHUNKED, b"5;a=\x00\r\nhello\r\n0\r\n\r\n"), [400], True),

    # --- CONNECT: not a proxy ---
    "connect with a body": Case(
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)
        + SMUGGLED, [501], True),
    "connect then tunnel bytes": Case(
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n" + SMUGGLED, [501], True),

    # --- request targets ---
    "absolute-form": Case(
        b"GET http://a.example/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n", [200], False,
        [Seen("GET", "/p", "q=1", "a.example")]),
    "absolute-form without a path": Case(
        b"GET http://a.example:8080?x=1 HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", [200], False,
        [Seen("GET", "/", "x=1", "a.example:8080")]),
    "absolute-form in http/1.0 without host": Case(
        b"GET http://a.example/p HTTP/1.0\r\n\r\n", [200], True, [Seen("GET", "/p", host="a.example")]),
    "absolute-form with userinfo": Case(
        b"GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", [400], True),
    "absolute-form of another scheme": Case(
        b"GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", [400], True),
    "asterisk-form for options": Case(
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", [200], False, [Seen("OPTIONS", "*")]),
    "asterisk-form for get": Case(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", [400], True),
    "fragment": Case(get(b"/a#frag"), [400], True),

    # --- Host ---
    "no host": Case(b"GET /a HTTP/1.1\r\n\r\n", [400], True),
    "two hosts": Case(b"GET /a HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", [400], True),
    "two hosts in any case": Case(b"GET /a HTTP/1.1\r\nHost: h\r\nhOST: evil\r\n\r\n", [400], True),
    "empty host": Case(b"GET /a HTTP/1.1\r\nHost:\r\n\r\n", [400], True),
    "host with a space": Case(b"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", [400], True),
    "host with a path": Case(b"GET /a HTTP/1.1\r\nHost: a/b\r\n\r\n", [400], True),
    "host with userinfo": Case(b"GET /a HTTP/1.1\r\nHost: u@a\r\n\r\n", [400], True),
    "host with a bad port": Case(b"GET /a HTTP/1.1\r\nHost: a:80x\r\n\r\n", [400], True),
    "host as an ipv6 literal": Case(
        b"GET /a HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n", [200], False, [Seen("GET", "/a", host="[::1]:8000")]),
    "http/1.0 without host": Case(b"GET /a HTTP/1.0\r\n\r\n", [200], True, [Seen("GET", "/a", host=None)]),

    # --- limits at their defaults ---
    "request line at the limit": Case(get(LINE_AT_LIMIT), [200], False, [Seen("GET", LINE_AT_LIMIT.decode())]),
    "request line over the limit": Case(get(LINE_AT_LIMIT + b"a"), [414], True),
    "field at the limit": Case(get(b"/a", FIELD_AT_LIMIT), [200], False, [Seen("GET", "/a")]),
    "field over the limit": Case(get(b"/a", b"XY: " + b"v" * 8189 + b"\r\n"), [431], True),
    "fields at the limit": Case(get(b"/a", FIELDS_99), [200], False, [Seen("GET", "/a")]),
    "fields over the limit": Case(get(b"/a", FIELDS_99 + b"X-last: v\r\n"), [431], True),
    "head over 64 KiB": Case(get(b"/a", b"".join(b"X-%d: %s\r\n" % (i, b"v" * 8000) for i in range(9))),
                             [431], True),
    "pipelined behind a body, then over the line limit": Case(
        post(b"Content-Length: 5\r\n", b"hello") + get(LINE_AT_LIMIT + b"a"), [200, 414], True,
        [Seen("POST", "/a", body_length=5)]),

    # --- methods ---
    "unknown method": Case(b"FROB /a HTTP/1.1\r\nHost: h\r\n\r\n", [501], True),
    "lowercase method": Case(b"get /a HTTP/1.1\r\nHost: h\r\n\r\n", [501], True),
    "pipelined unknown method": Case(get(b"/a") + b"FROB /b HTTP/1.1\r\nHost: h\r\n\r\n", [200, 501], True,
                                     [Seen("GET", "/a")]),
    "a token without a target": Case(b"GARBAGE\r\n\r\n", [400], True),
    "tls handshake": Case(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", [400], True),
    # The whole preface starts HTTP/2 (test_http2*.py); one that differs in
    # its last bytes, or an HTTP/1.1 request claiming version 2.0, is a bad
    # HTTP/1.1 request.
    "http/2 preface, not quite": Case(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", [400], True),
    "http/1 request line with version 2.0": Case(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", [400], True),
}


@dataclass
class Echo:
    server: Server
    log: Path
    interface: str

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture(scope="module", params=["asgi", "wsgi"])
def echo(request, tmp_path_factory):
    """One server per interface for the whole table (a server per case would
    take minutes); each case has a connection of its own."""
    logdir = tmp_path_factory.mktemp(f"smuggling-{request.param}")
    log = logdir / "seen.jsonl"
    log.touch()
    port = free_port()
    args = [f"smuggling_echo:{request.param}_app", "--app-dir", str(APPS), "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]
    s = Server(args, logdir, env={"SMUGGLING_LOG": str(log)}, port=port).start()
    try:
        s.wait_ready()
        yield Echo(s, log, request.param)
    finally:
        code = s.stop()
        print(s.describe())
    assert code in CLEAN_EXITS, f"server exited with {code}"


def views(seen: list[Seen], first_seq: int, port: int) -> list[dict]:
    return [{"port": port, "seq": first_seq + i, "method": s.method, "path": s.path, "query": s.query,
             "host": s.host, "body_length": s.body_length} for i, s in enumerate(seen)]


@pytest.mark.parametrize("name", CASES)
def test_smuggling(echo, name):
    case = CASES[name]
    logged = echo.log_lines()
    with RawConn(echo.server.port, timeout=5) as c:
        port = c.local_port
        # The app counts requests per client port, which an earlier case may have had.
        first = 1 + sum(1 for v in logged if v["port"] == port)
        try:
            c.send(case.raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early; its answer is still there to read
        responses = []
        for _ in case.statuses:
            try:
                responses.append(c.read_response())
            except IncompleteResponse:
                break
        assert [r.status for r in responses] == case.statuses, responses
        expected = views(case.seen, first, port)
        if case.closed:
            try:
                rest = c.read_until_close(timeout=5)
            except TimeoutError:
                pytest.fail(f"connection left open after {case.statuses}")
            assert rest == b"", f"more after the verdict: {rest[:300]!r}"
        else:
            # Still in step: the next request is the probe, and only it.
            c.send(PROBE)
            probe = c.read_response()
            assert probe.status == 200
            expected += views([Seen("GET", "/probe", host="probe")], first + len(case.seen), port)
            responses.append(probe)
    answered = [json.loads(r.body) for r in responses if r.status == 200]
    assert answered == expected
    # The log holds what the app saw, answered or not: exactly the framed requests.
    assert echo.log_lines()[len(logged):] == expected


# --- the --limit-request-* flags reach the parser -----------------------------

def status_of(port: int, raw: bytes) -> int:
    with RawConn(port, timeout=5) as c:
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return c.read_response().status


def test_limit_flags_set_the_limits(server):
    s = server("smuggling_echo:asgi_app", "--limit-request-line", "100", "--limit-request-fields", "5",
               "--limit-request-field-size", "50", "--limit-request-body", "10")
    line = lambda n: get(target_for_line(n))  # noqa: E731
    fields = lambda n: get(b"/a", b"".join(b"X-%d: v\r\n" % i for i in range(n - 1)))  # noqa: E731
    field = lambda n: get(b"/a", b"X: " + b"v" * (n - 1) + b"\r\n")  # noqa: E731  (name + value = n)
    cases = [
        (line(100), 200), (line(101), 414),
        (fields(5), 200), (fields(6), 431),
        (field(50), 200), (field(51), 431),
        (post(b"Content-Length: 10\r\n", b"0123456789"), 200),
        (post(b"Content-Length: 11\r\n", b"0123456789!"), 413),
        (post(CHUNKED, b"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"), 200),
        (post(CHUNKED, b"5\r\n01234\r\n6\r\n56789!\r\n0\r\n\r\n"), 413),
    ]
    got = [(raw[:40], status_of(s.port, raw)) for raw, _ in cases]
    assert got == [(raw[:40], status) for raw, status in cases]


def test_limit_flags_zero_means_no_limit_but_the_head(server):
    s = server("smuggling_echo:asgi_app", "--limit-request-line", "0", "--limit-request-fields", "0",
               "--limit-request-field-size", "0", "--limit-request-body", "0")
    cases = [
        (get(b"/" + b"a" * 60_000), 200),  # far past 8190, within 64 KiB
        (get(b"/a", b"".join(b"X-%d: v\r\n" % i for i in range(500))), 200),
        (get(b"/a", b"X: " + b"v" * 60_000 + b"\r\n"), 200),
        (post(b"Content-Length: 2000000\r\n", b"v" * 2_000_000), 200),
        (get(b"/" + b"a" * 70_000), 431),  # the head's own limit stays
    ]
    got = [(raw[:40], status_of(s.port, raw)) for raw, _ in cases]
    assert got == [(raw[:40], status) for raw, status in cases]


def test_the_server_goes_on_after_every_refusal(echo):
    # Each case above had its own connection; the server still serves.
    with RawConn(echo.server.port) as c:
        c.send(get(b"/after"))
        r = c.read_response()
    assert r.status == 200
    assert json.loads(r.body)["path"] == "/after"
