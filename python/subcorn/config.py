"""Every setting of the server, declared once as a field of Config: typed,
with its default, help, variable, file key and check (settings.py says how).
The engine receives it as plain data (engine_settings, shard_config).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import json
import os

from subcorn import _bind

from subcorn import _env_file
from subcorn.settings import (ConfigError, Setting, at_least, between, more_than_zero,
                              not_negative, setting, settings_of)


class Lifespan(enum.StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


class Interface(enum.StrEnum):
    AUTO = "auto"
    ASGI = "asgi"
    WSGI = "wsgi"


class WebSocket(enum.StrEnum):
    """--ws: uvicorn's names are accepted; every one but "none" is subcorn's
    own WebSocket (there is one implementation, in the engine)."""
    AUTO = "auto"
    NONE = "none"
    WEBSOCKETS = "websockets"
    WEBSOCKETS_SANSIO = "websockets-sansio"
    WSPROTO = "wsproto"


class HttpVersion(enum.StrEnum):
    """--http: auto serves HTTP/1.1 and HTTP/2 (told by the client's preface,
    an h2c upgrade, or ALPN over TLS); 1 and 2 serve only that one."""
    AUTO = "auto"
    HTTP1 = "1"
    HTTP2 = "2"


class Mode(enum.StrEnum):
    AUTO = "auto"
    INTERPRETERS = "interpreters"
    PROCESSES = "processes"


class CertReqs(enum.StrEnum):
    """--ssl-cert-reqs: whether TLS clients must show a certificate. uvicorn's
    numbers (ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED) mean the same."""
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"

    @classmethod
    def _missing_(cls, value: object) -> CertReqs | None:
        numbers = {"0": cls.NONE, "1": cls.OPTIONAL, "2": cls.REQUIRED}
        return numbers.get(str(value).strip().lower())


class TlsVersion(enum.StrEnum):
    TLS_1_2 = "TLSv1.2"
    TLS_1_3 = "TLSv1.3"


class LogLevel(enum.StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    TRACE = "trace"


class LogFormat(enum.StrEnum):
    """--log-format: uvicorn's text lines, or one JSON object per line."""
    TEXT = "text"
    JSON = "json"


# processes mode: the worker process's number, from the supervisor (log lines).
WORKER_ID_ENV = "SUBCORN_WORKER_ID"


def check_forwarded_allow_ips(value: str) -> str:
    """--forwarded-allow-ips as one comma-separated string, each item checked:
    an address or a network (CIDR; host bits ignored), "*", or "unix:" (a
    peer on a unix socket). (The engine reads the same list again,
    src/http/address_set.h.)"""
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        if item in ("*", "unix:"):
            continue
        address, _, prefix = item.partition("/")
        try:
            # Prefix lengths only (no netmasks) and no IPv6 zones, as the engine reads them.
            if "%" in address or ("/" in item and not prefix.isdigit()):
                raise ValueError(item)
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"takes addresses, networks (CIDR), \"*\" and \"unix:\", "
                             f"not {item!r}") from None
    return ",".join(items)


def worker_base() -> int:
    """The number of this process's first worker in log lines: its slot
    (processes mode, set by the supervisor), else 0."""
    try:
        return int(os.environ.get(WORKER_ID_ENV, "0"))
    except ValueError:
        return 0


def default_workers() -> int:
    return os.process_cpu_count() or 1


def _import_string(value: str) -> str:
    module, sep, attr = value.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f'Import string "{value}" must be in format "<module>:<attribute>".')
    return value


def _root_path(value: str) -> str:
    if value and not value.startswith("/"):
        raise ValueError(f'must start with "/", not "{value}"')
    return value.rstrip("/")


def _existing_file(value: str) -> str:
    if not os.path.isfile(value):
        raise ValueError(f"{value}: no such file")
    return value


