"""HTTP/2 clients for the tests: exact frames on a raw socket (RawH2), and the
`h2` library's client state machine on a socket (H2Client); a throwaway CA
and server certificate (trustme) for the TLS cases; the server's memory.

RawH2 sends whatever bytes a test builds (frame() and friends do not check
anything, so a test can send what a real client never would) and reads the
server's frames back one by one, decoding header blocks with HPACK. It is the
h2spec way: send a frame, expect a frame (or a GOAWAY / RST_STREAM with a code).
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import psutil

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME = 16384


class T(IntEnum):
    """Frame types (RFC 9113 6)."""
    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class F:
    """Frame flags."""
    END_STREAM = 0x1
    ACK = 0x1
    END_HEADERS = 0x4
    PADDED = 0x8
    PRIORITY = 0x20


class E(IntEnum):
    """Error codes (RFC 9113 7)."""
    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class S(IntEnum):
    """SETTINGS parameters."""
    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8


# ------------------------------------------------------------ frame builders

def frame(type_: int, flags: int, stream_id: int, payload: bytes = b"", *,
          reserved: bool = False, length: int | None = None) -> bytes:
    """One frame, exactly as given: `length` overrides the real payload length,
    `reserved` sets the reserved bit of the stream id."""
    n = len(payload) if length is None else length
    sid = stream_id | (0x80000000 if reserved else 0)
    return struct.pack(">I", n)[1:] + bytes([type_, flags]) + struct.pack(">I", sid) + payload


def settings(*pairs: tuple[int, int], ack: bool = False, stream_id: int = 0) -> bytes:
    payload = b"".join(struct.pack(">HI", k, v) for k, v in pairs)
    return frame(T.SETTINGS, F.ACK if ack else 0, stream_id, payload)


def ping(data: bytes = b"12345678", ack: bool = False, stream_id: int = 0) -> bytes:
    return frame(T.PING, F.ACK if ack else 0, stream_id, data)


def rst_stream(stream_id: int, code: int = E.CANCEL) -> bytes:
    return frame(T.RST_STREAM, 0, stream_id, struct.pack(">I", code))


def goaway(last_stream_id: int, code: int = E.NO_ERROR, debug: bytes = b"",
           stream_id: int = 0) -> bytes:
    return frame(T.GOAWAY, 0, stream_id, struct.pack(">II", last_stream_id, code) + debug)


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(T.WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def priority(stream_id: int, depends_on: int, weight: int = 16, exclusive: bool = False) -> bytes:
    dep = depends_on | (0x80000000 if exclusive else 0)
    return frame(T.PRIORITY, 0, stream_id, struct.pack(">IB", dep, weight - 1))


def data(stream_id: int, payload: bytes = b"", end_stream: bool = False,
         pad_length: int | None = None) -> bytes:
    flags = F.END_STREAM if end_stream else 0
    if pad_length is not None:
        flags |= F.PADDED
        payload = bytes([pad_length]) + payload + b"\0" * pad_length
    return frame(T.DATA, flags, stream_id, payload)


@dataclass
class Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes
    headers: list[tuple[bytes, bytes]] | None = None  # a decoded header block
    payload_block: bytes = b""  # HEADERS: the block without padding and priority

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    @property
    def error_code(self) -> int:
        """RST_STREAM's code, or GOAWAY's."""
        offset = 4 if self.type == T.GOAWAY else 0
        return struct.unpack(">I", self.payload[offset:offset + 4])[0]

    @property
    def last_stream_id(self) -> int:
        return struct.unpack(">I", self.payload[:4])[0] & 0x7FFFFFFF

    @property
    def settings(self) -> dict[int, int]:
        return {k: v for k, v in (struct.unpack(">HI", self.payload[i:i + 6])
                                  for i in range(0, len(self.payload), 6))}

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers or ():
            if k == name:
                return v
        return None

    def __repr__(self) -> str:
        try:
            kind = T(self.type).name
        except ValueError:
            kind = f"type{self.type:#x}"
        extra = ""
        if self.type in (T.RST_STREAM, T.GOAWAY) and len(self.payload) >= 4:
            try:
                extra = f" {E(self.error_code).name}"
            except ValueError:
                extra = f" code={self.error_code}"
        if self.headers is not None:
            extra = f" {self.headers}"
        return f"<{kind} flags={self.flags:#x} stream={self.stream_id} len={len(self.payload)}{extra}>"


class ConnectionClosed(AssertionError):
    pass


def request_headers(path: str = "/", method: str = "GET", authority: str = "testserver",
                    scheme: str = "http", extra=()) -> list[tuple[bytes, bytes]]:
    def b(x):
        return x if isinstance(x, bytes) else x.encode()
    return [(b":method", b(method)), (b":scheme", b(scheme)), (b":authority", b(authority)),
            (b":path", b(path)), *((b(k), b(v)) for k, v in extra)]


class RawH2:
    """A client connection that sends exact bytes and reads the server's frames."""

    def __init__(self, port: int, *, timeout: float = 5.0, connect: bool = True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        # The decoder must accept what the server may send (its table size is ours: 4096).
        self.decoder.max_allowed_table_size = 4096
        self.server_settings: dict[int, int] = {}
        self.seen: list[Frame] = []
        self._partial: Frame | None = None  # HEADERS waiting for its CONTINUATION
        if connect:
            self.handshake()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, payload: bytes) -> None:
        self.sock.sendall(payload)

    def try_send(self, payload: bytes) -> bool:
        """Sends unless the server has already closed (False then)."""
        try:
            self.sock.sendall(payload)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def handshake(self, *pairs: tuple[int, int]) -> None:
        """The preface and our SETTINGS; waits for the server's SETTINGS (and
        acknowledges it)."""
        self.send(PREFACE + settings(*pairs))
        self.wait_for(lambda f: f.type == T.SETTINGS and not f.has(F.ACK))

    def block(self, headers, huffman: bool = True) -> bytes:
        """A header block, HPACK-encoded with this connection's encoder."""
        return self.encoder.encode(headers, huffman=huffman)

    def headers(self, stream_id: int, headers=None, *, end_stream: bool = True,
                end_headers: bool = True, block: bytes | None = None, flags: int = 0) -> bytes:
        """A HEADERS frame (not sent): `headers` are encoded now (so frames are
        built in the order they are sent), or `block` is used as it is."""
        payload = block if block is not None else self.block(headers or request_headers())
        flags |= (F.END_STREAM if end_stream else 0) | (F.END_HEADERS if end_headers else 0)
        return frame(T.HEADERS, flags, stream_id, payload)

    def request(self, stream_id: int, path: str = "/", *, method: str = "GET",
                end_stream: bool = True, extra=()) -> None:
        self.send(self.headers(stream_id, request_headers(path, method, extra=extra),
                               end_stream=end_stream))

    # --- reading

    def _fill(self, deadline: float) -> bool:
        if self.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no frame in time; seen {self.seen[-10:]}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError(f"no frame in time; seen {self.seen[-10:]}") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_frame(self, timeout: float = 5.0) -> Frame | None:
        """The next frame (None once the server closed). The server's SETTINGS
        are acknowledged at once, as a client must."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    head, payload = self.buf[:9], self.buf[9:9 + n]
                    self.buf = self.buf[9 + n:]
                    sid = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                    f = Frame(head[3], head[4], sid, payload)
                    self._decode(f)
                    self.seen.append(f)
                    return f
            if not self._fill(deadline):
                return None

    def _decode(self, f: Frame) -> None:
        if f.type == T.SETTINGS and not f.has(F.ACK):
            self.server_settings.update(f.settings)
            self.try_send(settings(ack=True))
        if f.type == T.HEADERS:
            block = f.payload
            if f.has(F.PADDED):
                pad = block[0]
                block = block[1:len(block) - pad]
            if f.has(F.PRIORITY):
                block = block[5:]
            f.payload_block = block
            if f.has(F.END_HEADERS):
                f.headers = list(self.decoder.decode(block, raw=True))
            else:
                self._partial = f
        elif f.type == T.CONTINUATION and self._partial is not None:
            self._partial.payload_block += f.payload
            if f.has(F.END_HEADERS):
                self._partial.headers = list(self.decoder.decode(self._partial.payload_block,
                                                                 raw=True))
                f.headers = self._partial.headers
                self._partial = None

    def wait_for(self, predicate, timeout: float = 5.0, what: str = "frame") -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                raise ConnectionClosed(f"connection closed before {what}; seen {self.seen}")
            if predicate(f):
                return f

    def frames_until_close(self, timeout: float = 5.0) -> list[Frame]:
        """Every frame up to the server's close (TimeoutError if it stays open)."""
        deadline = time.monotonic() + timeout
        out = []
        while (f := self.read_frame(max(0.0, deadline - time.monotonic()))) is not None:
            out.append(f)
        return out

    # --- what h2spec checks

    def expect_goaway(self, *codes: int, timeout: float = 5.0) -> Frame:
        """A connection error: GOAWAY with one of `codes`."""
        f = self.wait_for(lambda f: f.type == T.GOAWAY, timeout, what=f"GOAWAY {codes}")
        assert f.error_code in codes, f"GOAWAY {f!r}, expected one of {[E(c).name for c in codes]}"
        return f

    def expect_connection_error(self, *codes: int, timeout: float = 5.0) -> Frame:
        """GOAWAY with one of `codes`, then the connection closes."""
        f = self.expect_goaway(*codes, timeout=timeout)
        self.frames_until_close(timeout)
        return f

    def expect_stream_error(self, stream_id: int, *codes: int, timeout: float = 5.0) -> Frame:
        """A stream error: RST_STREAM on `stream_id` with one of `codes`, or the
        server made it a connection error (GOAWAY with one of them)."""
        f = self.wait_for(lambda f: f.type == T.GOAWAY
                          or (f.type == T.RST_STREAM and f.stream_id == stream_id), timeout,
                          what=f"RST_STREAM {stream_id} {codes}")
        assert f.error_code in codes, f"{f!r}, expected one of {[E(c).name for c in codes]}"
        return f

    def expect_alive(self, timeout: float = 5.0) -> None:
        """The connection still works: a PING is answered, and no GOAWAY came first."""
        payload = os.urandom(8)
        self.send(ping(payload))
        f = self.wait_for(lambda f: f.type == T.GOAWAY or (f.type == T.PING and f.has(F.ACK)
                                                           and f.payload == payload),
                          timeout, what="PING ACK")
        assert f.type == T.PING, f"expected the PING answered, got {f!r}"

    def response(self, stream_id: int, timeout: float = 5.0, window: bool = True) -> "RawResponse":
        """Reads stream `stream_id`'s response to its end (END_STREAM), giving
        back flow-control credit for what arrives when `window`."""
        r = RawResponse()
        deadline = time.monotonic() + timeout
        while True:
            f = self.wait_for(lambda f: f.stream_id in (0, stream_id),
                              max(0.0, deadline - time.monotonic()),
                              what=f"the end of stream {stream_id}")
            if f.type == T.GOAWAY and f.error_code != E.NO_ERROR:
                raise AssertionError(f"GOAWAY while reading stream {stream_id}: {f!r}")
            if f.stream_id != stream_id:
                continue
            if f.type == T.RST_STREAM:
                raise AssertionError(f"stream {stream_id} reset: {f!r}")
            if f.type == T.HEADERS or (f.type == T.CONTINUATION and f.headers is not None):
                if f.headers is None:
                    continue  # CONTINUATION follows
                status = dict(f.headers).get(b":status")
                if r.status is None and status is not None and int(status) < 200:
                    r.interim.append(f.headers)
                elif r.status is None:
                    r.status = int(status)
                    r.headers = f.headers
                else:
                    r.trailers = f.headers
            elif f.type == T.DATA:
                body = f.payload
                if f.has(F.PADDED):
                    body = body[1:len(body) - body[0]]
                r.body += body
                if window and f.payload:
                    self.send(window_update(0, len(f.payload))
                              + (b"" if f.has(F.END_STREAM) else window_update(stream_id,
                                                                               len(f.payload))))
            if f.type in (T.HEADERS, T.DATA) and f.has(F.END_STREAM):
                return r


