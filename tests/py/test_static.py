"""Static files from the engine (--static URL_PREFIX:DIR, --static-max-age)
and the ASGI pathsend and zerocopysend extensions (issue 11 item 5).

The static tests check what reaches the wire with raw sockets where a client
would tidy the request up (a path with "..", a backslash, a NUL), and that
nothing under a prefix ever reaches the app (it records every call). The
file extensions are checked with a real Starlette FileResponse and a raw
ASGI app, over HTTP/1.1, TLS and HTTP/2.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest

from h2wire import make_tls
from harness import RawConn, run_failing

pytestmark = pytest.mark.subcorn_only

APP = "static_apps:app"
BIG = 3 * 1024 * 1024 + 17  # several sendfile() calls and socket-buffer fulls


def pattern(n: int) -> bytes:
    """Bytes that differ from their neighbours (a byte skipped or sent twice shows)."""
    return hashlib.shake_256(b"subcorn").digest(n)


def kernel_has_openat2() -> bool:
    """openat2() (Linux 5.6): symlinks inside DIR are followed only with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(437, -100, b".", None, 0)  # SYS_openat2, AT_FDCWD
    return not (result < 0 and ctypes.get_errno() == errno.ENOSYS)


@pytest.fixture
def tree(tmp_path) -> Path:
    """DIR with a file of each kind the tests need, and things beside it
    that must never be served."""
    root = tmp_path / "public"
    (root / "docs").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "sub" / ".hidden").mkdir(parents=True)
    (root / "deep").mkdir()
    (root / "hello.txt").write_bytes(b"hello, static world\n")
    (root / "app.js").write_bytes(b"console.log('plain');\n" * 20)
    (root / "app.js.br").write_bytes(b"BROTLI-BYTES")
    (root / "app.js.gz").write_bytes(b"GZIP-BYTES")
    (root / "plain.css").write_bytes(b"body { color: red }\n")
    (root / "logo.png").write_bytes(b"\x89PNG fake")
    (root / "logo.png.gz").write_bytes(b"never chosen")
    (root / "big.bin").write_bytes(pattern(BIG))
    (root / "docs" / "index.html").write_bytes(b"<h1>docs</h1>\n")
    (root / ".env").write_bytes(b"SECRET=1\n")
    (root / "sub" / ".hidden" / "x.txt").write_bytes(b"hidden\n")
    (root / "deep" / "a.txt").write_bytes(b"from public/deep\n")
    (tmp_path / "secret.txt").write_bytes(b"outside\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.txt").write_bytes(b"outside dir\n")
    (root / "link-in.txt").symlink_to("hello.txt")
    (root / "link-out.txt").symlink_to("../secret.txt")
    (root / "link-abs.txt").symlink_to(tmp_path / "secret.txt")
    (root / "dir-out").symlink_to("../outside")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_bytes(b"from other\n")
    return root


def static_server(server, tree, *flags, app=APP, events=None, **kwargs):
    env = events.env if events else None
    return server(app, "--static", f"/static:{tree}", *flags, env=env, **kwargs)


def get(s, path, headers=(), method="GET"):
    with RawConn(s.port) as c:
        c.request(method, path, headers)
        return c.read_response(head_request=method == "HEAD")


# ---------------------------------------------------------------- serving


def test_file_served_with_its_validators_and_never_reaches_the_app(server, tree, events):
    s = static_server(server, tree, events=events)
    r = get(s, "/static/hello.txt")
    assert r.status == 200
    assert r.body == b"hello, static world\n"
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.header("content-length") == "20"
    assert r.header("cache-control") == "public, max-age=3600"
    assert r.header("accept-ranges") == "bytes"
    assert r.header("vary") == "Accept-Encoding"
    etag = r.header("etag")
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    st = (tree / "hello.txt").stat()
    assert r.header("last-modified") == time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                      time.gmtime(int(st.st_mtime)))
    # Everything under the prefix is the engine's, found or not; the rest is the app's.
    for path in ("/static/hello.txt", "/static/missing.txt", "/static/../x", "/static/docs/"):
        get(s, path)
    assert get(s, "/elsewhere").body == b"app /elsewhere"
    assert get(s, "/staticfile").body == b"app /staticfile"  # not under "/static"
    events.wait_for("request", path="/staticfile")
    assert [e["path"] for e in events.all("request")] == ["/elsewhere", "/staticfile"]