def _static_mounts(value: list[str]) -> list[str]:
    """Each --static as URL_PREFIX:DIR with DIR an existing directory, made
    absolute (a worker process may start elsewhere); each prefix once."""
    mounts: list[str] = []
    for spec in value:
        prefix, sep, directory = spec.partition(":")
        bad_character = any(c in "?#" or c.isspace() or not c.isprintable() for c in prefix)
        if not sep or not directory or not prefix.startswith("/") or bad_character:
            raise ValueError(f"{spec!r}: expected URL_PREFIX:DIR, the prefix a URL path "
                             f"beginning with /")
        prefix = prefix.rstrip("/") or "/"
        directory = os.path.abspath(directory)
        if not os.path.isdir(directory):
            raise ValueError(f"{spec}: {directory} is not a directory")
        if any(mount.partition(":")[0] == prefix for mount in mounts):
            raise ValueError(f"{spec}: the prefix {prefix} is given twice")
        mounts.append(f"{prefix}:{directory}")
    return mounts


def _bind_addresses(value: list[str]) -> list[str]:
    for text in value:
        try:
            _bind.parse(text)
        except _bind.BindSyntaxError as exc:
            # The message names the flag and the address already.
            raise ValueError(str(exc).removeprefix("--bind ")) from None
    return value


def _octal_mode(value: str) -> str:
    try:
        return oct(_bind.parse_permissions(value))
    except ValueError:
        raise ValueError(f"takes an octal mode such as 660 or 0o660, between 0 and 0o777, "
                         f"not {value!r}") from None


def _existing_dirs(value: list[str]) -> list[str]:
    for directory in value:
        if not os.path.isdir(directory):
            raise ValueError(f"{directory}: no such directory")
    return value


def _header_lines(value: list[str]) -> list[str]:
    for header in value:
        if ":" not in header:
            raise ValueError(f"{header!r}: expected NAME:VALUE")
    return value


def _log_file(value: str) -> str:
    return value if value == "-" else os.path.abspath(value)


_TIMEOUT = not_negative
_PORT = between(0, 65535)
_HTTP2_NUMBER = between(1, 2**31 - 1)  # RFC 9113 6.5.2: a larger window is an error


