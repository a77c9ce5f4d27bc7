"""Attacks a public HTTP/2 server must survive (issue 9, item 8). Each runs
against the real server; then a normal client on a new connection must be
served within a deadline, and the server's resident memory must not have
grown past a bound. Where the attack has a cheap answer (the connection told
to calm down, a stream refused) the test wants it too.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from h2wire import (E, F, H2Client, RawH2, S, T, data, frame, ping, request_headers, rst_stream,
                    settings, tree_rss)

APP = "h2_apps:app"
MiB = 1024 * 1024
SERVED_WITHIN = 3.0  # seconds a normal client may wait after an attack
GROWTH_BOUND = 96 * MiB  # what one attacking connection may cost the server


def warmed_rss(s) -> int:
    """The server's memory once it has served a request (imports done)."""
    with H2Client(s.port) as c:
        assert c.get("/scope").status == 200
    return tree_rss(s.pid)


def assert_still_served(s, before: int) -> None:
    t0 = time.monotonic()
    with H2Client(s.port, timeout=SERVED_WITHIN) as c:
        r = c.get("/scope", timeout=SERVED_WITHIN)
    elapsed = time.monotonic() - t0
    assert r.status == 200 and json.loads(r.body)["http_version"] == "2"
    assert elapsed < SERVED_WITHIN, f"a normal client waited {elapsed:.1f}s"
    grown = tree_rss(s.pid) - before
    assert grown < GROWTH_BOUND, f"the server grew by {grown / MiB:.0f} MiB"


def flood(c: RawH2, chunks, seconds: float = 20) -> tuple[int, str]:
    """Sends the chunks until done, the server closes, or it stops reading
    for 2 s. Returns (bytes sent, how it ended)."""
    c.sock.settimeout(2)
    sent = 0
    deadline = time.monotonic() + seconds
    for chunk in chunks:
        try:
            c.sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return sent, "closed"
        except (socket.timeout, TimeoutError):
            return sent, "stopped reading"
        sent += len(chunk)
        if time.monotonic() > deadline:
            return sent, "time"
    return sent, "done"


def ended_by_server(c: RawH2, timeout: float = 10) -> list:
    """The frames up to the server's close (GOAWAY first, if it sent one);
    fails if the connection is still open after `timeout`."""
    try:
        return c.frames_until_close(timeout)
    except TimeoutError:
        pytest.fail(f"the attacking connection was still open after {timeout}s; "
                    f"last frames {c.seen[-5:]}")


def goaway_codes(frames) -> list[int]:
    return [f.error_code for f in frames if f.type == T.GOAWAY]


# ---------------------------------------------------------------- the attacks

def test_rapid_reset_cve_2023_44487(server):
    """Thousands of HEADERS + RST_STREAM pairs: each costs the server a
    request and the client nothing. The connection must be cut off (GOAWAY)
    before it has made the server start them all."""
    s = server(APP)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        count = 20000

        def pairs():
            batch = b""
            for i in range(count):
                sid = 2 * i + 1
                batch += c.headers(sid, request_headers("/scope")) + rst_stream(sid)
                if len(batch) > 32768:
                    yield batch
                    batch = b""
            yield batch

        sent, how = flood(c, pairs())
        frames = ended_by_server(c)
    assert_still_served(s, before)
    codes = goaway_codes(frames)
    # nghttp2's reset rate limit (what subcorn uses) ends with INTERNAL_ERROR.
    assert codes and codes[0] in (E.ENHANCE_YOUR_CALM, E.PROTOCOL_ERROR, E.INTERNAL_ERROR), \
        f"no GOAWAY for {count} reset streams (sending ended: {how}); frames {frames[-5:]}"