def test_head_and_keep_alive(server, tree):
    s = static_server(server, tree)
    with RawConn(s.port) as c:
        c.request("HEAD", "/static/hello.txt")
        r = c.read_response(head_request=True)
        assert r.status == 200 and r.header("content-length") == "20"
        # No body came: the next answer on the same connection starts at once.
        c.request("GET", "/static/missing")
        assert c.read_response().status == 404
        c.request("GET", "/static/big.bin")
        assert c.read_response(timeout=20).body == pattern(BIG)
        c.request("GET", "/other")
        assert c.read_response().body == b"app /other"


def test_other_methods_are_405_with_allow(server, tree, events):
    s = static_server(server, tree, events=events)
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        r = get(s, "/static/hello.txt", method=method)
        assert r.status == 405, method
        assert r.header("allow") == "GET, HEAD"
    assert events.all("request") == []


def test_missing_files_and_directories(server, tree, events):
    s = static_server(server, tree, events=events)
    assert get(s, "/static/missing.txt").status == 404  # not the app's
    assert get(s, "/static/empty/").status == 404       # no listings
    assert get(s, "/static/empty").status == 404
    assert get(s, "/static/").status == 404             # DIR itself has no index.html
    assert get(s, "/static/hello.txt/").status == 404   # a file is no directory
    r = get(s, "/static/docs/")
    assert (r.status, r.body) == (200, b"<h1>docs</h1>\n")
    assert r.header("content-type") == "text/html; charset=utf-8"
    r = get(s, "/static/docs?v=2")
    assert (r.status, r.header("location")) == (301, "/static/docs/?v=2")
    assert events.all("request") == []


def test_longest_prefix_wins(server, tree):
    other = tree.parent / "other"
    s = static_server(server, tree, "--static", f"/static/deep:{other}")
    assert get(s, "/static/deep/a.txt").body == b"from other\n"
    assert get(s, "/static/hello.txt").body == b"hello, static world\n"
    assert get(s, "/static/deeper").status == 404


def test_from_the_environment_and_replaced_by_flags(server, tree):
    other = tree.parent / "other"
    env = {"SUBCORN_STATIC": f"/static:{tree},/other:{other}", "SUBCORN_STATIC_MAX_AGE": "5"}
    s = server(APP, env=env)
    assert get(s, "/static/hello.txt").header("cache-control") == "public, max-age=5"
    assert get(s, "/other/a.txt").body == b"from other\n"
    # A flag replaces the variable's list rather than adding to it.
    s = server(APP, "--static", f"/other:{other}", env=env)
    assert get(s, "/other/a.txt").body == b"from other\n"
    assert get(s, "/static/hello.txt").body == b"app /static/hello.txt"


def test_query_strings_are_ignored(server, tree):
    s = static_server(server, tree)
    assert get(s, "/static/hello.txt?v=123").body == b"hello, static world\n"


def test_max_age(server, tree):
    s = static_server(server, tree, "--static-max-age", "60")
    assert get(s, "/static/hello.txt").header("cache-control") == "public, max-age=60"


def test_no_cache_control_with_minus_one(server, tree):
    s = static_server(server, tree, "--static-max-age", "-1")
    assert get(s, "/static/hello.txt").header("cache-control") is None


# ---------------------------------------------------------------- conditional requests


def test_if_none_match_and_if_modified_since(server, tree):
    s = static_server(server, tree)
    first = get(s, "/static/hello.txt")
    etag, modified = first.header("etag"), first.header("last-modified")
    r = get(s, "/static/hello.txt", [("If-None-Match", etag)])
    assert r.status == 304 and r.body == b""
    assert r.header("etag") == etag and r.header("cache-control") == "public, max-age=3600"
    assert get(s, "/static/hello.txt", [("If-None-Match", '"other", ' + etag)]).status == 304
    assert get(s, "/static/hello.txt", [("If-None-Match", '"other"')]).status == 200
    assert get(s, "/static/hello.txt", [("If-Modified-Since", modified)]).status == 304
    assert get(s, "/static/hello.txt", [("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")]).status == 200
    # If-None-Match decides when both are sent.
    assert get(s, "/static/hello.txt", [("If-None-Match", '"other"'),
                                        ("If-Modified-Since", modified)]).status == 200
    assert get(s, "/static/hello.txt", [("If-Match", '"other"')]).status == 412