@dataclasses.dataclass
class Config:
    """Every setting, each declared once (settings.setting): the command
    line, the SUBCORN_* variables, the config file, --print-config and
    subcorn.run are derived from these fields."""

    app: str = setting(help="the app as module:attribute, e.g. main:app", positional=True,
                       check=_import_string)
    factory: bool = setting(False, "APP is a factory: call it to get the app", switch=True,
                            shown_default="")
    host: str = setting("127.0.0.1", "bind to this address")
    port: int = setting(8000, "bind to this port", check=_PORT)
    uds: str | None = setting(None, "bind to this unix domain socket")
    fd: int | None = setting(None, "serve on this inherited socket file descriptor")
    bind: list[str] = setting(
        default_factory=list, help="serve on ADDRESS, repeatable: HOST:PORT, [IPv6]:PORT, HOST "
        "(port 8000), unix:PATH or fd://N; given, it replaces --host/--port/--uds/--fd",
        aliases=("-b",), metavar="ADDRESS", shown_default="", env_separator=" ",
        check=_bind_addresses)
    uds_permissions: str = setting("666", "the mode of every unix socket bound, octal: 660, "
                                   "0660 or 0o660", metavar="MODE", check=_octal_mode)
    workers: int = setting(default_factory=default_workers, help="number of worker interpreters",
                           shown_default="the CPU count", check=at_least(1))
    mode: Mode = setting(Mode.AUTO, "interpreters: one process, a sub-interpreter per worker; "
                         "processes: a process per worker; auto: interpreters when the app loads "
                         "in a sub-interpreter, else processes")
    max_requests: int = setting(0, "replace a worker after it served this many requests",
                                aliases=("--limit-max-requests",), shown_default="never",
                                check=not_negative)
    max_requests_jitter: int = setting(0, "add a random 0..N to --max-requests per worker",
                                       check=not_negative)
    # The supervisor's own: a worker process is never given it.
    workers_max_rss: int | None = setting(
        None, "replace a worker process whose resident memory exceeds MB megabytes",
        metavar="MB", check=at_least(1))
    threads: int = setting(1, "WSGI: threads per worker interpreter, so a view that waits on a "
                           "database does not hold up the others", check=at_least(1))
    app_dir: str = setting(".", "look for APP in this directory (and its pyproject.toml's "
                           "[tool.subcorn])", shown_default="current directory",
                           check=os.path.abspath)
    env_file: str | None = setting(
        None, "set the environment variables of this file (KEY=VALUE lines) before the app is "
        "imported; variables already set keep their value", metavar="PATH",
        check=_env_file.checked)
    lifespan: Lifespan = setting(Lifespan.AUTO, "lifespan protocol")
    interface: Interface = setting(Interface.AUTO,
                                   "how to call the app: auto tells ASGI from WSGI")
    root_path: str = setting("", "the path the app is mounted at behind a proxy (ASGI root_path)",
                             check=_root_path)
    timeout_keep_alive: float = setting(
        5.0, "close idle keep-alive connections after this many seconds", check=_TIMEOUT)
    timeout_request_header: float = setting(
        10.0, "answer 408 when a request head takes longer than this", check=_TIMEOUT)
    timeout_graceful_shutdown: float = setting(
        30.0, "on SIGINT/SIGTERM, let requests finish for this long", check=_TIMEOUT)
    timeout_request_body: float = setting(
        60.0, "longest wait between two reads of a request body: then 408, or http.disconnect "
        "to an ASGI app waiting in receive()", check=_TIMEOUT)
    timeout_request: float | None = setting(
        None, "answer 504 (or close, once the response started) and cancel the app when a "
        "request takes longer than this", shown_default="no limit", check=more_than_zero)
    timeout_after_disconnect: float = setting(
        3.0, "cancel an ASGI request's task this long after its client left", check=_TIMEOUT)
    limit_concurrency: int | None = setting(
        None, "answer 503 to requests beyond this many at once", check=at_least(1))
    limit_max_connections: int | None = setting(
        None, "answer 503 and close connections beyond this many open at once",
        shown_default="no limit but the process's file descriptors", check=at_least(1))
    limit_request_line: int = setting(
        8190, "longest request line in bytes, then 414; 0: no limit but the 64 KiB head",
        check=not_negative)
    limit_request_fields: int = setting(
        100, "most header fields in a request, then 431; 0: no limit", check=not_negative)
    limit_request_field_size: int = setting(
        8190, "longest header field (name and value) in bytes, then 431; 0: no limit",
        check=not_negative)
    limit_request_body: int = setting(
        1024 * 1024 * 1024, "largest request body in bytes, then 413; 0: no limit",
        shown_default="1073741824, 1 GiB", check=not_negative)
    backlog: int = setting(2048, "listen backlog", check=at_least(1))
    log_level: LogLevel = setting(LogLevel.INFO, "log level")
    pid: str | None = setting(None, "write the server's process id to FILE once it is bound, "
                              "and remove the file on exit (gunicorn's -p/--pid)",
                              aliases=("-p",), metavar="FILE")
    ws: WebSocket = setting(WebSocket.AUTO, "WebSocket: auto serves it (uvicorn's implementation "
                            "names mean the same); none hands upgrade requests to the app as "
                            "plain HTTP")
    ws_max_size: int = setting(
        16 * 1024 * 1024, "largest WebSocket message in bytes, after decompression; a larger "
        "one closes the connection with 1009", check=at_least(1))
    ws_max_queue: int = setting(
        32, "WebSocket messages received but not yet taken by the app; beyond it the server "
        "stops reading that socket", check=at_least(1))
    ws_ping_interval: float | None = setting(
        20.0, "send a WebSocket ping this often, in seconds; 0 for none", check=not_negative)
    ws_ping_timeout: float | None = setting(
        20.0, "close a WebSocket whose peer has not answered a ping within this many seconds; "
        "0 for never", check=not_negative)
    ws_per_message_deflate: bool = setting(
        True, "offer permessage-deflate compression to WebSocket clients")
    ssl_certfile: str | None = setting(
        None, "serve HTTPS (and WSS) with this certificate: PEM, its chain after it",
        metavar="FILE")
    ssl_keyfile: str | None = setting(None, "the certificate's private key, PEM",
                                      shown_default="in --ssl-certfile", metavar="FILE")
    ssl_keyfile_password: str | None = setting(
        None, "the password of an encrypted --ssl-keyfile (better given as "
        "SUBCORN_SSL_KEYFILE_PASSWORD: a command line is visible to everyone)")
    ssl_ca_certs: str | None = setting(
        None, "CA certificates (PEM) that client certificates must chain to", metavar="FILE")
    ssl_cert_reqs: CertReqs = setting(
        CertReqs.NONE, "client certificates: none, optional (checked when shown) or required; "
        "uvicorn's 0, 1, 2 mean the same")
    ssl_ciphers: str | None = setting(
        None, "TLS 1.2 ciphers, in OpenSSL's syntax; TLS 1.3 suites stay OpenSSL's",
        shown_default="OpenSSL's")
    ssl_min_version: TlsVersion = setting(TlsVersion.TLS_1_2, "the oldest TLS version accepted")
    ssl_handshake_timeout: float = setting(
        10.0, "close a connection whose TLS handshake takes longer than this many seconds",
        check=more_than_zero)
    ssl_reload: bool = setting(
        False, "watch the certificate, key and CA files and use them for new connections when "
        "they change; a broken set is refused and logged")
    http: HttpVersion = setting(
        HttpVersion.AUTO, "HTTP versions served: auto serves HTTP/1.1 and HTTP/2 (prior "
        "knowledge, h2c upgrade, ALPN h2 over TLS); 1 or 2 serves only that one")
    http2_max_concurrent_streams: int = setting(
        100, "HTTP/2 streams one connection may have open at once; more are refused",
        metavar="N", check=_HTTP2_NUMBER)
    http2_initial_window_size: int = setting(
        1024 * 1024, "request body one HTTP/2 stream may send before its app reads some "
        "(flow control)", metavar="BYTES", check=_HTTP2_NUMBER)
    http2_max_header_list_size: int = setting(
        64 * 1024, "decoded header bytes one HTTP/2 request may have; more gets 431",
        metavar="BYTES", check=between(1024, 2**31 - 1))
    http2_keep_alive_interval: float | None = setting(
        None, "send an HTTP/2 PING this often and close a connection that has not answered the "
        "previous one; 0 or unset for none", shown_default="none", metavar="SECONDS",
        check=not_negative)
    proxy_headers: bool = setting(
        True, "from a peer in --forwarded-allow-ips, take the client, scheme and host from "
        "X-Forwarded-For/-Proto/-Host/-Port or Forwarded")
    forwarded_allow_ips: str = setting(
        "127.0.0.1", "the trusted proxies: comma-separated addresses and networks (CIDR), '*' "
        "for all, 'unix:' for a peer on a unix socket (also uvicorn's $FORWARDED_ALLOW_IPS)",
        metavar="LIST", env=("SUBCORN_FORWARDED_ALLOW_IPS", "FORWARDED_ALLOW_IPS"),
        check=check_forwarded_allow_ips)
    proxy_protocol: bool = setting(
        False, "every connection begins with a PROXY protocol header (v1 or v2, as HAProxy and "
        "AWS NLB send it) from a peer in --forwarded-allow-ips; without one it is closed")
    # --metrics: Prometheus metrics, /healthz and /readyz on their own port,
    # served by the supervisor's engine thread (docs/metrics.md).
    metrics: bool = setting(False, "serve Prometheus metrics at /metrics, and /healthz and "
                            "/readyz, on their own port")
    metrics_host: str = setting("127.0.0.1", "the metrics port's address")
    metrics_port: int = setting(9000, "the metrics port, never the app's", check=_PORT)
    access_log: bool = setting(True, "log every request", switch=True)
    access_log_format: str | None = setting(
        None, "the access line in gunicorn's atoms, e.g. '%(h)s %(l)s %(u)s %(t)s \"%(r)s\" "
        "%(s)s %(b)s \"%(f)s\" \"%(a)s\" %(D)s' (and %(worker)s, %(protocol)s, %(client)s; see "
        "docs/logging.md)", shown_default="uvicorn's line", metavar="FORMAT")
    access_log_file: str | None = setting(
        None, "write access lines to this file ('-': stdout), reopened on SIGUSR1",
        shown_default="stdout", metavar="PATH", check=_log_file)
    log_format: LogFormat = setting(
        LogFormat.TEXT, "text (uvicorn's lines) or json (one object per line, access and error "
        "records)")
    log_config: str | None = setting(
        None, "a logging configuration: dictConfig as .json or .yaml, else an INI file for "
        "fileConfig; applied in the supervisor and in every interpreter", metavar="FILE",
        check=_existing_file)
    # Static files, served by the engine (docs/static.md). An hour of caching
    # by default: long enough that a page's assets are not asked for again
    # while it is used, short enough that a changed file reaches every client
    # the same day (the ETag makes the revalidation after it a 304).
    static: list[str] = setting(
        default_factory=list, help="serve the files of DIR under URL_PREFIX from the engine, "
        "never the app (repeatable; the longest prefix wins; see docs/static.md)",
        metavar="URL_PREFIX:DIR", shown_default="", check=_static_mounts)
    static_max_age: int = setting(
        3600, "Cache-Control: public, max-age=SECONDS on static files; -1: no Cache-Control",
        metavar="SECONDS", check=at_least(-1))
    # --reload (development, docs/development.md): the supervisor watches
    # files and has the new code served in place. Empty lists: the defaults
    # (--app-dir; *.py; .*, .py[cod], .sw.*, ~*); given patterns add to them.
    # The names are uvicorn.run's keywords; the flags are uvicorn's.
    reload: bool = setting(
        False, "serve the new code when a watched file changes: in interpreters mode the "
        "interpreters are replaced in place (same process and socket), in processes mode the "
        "worker processes", switch=True)
    reload_dirs: list[str] = setting(
        default_factory=list, help="watch this directory (repeatable)",
        flag="--reload-dir", metavar="DIR", shown_default="--app-dir",
        check=_existing_dirs)
    reload_includes: list[str] = setting(
        default_factory=list, help="also watch files matching GLOB, e.g. '*.html' (repeatable; "
        "*.py always, unless excluded)", flag="--reload-include", metavar="GLOB",
        shown_default="")
    reload_excludes: list[str] = setting(
        default_factory=list, help="ignore files (and directories) matching GLOB (repeatable; "
        "also always '.*', '.py[cod]', '.sw.*', '~*' unless included)",
        flag="--reload-exclude", metavar="GLOB", shown_default="")
    # Default response fields (docs/headers.md); the engine checks the
    # fields again (src/http/response_defaults.h) at start.
    headers: list[str] = setting(
        default_factory=list, help="add this field to every response unless the app sets its own "
        "(repeatable; 'server:NAME' replaces the Server value)", flag="--header",
        metavar="NAME:VALUE", shown_default="", check=_header_lines)
    server_header: bool = setting(True, "send 'server: subcorn' unless the app sets Server")
    date_header: bool = setting(True, "send Date unless the app sets it")
    # Decided by the supervisor for each worker process it starts (never a
    # flag, a variable or a file key: see _supervisor_worker.child_config).
    supervised: bool = setting(False, hidden=True)
    ready_fd: int | None = setting(None, hidden=True)
    handoff_fd: int | None = setting(None, hidden=True)  # processes mode: connections come from the supervisor
    metrics_fd: int | None = setting(None, hidden=True)  # --metrics: the table the shards count in
    metrics_slot: int = setting(0, hidden=True)  # --metrics: the worker number of this process's first shard
    listen_fds: list[str] = setting(default_factory=list, hidden=True)  # the sockets the supervisor bound (fd numbers), inherited

    def __post_init__(self) -> None:
        # Every value of its setting's type, through its check (enums from
        # their strings, paths made absolute), then what settings need of
        # each other.
        for s in _settings():
            try:
                value = s.from_data(getattr(self, s.name))
            except ValueError as exc:
                raise ConfigError(f"{s.option}: {exc}") from None
            setattr(self, s.name, s.checked(value))
        self._check_tls()
        self._check_metrics()
        self._check_reload()
        if self.supervised and self.mode == Mode.PROCESSES and self.workers != 1:
            raise ConfigError("a worker process in processes mode runs exactly one worker")

    def to_json(self) -> str:
        """Every setting as JSON: what the supervisor hands a worker process."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls(**json.loads(text))

    def _check_tls(self) -> None:
        """What the TLS flags need of each other (the files themselves are
        checked by the engine's check_tls, at start)."""
        if not self.ssl_certfile:
            for name in ("ssl_keyfile", "ssl_keyfile_password", "ssl_ca_certs", "ssl_ciphers"):
                if getattr(self, name):
                    raise ConfigError(f"--{name.replace('_', '-')} needs --ssl-certfile")
            if self.ssl_reload:
                raise ConfigError("--ssl-reload needs --ssl-certfile")
        if self.ssl_cert_reqs != CertReqs.NONE and not self.ssl_ca_certs:
            raise ConfigError(f"--ssl-cert-reqs {self.ssl_cert_reqs} needs --ssl-ca-certs (the CAs "
                              "that client certificates must chain to)")

    def _check_reload(self) -> None:
        if self.reload:
            return
        for name in ("reload_dirs", "reload_includes", "reload_excludes"):
            if getattr(self, name):
                raise ConfigError(f"--{name.replace('_', '-').removesuffix('s')} needs --reload")

    def _check_metrics(self) -> None:
        # The supervisor checked this against the addresses it binds; a worker
        # process is given no address of its own.
        if not self.metrics or self.supervised:
            return
        wildcard = ("0.0.0.0", "::", "")
        for address in self.listen_addresses()[0]:
            if address.kind != _bind.Kind.TCP:
                continue
            same_host = (self.metrics_host == address.host or self.metrics_host in wildcard
                         or address.host in wildcard)
            if self.metrics_port == address.port and address.port != 0 and same_host:
                raise ConfigError(f"--metrics-port {self.metrics_port} is the app's port on "
                                  f"{self.metrics_host}: the metrics need a port of their own")

    def listen_addresses(self) -> tuple[list[_bind.Address], list[str]]:
        """What the supervisor binds, and the flags --bind left unused."""
        return _bind.addresses(self.bind, self.host, self.port, self.uds, self.fd,
                               self.address_flags_given)

    @property
    def address_flags_given(self) -> bool:
        """Whether --host or --port was given (other than their defaults)."""
        return (self.host, self.port) != (_field_default("host"), _field_default("port"))

    @property
    def tls(self) -> bool:
        return bool(self.ssl_certfile)

    def tls_settings(self) -> dict[str, object]:
        """The TLS files and choices, as the engine's serve() and check_tls() read them."""
        return {
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "ssl_keyfile_password": self.ssl_keyfile_password,
            "ssl_ca_certs": self.ssl_ca_certs,
            "ssl_cert_reqs": str(self.ssl_cert_reqs),
            "ssl_ciphers": self.ssl_ciphers,
            "ssl_min_version": str(self.ssl_min_version),
        }

    @property
    def address(self) -> str:
        if self.fd is not None:
            return f"fd://{self.fd}"
        if self.uds:
            return f"unix:{self.uds}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def shard_config(self) -> str:
        """What each shard's interpreter needs, as JSON (only plain data crosses)."""
        return json.dumps(
            {
                "app": self.app,
                "factory": self.factory,
                "app_dir": self.app_dir,
                "lifespan": str(self.lifespan),
                "interface": str(self.interface),
                "root_path": self.root_path,
                "log_level": str(self.log_level),
                "log_format": str(self.log_format),
                "log_config": self.log_config and os.path.abspath(self.log_config),
                "worker_base": worker_base(),
            }
        )

    def engine_settings(self) -> dict[str, object]:
        """The settings the C++ engine reads (src/server/settings.h)."""
        return {
            "app": self.app,
            "listen_fds": [int(fd) for fd in self.listen_fds],
            "workers": self.workers,
            "threads": self.threads,
            "backlog": self.backlog,
            "limit_concurrency": self.limit_concurrency or 0,
            "limit_max_connections": self.limit_max_connections or 0,
            "limit_request_line": self.limit_request_line,
            "limit_request_fields": self.limit_request_fields,
            "limit_request_field_size": self.limit_request_field_size,
            "limit_request_body": self.limit_request_body,
            "timeout_request_body": self.timeout_request_body,
            "timeout_request": self.timeout_request or 0,
            "timeout_after_disconnect": self.timeout_after_disconnect,
            "timeout_keep_alive": self.timeout_keep_alive,
            "timeout_request_header": self.timeout_request_header,
            "timeout_graceful_shutdown": self.timeout_graceful_shutdown,
            "access_log": self.access_log,
            "access_log_format": self.access_log_format or "",
            "access_log_file": "" if self.access_log_file in (None, "-") else self.access_log_file,
            "log_json": self.log_format == LogFormat.JSON,
            "worker_base": worker_base(),
            "ws": self.ws != WebSocket.NONE,
            "ws_max_size": self.ws_max_size,
            "ws_max_queue": self.ws_max_queue,
            "ws_ping_interval": self.ws_ping_interval or 0,
            "ws_ping_timeout": self.ws_ping_timeout or 0,
            "ws_per_message_deflate": self.ws_per_message_deflate,
            "http1": self.http != HttpVersion.HTTP2,
            "http2": self.http != HttpVersion.HTTP1,
            "http2_max_concurrent_streams": self.http2_max_concurrent_streams,
            "http2_initial_window_size": self.http2_initial_window_size,
            "http2_max_header_list_size": self.http2_max_header_list_size,
            "http2_keep_alive_interval": self.http2_keep_alive_interval or 0,
            "main_interpreter": self.mode == Mode.PROCESSES,
            "ready_fd": -1 if self.ready_fd is None else self.ready_fd,
            "handoff_fd": -1 if self.handoff_fd is None else self.handoff_fd,
            "metrics_fd": -1 if self.metrics_fd is None else self.metrics_fd,
            "metrics_slot": self.metrics_slot,
            "max_requests": self.max_requests,
            "max_requests_jitter": self.max_requests_jitter,
            "log_info": self.log_level in (LogLevel.INFO, LogLevel.DEBUG, LogLevel.TRACE),
            "shard_config": self.shard_config(),
            **self.tls_settings(),
            "ssl_handshake_timeout": self.ssl_handshake_timeout,
            "ssl_reload": self.ssl_reload,
            "proxy_headers": self.proxy_headers,
            "forwarded_allow_ips": self.forwarded_allow_ips,
            "proxy_protocol": self.proxy_protocol,
            **self.response_header_settings(),
            "static": self.static_mounts(),
            "static_max_age": self.static_max_age,
        }

    def static_mounts(self) -> list[tuple[str, str]]:
        return [(prefix, directory) for prefix, _, directory in
                (mount.partition(":") for mount in self.static)]

    def response_header_settings(self) -> dict[str, object]:
        """--header, --server-header, --date-header as the engine's serve() and
        check_response_headers() read them."""
        fields = []
        for header in self.headers:
            name, _, value = header.partition(":")  # the setting's check saw the colon
            fields.append((name.strip(), value.strip(" \t")))
        return {"headers": fields, "server_header": self.server_header,
                "date_header": self.date_header}


@functools.cache
def _settings() -> list[Setting]:
    return settings_of(Config)


def _field_default(name: str) -> object:
    """A setting's declared default (to tell a given --host/--port from it)."""
    return next(s for s in _settings() if s.name == name).default_value()