def test_continuation_flood_cve_2024_27316(server):
    """HEADERS without END_HEADERS, then CONTINUATION frames forever: the
    server must not buffer the header block without bound."""
    s = server(APP)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        piece = (b"\x00\x07x-flood\x7f\x21" + b"a" * 160) * 96  # literals, about 16 KB
        total = 64 * MiB

        def frames():
            yield frame(T.HEADERS, F.END_STREAM, 1, c.block(request_headers("/scope")))
            for _ in range(total // len(piece)):
                yield frame(T.CONTINUATION, 0, 1, piece)

        sent, how = flood(c, frames())
        assert how != "done", "the server read 64 MiB of one header block"
        assert tree_rss(s.pid) - before < GROWTH_BOUND
        frames_seen = ended_by_server(c)
    assert not any(f.type == T.HEADERS and f.stream_id == 1 and f.header(b":status") == b"200"
                   for f in frames_seen), "the flooded request was served"
    assert_still_served(s, before)


def test_hpack_bomb(server):
    """A 4 KB header value in the dynamic table, then blocks that repeat its
    one-byte index thousands of times: 16 KB on the wire decode to 64 MB.
    The request must be refused, not decoded into memory."""
    s = server(APP)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        allowed = c.server_settings.get(S.MAX_HEADER_LIST_SIZE)
        value = b"b" * 4000
        # Literal with incremental indexing, new name: becomes dynamic index 62.
        insert = b"\x40\x06x-bomb" + encode_length(len(value)) + value
        base = c.block(request_headers("/scope"))
        refusals = []
        c.send(c.headers(1, block=base + insert))
        first = c.response(1)
        assert first.status == 200  # one 4 KB header is fine
        for i in range(20):
            sid = 3 + 2 * i
            bomb = base + b"\xbe" * 16000  # index 62, 16000 times
            if not c.try_send(c.headers(sid, block=bomb)):
                break
            f = c.wait_for(lambda f: f.type == T.GOAWAY or (f.stream_id == sid and f.type in (
                T.RST_STREAM, T.HEADERS)), timeout=10, what=f"an answer to bomb {sid}")
            refusals.append(f)
            if f.type == T.GOAWAY:
                break
        assert tree_rss(s.pid) - before < GROWTH_BOUND
    assert refusals, "no bomb was answered"
    for f in refusals:
        if f.type == T.HEADERS:
            assert f.header(b":status") == b"431", f"a bomb was served: {f!r}"
    assert allowed is None or allowed <= 1024 * 1024, allowed
    assert_still_served(s, before)


def encode_length(n: int) -> bytes:
    """An HPACK string length (7-bit prefix, no Huffman)."""
    if n < 127:
        return bytes([n])
    out, n = bytearray([127]), n - 127
    while n >= 128:
        out.append((n % 128) | 0x80)
        n //= 128
    out.append(n)
    return bytes(out)


def test_settings_flood(server):
    """SETTINGS frames, each owed an ACK, from a client that never reads."""
    s = server(APP)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        one = settings((S.ENABLE_PUSH, 0))
        sent, how = flood(c, (one * 4096 for _ in range(100)))
        assert tree_rss(s.pid) - before < GROWTH_BOUND
    assert_still_served(s, before)


def test_ping_flood(server):
    """PINGs, each owed an ACK, from a client that never reads."""
    s = server(APP)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        one = ping(b"pingpong")
        sent, how = flood(c, (one * 4096 for _ in range(100)))
        assert tree_rss(s.pid) - before < GROWTH_BOUND
    assert_still_served(s, before)


def test_settings_and_ping_floods_end_the_connection(server):
    """Floods that cost only the server are cut off with GOAWAY."""
    s = server(APP)
    before = warmed_rss(s)
    for one in (settings((S.ENABLE_PUSH, 0)), ping(b"pingpong")):
        with RawH2(s.port) as c:
            flood(c, (one * 4096 for _ in range(100)))
            try:
                frames = c.frames_until_close(10)
            except TimeoutError:
                frames = None
        assert_still_served(s, before)
        assert frames is not None, f"{T(one[3]).name} flood: the connection was kept open"
        codes = goaway_codes(frames)
        assert codes and codes[-1] == E.ENHANCE_YOUR_CALM, f"{T(one[3]).name}: {frames[-3:]}"


def test_empty_data_flood(server):
    """Empty DATA frames on an open stream: no body, all cost."""
    s = server(APP)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        c.send(c.headers(1, request_headers("/echo", "POST"), end_stream=False))
        empty = data(1, b"")
        sent, how = flood(c, (empty * 4096 for _ in range(100)))
        assert_still_served(s, before)
        frames = ended_by_server(c)
    codes = goaway_codes(frames)
    assert codes and codes[0] in (E.ENHANCE_YOUR_CALM, E.PROTOCOL_ERROR), frames[-3:]


def test_client_that_never_opens_its_window(server, events):
    """Streams whose client never sends WINDOW_UPDATE nor reads: the apps'
    send() waits, memory stays bounded, others are served, and the server
    gives the stalled streams up (--timeout-request)."""
    s = server(APP, "--timeout-request", "3", env=events.env)
    before = warmed_rss(s)
    limit = 32 * MiB
    with RawH2(s.port) as c:
        for i in range(4):
            c.request(2 * i + 1, f"/flood?id=stall{i}&limit={limit}")
        time.sleep(2)
        sent = [max((e["sent"] for e in events.all("progress") if e["id"] == f"stall{i}"),
                    default=0) for i in range(4)]
        assert max(sent) < 16 * MiB, f"send() took {sent} bytes with no window"
        assert_still_served(s, before)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ended = {e["id"] for e in events.all("flood_ended")}
            if len(ended) == 4:
                break
            time.sleep(0.2)
        assert {e["id"] for e in events.all("flood_ended")} == {f"stall{i}" for i in range(4)}, \
            "the stalled streams were never given up"
    assert not events.all("flood_done")


def test_streams_above_the_concurrency_limit(server, events):
    s = server(APP, "--http2-max-concurrent-streams", "10", env=events.env)
    before = warmed_rss(s)
    with RawH2(s.port) as c:
        assert c.server_settings.get(S.MAX_CONCURRENT_STREAMS) == 10, c.server_settings
        ids = [2 * i + 1 for i in range(50)]
        c.send(b"".join(c.headers(sid, request_headers(f"/wait-disconnect?id={sid}"))
                        for sid in ids))
        refused: set[int] = set()
        goaway = None
        deadline = time.monotonic() + 10
        while len(refused) < 40 and goaway is None and time.monotonic() < deadline:
            try:
                f = c.read_frame(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            if f is None:
                break
            if f.type == T.RST_STREAM:
                assert f.error_code in (E.REFUSED_STREAM, E.PROTOCOL_ERROR), f
                refused.add(f.stream_id)
            elif f.type == T.GOAWAY:
                goaway = f
        time.sleep(0.5)
        started = {e["id"] for e in events.all("started")}
        assert len(started) <= 10, f"{len(started)} apps started with a limit of 10"
        assert len(refused) >= 40 or goaway is not None, \
            f"only {len(refused)} of the 40 streams above the limit were refused"
        if goaway is None:
            assert not refused & {int(x) for x in started}
    assert_still_served(s, before)