def test_a_changed_file_gets_a_new_etag(server, tree):
    s = static_server(server, tree)
    before = get(s, "/static/hello.txt").header("etag")
    # The same size, the same mtime, a new file (a deploy copying into place).
    st = (tree / "hello.txt").stat()
    (tree / "hello.new").write_bytes(b"HELLO, STATIC WORLD\n")
    os.utime(tree / "hello.new", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tree / "hello.new", tree / "hello.txt")
    r = get(s, "/static/hello.txt", [("If-None-Match", before)])
    assert r.status == 200 and r.body == b"HELLO, STATIC WORLD\n"
    assert r.header("etag") != before


# ---------------------------------------------------------------- ranges


def test_ranges(server, tree):
    s = static_server(server, tree)
    size = BIG
    r = get(s, "/static/big.bin", [("Range", "bytes=100-199")])
    assert r.status == 206
    assert r.header("content-range") == f"bytes 100-199/{size}"
    assert r.body == pattern(BIG)[100:200]
    r = get(s, "/static/big.bin", [("Range", "bytes=-10")])
    assert (r.status, r.body) == (206, pattern(BIG)[-10:])
    r = get(s, "/static/big.bin", [("Range", f"bytes={size - 5}-")])
    assert (r.status, r.body) == (206, pattern(BIG)[-5:])
    r = get(s, "/static/big.bin", [("Range", f"bytes={size}-")])
    assert r.status == 416
    assert r.header("content-range") == f"bytes */{size}"
    r = get(s, "/static/hello.txt", [("Range", "bytes=0-1,5-6")])
    assert (r.status, r.body) == (200, b"hello, static world\n")  # several: the whole file
    r = get(s, "/static/hello.txt", [("Range", "bytes=5-1")])
    assert r.status == 200  # invalid: ignored


def test_if_range(server, tree):
    s = static_server(server, tree)
    etag = get(s, "/static/hello.txt").header("etag")
    r = get(s, "/static/hello.txt", [("Range", "bytes=0-4"), ("If-Range", etag)])
    assert (r.status, r.body) == (206, b"hello")
    r = get(s, "/static/hello.txt", [("Range", "bytes=0-4"), ("If-Range", '"old"')])
    assert (r.status, r.body) == (200, b"hello, static world\n")


# ---------------------------------------------------------------- precompressed siblings


def test_precompressed_siblings_by_accept_encoding(server, tree):
    s = static_server(server, tree)
    plain = get(s, "/static/app.js")
    assert plain.body == (tree / "app.js").read_bytes()
    assert plain.header("content-encoding") is None
    assert plain.header("vary") == "Accept-Encoding"
    br = get(s, "/static/app.js", [("Accept-Encoding", "gzip, deflate, br, zstd")])
    assert (br.body, br.header("content-encoding")) == (b"BROTLI-BYTES", "br")
    assert br.header("content-type") == "text/javascript; charset=utf-8"  # the name asked for
    assert br.header("vary") == "Accept-Encoding"
    gz = get(s, "/static/app.js", [("Accept-Encoding", "br;q=0.5, gzip")])
    assert (gz.body, gz.header("content-encoding")) == (b"GZIP-BYTES", "gzip")
    assert len({plain.header("etag"), br.header("etag"), gz.header("etag")}) == 3
    # A 304 for the variant the client has, not for another one.
    assert get(s, "/static/app.js", [("Accept-Encoding", "br"),
                                     ("If-None-Match", br.header("etag"))]).status == 304
    assert get(s, "/static/app.js", [("Accept-Encoding", "gzip"),
                                     ("If-None-Match", br.header("etag"))]).status == 200
    # Without a sibling, identity; refused as well: 406.
    assert get(s, "/static/plain.css", [("Accept-Encoding", "br, gzip")]).header("content-encoding") is None
    r = get(s, "/static/plain.css", [("Accept-Encoding", "gzip, identity;q=0")])
    assert r.status == 406 and r.header("vary") == "Accept-Encoding"
    assert get(s, "/static/app.js", [("Accept-Encoding", "gzip, identity;q=0")]).body == b"GZIP-BYTES"
    # Images are compressed already: no sibling looked for, no Vary.
    png = get(s, "/static/logo.png", [("Accept-Encoding", "gzip")])
    assert (png.body, png.header("content-encoding"), png.header("vary")) == (b"\x89PNG fake", None, None)


# ---------------------------------------------------------------- traversal