@dataclass
class RawResponse:
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] | None = None
    interim: list[list[tuple[bytes, bytes]]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        return dict(self.headers).get(name)


# ------------------------------------------------------- the h2 library client

class H2Client:
    """The `h2` library's client on a socket (TCP, or TLS with ALPN h2): a
    real client's state machine, for the exchanges that should just work."""

    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None, timeout: float = 10.0,
                 local_settings: dict[int, int] | None = None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            raw = tls.wrap_socket(raw, server_hostname="127.0.0.1")
            assert raw.selected_alpn_protocol() == "h2", raw.selected_alpn_protocol()
        self.sock = raw
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()
        if local_settings:
            self.conn.update_settings(local_settings)
        self.flush()
        self.closed = False
        self.events: list = []
        self.server_settings: dict[int, int] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.sock.close()

    def flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, timeout: float) -> list:
        """Reads once (up to `timeout`) and returns the h2 events it made."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(1 << 20)
        except (socket.timeout, TimeoutError):
            return []
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return []
        events = self.conn.receive_data(chunk)
        for ev in events:
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.server_settings.update({k: v.new_value for k, v in ev.changed_settings.items()})
        self.flush()
        self.events += events
        return events

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "event"):
        """The first event (old or new) for which predicate is true."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for ev in self.events[checked:]:
                if predicate(ev):
                    return ev
            checked = len(self.events)
            if self.closed:
                raise ConnectionClosed(f"connection closed before {what}; events {self.events}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout}s; events {self.events[-10:]}")
            self.pump(deadline - time.monotonic())

    def request(self, path: str = "/", *, method: str = "GET", body: bytes | None = None,
                extra=(), end_stream: bool = True) -> int:
        sid = self.conn.get_next_available_stream_id()
        headers = request_headers(path, method, extra=extra,
                                  scheme="https" if isinstance(self.sock, ssl.SSLSocket) else "http")
        self.conn.send_headers(sid, headers, end_stream=end_stream and body is None)
        if body is not None:
            self.send_body(sid, body, end_stream=end_stream)
        self.flush()
        return sid

    def send_body(self, sid: int, body: bytes, end_stream: bool = True, timeout: float = 30) -> None:
        """Sends `body` as flow control allows (reading the server's
        WINDOW_UPDATEs while it waits)."""
        deadline = time.monotonic() + timeout
        view = memoryview(body)
        while view:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                       len(view))
            if room <= 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stream {sid}: no window to send the body")
                self.pump(deadline - time.monotonic())
                continue
            self.conn.send_data(sid, bytes(view[:room]))
            view = view[room:]
            self.flush()
        if end_stream:
            self.conn.end_stream(sid)
            self.flush()

    def response(self, sid: int, timeout: float = 10.0) -> RawResponse:
        """Stream `sid`'s whole response (its flow-control credit given back)."""
        r = RawResponse()
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if getattr(ev, "stream_id", None) != sid:
                    continue
                if isinstance(ev, h2.events.InformationalResponseReceived):
                    r.interim.append(ev.headers)
                elif isinstance(ev, h2.events.ResponseReceived):
                    r.headers = ev.headers
                    r.status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    r.body += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.TrailersReceived):
                    r.trailers = ev.headers
                elif isinstance(ev, h2.events.StreamReset):
                    raise AssertionError(f"stream {sid} reset: {ev}")
                elif isinstance(ev, h2.events.StreamEnded):
                    self.flush()
                    return r
            seen = len(self.events)
            self.flush()
            if self.closed:
                raise ConnectionClosed(f"closed before stream {sid} ended; events {self.events}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {sid} not done within {timeout}s: {r}")
            self.pump(deadline - time.monotonic())

    def get(self, path: str = "/", timeout: float = 10.0, **kw) -> RawResponse:
        return self.response(self.request(path, **kw), timeout)


# --------------------------------------------------------------------- TLS

@dataclass
class TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it."""
    ca_pem: Path
    cert_pem: Path
    key_pem: Path
    spki_sha256_b64: str  # the leaf's public key hash (Chromium's SPKI allow list)

    @property
    def server_flags(self) -> list[str]:
        return ["--ssl-certfile", str(self.cert_pem), "--ssl-keyfile", str(self.key_pem)]

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_pem))
        ctx.set_alpn_protocols(["h2"])
        return ctx


def make_tls(directory: Path) -> TlsFiles:
    import base64
    import hashlib

    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem", "")
    ca.cert_pem.write_to_path(str(files.ca_pem))
    leaf.private_key_pem.write_to_path(str(files.key_pem))
    # The chain file: the leaf first, then what signed it.
    with open(files.cert_pem, "wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    files.spki_sha256_b64 = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    return files


# ------------------------------------------------------------------ memory

def tree_rss(pid: int) -> int:
    """Resident memory of the server process and its children, in bytes."""
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total
