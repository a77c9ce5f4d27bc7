"""WSGI fixture apps for test_wsgi.py: one function per behaviour."""

import json
import os
import sys
import threading
import time


def environ_echo(environ, start_response):
    """The environ as JSON (non-str values as their repr or type name)."""
    out = {}
    for key, value in environ.items():
        if isinstance(value, (str, bool, int)) or value is None:
            out[key] = value
        elif isinstance(value, tuple):
            out[key] = list(value)
        else:
            out[key] = type(value).__name__
    out["errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def input_methods(environ, start_response):
    """Reads wsgi.input with the method named by the path."""
    stream = environ["wsgi.input"]
    how = environ["PATH_INFO"].strip("/")
    if how == "read":
        result = [stream.read().decode()]
    elif how == "read-sized":
        parts = []
        while chunk := stream.read(3):
            parts.append(chunk.decode())
        result = parts
    elif how == "readline":
        result = [stream.readline().decode(), stream.readline().decode()]
    elif how == "readlines":
        result = [line.decode() for line in stream.readlines()]
    else:
        result = [line.decode() for line in stream]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(result).encode()]


def exc_info_before_headers(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("changed my mind")
    except ValueError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                       sys.exc_info())
    return [b"replaced"]


def exc_info_after_headers(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial")
    try:
        raise ValueError("too late")
    except ValueError:
        start_response("500 Internal Server Error", [], sys.exc_info())
    return [b"never"]


def uses_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one ")
    write(b"two ")
    return [b"three"]


class ClosingBody:
    """A response iterable that records close(), optionally failing mid-way."""

    def __init__(self, marker, fail):
        self.marker = marker
        self.fail = fail

    def __iter__(self):
        yield b"first "
        if self.fail:
            raise RuntimeError("iteration failed")
        yield b"second"

    def close(self):
        with open(self.marker, "a") as f:
            f.write("closed\n")


def closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ClosingBody(os.environ["WSGI_CLOSE_MARKER"], environ["PATH_INFO"] == "/fail")


def file_wrapper(environ, start_response):
    f = open(os.environ["WSGI_FILE"], "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f)


def streaming(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (f"part {i}\n".encode() for i in range(4))


def raises(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise KeyError("wsgi boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]


def slow(environ, start_response):
    """Blocks like a view waiting on a database; says which thread ran it."""
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [threading.current_thread().name.encode()]


class ClassApp:
    """PEP 3333 allows a class: the instance is the response iterable."""

    def __init__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        self.body = b"class app"

    def __iter__(self):
        yield self.body


def running_loop(environ, start_response):
    """Django refuses database calls when the calling thread has a running
    asyncio loop: a WSGI app must never see one."""
    import asyncio

    try:
        asyncio.get_running_loop()
        seen = b"loop"
    except RuntimeError:
        seen = b"no loop"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [seen]


def first_five(environ, start_response):
    """Answers from the first 5 bytes of the body, without reading the rest."""
    head = environ["wsgi.input"].read(5) if environ["REQUEST_METHOD"] == "POST" else b""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"got " + head]


def input_pieces(environ, start_response):
    """Reads wsgi.input piece by piece with the method named by the path:
    read(65536), readline() or readline(65536); answers how many bytes and
    pieces it got."""
    stream = environ["wsgi.input"]
    read = {
        "read-64k": lambda: stream.read(65536),
        "readline": stream.readline,
        "readline-64k": lambda: stream.readline(65536),
    }[environ["PATH_INFO"].strip("/")]
    total = pieces = 0
    while piece := read():
        total += len(piece)
        pieces += 1
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"bytes": total, "pieces": pieces}).encode()]


def run_read_script(stream, script):
    """Applies "method:arg" steps ("read:3", "readline:-1", "readlines:10",
    "iter") to a binary stream; returns what each returned, as latin-1 text.
    The tests run the same script on io.BytesIO to know the right answers."""
    out = []
    for step in script.split(","):
        name, _, arg = step.partition(":")
        if name == "iter":
            out.append([line.decode("latin-1") for line in stream])
        elif name == "readlines":
            out.append([line.decode("latin-1") for line in stream.readlines(int(arg))])
        else:
            out.append(getattr(stream, name)(int(arg)).decode("latin-1"))
    return out


def input_script(environ, start_response):
    """Reads wsgi.input as the query string says (see run_read_script)."""
    result = run_read_script(environ["wsgi.input"], environ["QUERY_STRING"])
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(result).encode()]