@pytest.mark.parametrize("path", [
    "/static/../secret.txt",
    "/static/docs/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/docs%2f..%2f..%2fsecret.txt",
    "/static/..\\secret.txt",
    "/static/%5c..%5csecret.txt",
    "/static/hello.txt%00.png",
    "/static/%00",
    "/static/.env",
    "/static/%2eenv",
    "/static/sub/.hidden/x.txt",
    "/static/link-out.txt",
    "/static/link-abs.txt",
    "/static/dir-out/x.txt",
    "/static//etc/passwd",
])
def test_no_way_out_of_dir(server, tree, events, path):
    s = static_server(server, tree, events=events)
    with RawConn(s.port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"))
        r = c.read_response()
    assert r.status in (400, 404), (path, r.status)  # 400: the parser refused the target
    assert b"outside" not in r.body and b"SECRET" not in r.body and b"hidden" not in r.body
    assert events.all("request") == []


@pytest.mark.parametrize("path", ["/static/a%zz.txt", "/static/a%2", "/static/%"])
def test_malformed_escapes_are_400(server, tree, path):
    s = static_server(server, tree)
    assert get(s, path).status == 400


def test_symlink_inside_dir(server, tree):
    s = static_server(server, tree)
    r = get(s, "/static/link-in.txt")
    if kernel_has_openat2():  # resolved beneath DIR: followed
        assert (r.status, r.body) == (200, b"hello, static world\n")
    else:  # the O_NOFOLLOW walk follows none
        assert r.status == 404


# ---------------------------------------------------------------- start

def test_missing_dir_is_one_line_and_exit_1(tmp_path):
    r = run_failing(APP, "--static", f"/static:{tmp_path / 'nope'}")
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is not a directory" in lines[0], r.stderr


@pytest.mark.parametrize("spec, message", [
    ("static:{dir}", "expected URL_PREFIX:DIR"),
    ("/static", "expected URL_PREFIX:DIR"),
    ("/a b:{dir}", "expected URL_PREFIX:DIR"),
])
def test_bad_specs_are_one_line_and_exit_1(tmp_path, spec, message):
    r = run_failing(APP, "--static", spec.format(dir=tmp_path))
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_the_same_prefix_twice_is_refused(tmp_path):
    r = run_failing(APP, "--static", f"/s:{tmp_path}", "--static", f"/s/:{tmp_path}")
    assert r.returncode == 1 and "given twice" in r.stderr


# ---------------------------------------------------------------- transports, log, metrics


def test_processes_mode_and_relative_dir(server, tree):
    # A relative DIR is the server's directory's (the harness starts it in
    # tmp_path/server0); the worker processes get it made absolute.
    s = server(APP, "--static", "/static:../public", "--mode", "processes", workers=2)
    for _ in range(4):
        assert get(s, "/static/hello.txt").body == b"hello, static world\n"


@pytest.mark.parametrize("threads", ["1", "4"])
def test_under_a_wsgi_app(server, tree, threads):
    # The same route before any app: a WSGI app on the shard thread or on
    # worker threads (--threads) never sees a static request either.
    s = server("wsgi_apps:environ_echo", "--interface", "wsgi", "--threads", threads,
               "--static", f"/static:{tree}")
    r = get(s, "/static/big.bin", [("Range", "bytes=10-19")])
    assert (r.status, r.body) == (206, pattern(BIG)[10:20])
    assert get(s, "/static/hello.txt").body == b"hello, static world\n"
    assert get(s, "/elsewhere").status == 200


def test_tls_copy_path(server, tree, tmp_path):
    tls = make_tls(tmp_path / "tls")
    s = static_server(server, tree, *tls.server_flags)
    with httpx.Client(verify=tls.client_context(), http2=False, timeout=20) as client:
        r = client.get(f"https://127.0.0.1:{s.port}/static/big.bin")
        assert r.status_code == 200 and r.content == pattern(BIG)
        r = client.get(f"https://127.0.0.1:{s.port}/static/big.bin", headers={"Range": "bytes=7-"})
        assert r.status_code == 206 and r.content == pattern(BIG)[7:]


def test_http2_data_frames(server, tree, tmp_path):
    s = static_server(server, tree)
    with httpx.Client(http1=False, http2=True, timeout=20) as client:
        r = client.get(f"http://127.0.0.1:{s.port}/static/big.bin")
        assert r.http_version == "HTTP/2"
        assert r.status_code == 200 and r.content == pattern(BIG)
        assert r.headers["content-length"] == str(BIG)
        r = client.head(f"http://127.0.0.1:{s.port}/static/big.bin")
        assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", str(BIG))
        r = client.get(f"http://127.0.0.1:{s.port}/static/app.js", headers={"Accept-Encoding": "br"})
        assert r.headers["content-encoding"] == "br"
        etag = r.headers["etag"]
        r = client.get(f"http://127.0.0.1:{s.port}/static/app.js",
                       headers={"Accept-Encoding": "br", "If-None-Match": etag})
        assert r.status_code == 304
        # (httpx removes a literal "..": an encoded slash gets through it.)
        assert client.get(f"http://127.0.0.1:{s.port}/static/..%2fsecret.txt").status_code == 404


def test_access_log_and_metrics_count_static_answers(server, tree):
    from test_metrics import Scrape, fetch, wait_for
    from harness import free_port

    port = free_port()
    s = static_server(server, tree, "--metrics", "--metrics-port", str(port))
    wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10, "the server is ready")
    get(s, "/static/hello.txt")
    get(s, "/static/missing")
    get(s, "/static/hello.txt", [("Range", "bytes=0-1")])
    # (Generous waits: the machine running the tests may be busy.)
    wait_for(lambda: '"GET /static/missing HTTP/1.1" 404' in s.output, 15, "the access lines")
    assert '"GET /static/hello.txt HTTP/1.1" 200' in s.output
    assert '"GET /static/hello.txt HTTP/1.1" 206' in s.output
    def counted() -> float:
        try:
            return Scrape(port).value("subcorn_requests_total")
        except AssertionError:  # no sample yet
            return 0

    wait_for(lambda: counted() == 3, 15, "three requests counted")
    scrape = Scrape(port)
    assert scrape.value("subcorn_requests_total", method="GET", code="2xx") == 2
    assert scrape.value("subcorn_requests_total", method="GET", code="4xx") == 1


# ---------------------------------------------------------------- pathsend, zerocopysend


def test_starlette_file_response_uses_pathsend(server, tree, events):
    s = server("static_apps:starlette_files", env=events.env)
    path = tree / "big.bin"
    r = get(s, f"/file?path={path}")
    assert r.status == 200 and r.body == pattern(BIG)
    scope = events.wait_for("scope")
    assert "http.response.pathsend" in scope["extensions"]
    assert "http.response.zerocopysend" in scope["extensions"]
    sent = [e["type"] for e in events.all("sent")]
    assert sent == ["http.response.start", "http.response.pathsend"], sent


@pytest.mark.parametrize("transport", ["tls", "h2c"])
def test_pathsend_over_tls_and_http2(server, tree, events, tmp_path, transport):
    path = tree / "big.bin"
    if transport == "tls":
        tls = make_tls(tmp_path / "tls")
        s = server("static_apps:starlette_files", *tls.server_flags, env=events.env)
        client = httpx.Client(verify=tls.client_context(), timeout=20)
        url = f"https://127.0.0.1:{s.port}/file?path={path}"
    else:
        s = server("static_apps:starlette_files", env=events.env)
        client = httpx.Client(http1=False, http2=True, timeout=20)
        url = f"http://127.0.0.1:{s.port}/file?path={path}"
    with client:
        r = client.get(url)
    assert r.status_code == 200 and r.content == pattern(BIG)
    assert "http.response.pathsend" in [e["type"] for e in events.all("sent")]


@pytest.mark.parametrize("http2", [False, True])
def test_zerocopysend(server, tree, events, http2):
    s = server("static_apps:zerocopy", env=events.env)
    path = tree / "hello.txt"
    with httpx.Client(http1=not http2, http2=http2, timeout=20) as client:
        url = f"http://127.0.0.1:{s.port}/"

        def body(case, file=path):
            r = client.get(url, params={"case": case, "path": str(file)})
            assert r.status_code == 200, (case, r.status_code, events.all("error"))
            return r.content

        assert body("whole") == b"hello, static world\n"
        assert body("whole", tree / "big.bin") == pattern(BIG)
        assert body("slice") == b"lo, "
        assert body("parts") == b"hello<mid>, static world\n<end>"
        assert events.wait_for("position")["position"] == 5
        assert body("closed-at-once", tree / "big.bin") == pattern(BIG)


@pytest.mark.parametrize("case, error", [
    ("fifo", "ValueError"),
    ("relative", "ValueError"),
    ("directory", "ValueError"),
    ("missing", "FileNotFoundError"),
])
def test_file_messages_refuse_what_they_cannot_send(server, tree, events, case, error):
    s = server("static_apps:zerocopy", env=events.env)
    r = get(s, f"/?case={case}&path={tree / 'hello.txt'}")
    assert r.status == 500
    assert events.wait_for("error", case=case)["type"] == error
