"""Every setting of the server, typed, validated, with its default.

This dataclass is the single source of truth: the CLI builds one from flags
and SUBCORN_* environment variables, and the engine receives it as plain data.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import os


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


class ConfigError(ValueError):
    """A setting that cannot work; the CLI prints it and exits 1."""


def check_forwarded_allow_ips(value: str | list[str] | None) -> str:
    """--forwarded-allow-ips as one comma-separated string, each item checked:
    an address or a network (CIDR; host bits ignored), "*", or "unix:" (a
    peer on a unix socket). None takes uvicorn's FORWARDED_ALLOW_IPS
    variable, else 127.0.0.1. (The engine reads the same list again,
    src/http/address_set.h.)"""
    if value is None:
        value = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    items = value if isinstance(value, list) else value.split(",")
    items = [item.strip() for item in items if item.strip()]
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
            raise ConfigError(f"--forwarded-allow-ips: not an address, a network (CIDR), \"*\" "
                              f"or \"unix:\": {item!r}") from None
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


@dataclasses.dataclass
class Config:
    app: str
    factory: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    fd: int | None = None
    workers: int = dataclasses.field(default_factory=default_workers)
    threads: int = 1
    mode: Mode = Mode.AUTO
    app_dir: str = "."
    lifespan: Lifespan = Lifespan.AUTO
    interface: Interface = Interface.AUTO
    root_path: str = ""
    timeout_keep_alive: float = 5.0
    timeout_request_header: float = 10.0
    timeout_graceful_shutdown: float = 30.0
    timeout_request_body: float = 60.0
    timeout_request: float | None = None
    timeout_after_disconnect: float = 3.0
    limit_concurrency: int | None = None
    limit_max_connections: int | None = None
    limit_request_line: int = 8190
    limit_request_fields: int = 100
    limit_request_field_size: int = 8190
    limit_request_body: int = 1024 * 1024 * 1024
    backlog: int = 2048
    pid: str | None = None
    ws: WebSocket = WebSocket.AUTO
    ws_max_size: int = 16 * 1024 * 1024
    ws_max_queue: int = 32
    ws_ping_interval: float | None = 20.0
    ws_ping_timeout: float | None = 20.0
    ws_per_message_deflate: bool = True
    http: HttpVersion = HttpVersion.AUTO
    http2_max_concurrent_streams: int = 100
    http2_initial_window_size: int = 1024 * 1024
    http2_max_header_list_size: int = 64 * 1024
    http2_keep_alive_interval: float | None = None
    log_level: LogLevel = LogLevel.INFO
    access_log: bool = True
    proxy_headers: bool = True
    # None: uvicorn's FORWARDED_ALLOW_IPS variable, else 127.0.0.1.
    forwarded_allow_ips: str | list[str] | None = None
    proxy_protocol: bool = False
    access_log_format: str | None = None  # gunicorn's atoms; None: uvicorn's line
    access_log_file: str | None = None    # None or "-": stdout
    log_format: LogFormat = LogFormat.TEXT
    log_config: str | None = None         # a logging dictConfig (JSON, YAML) or INI file
    max_requests: int = 0
    max_requests_jitter: int = 0
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: CertReqs = CertReqs.NONE
    ssl_ciphers: str | None = None
    ssl_min_version: TlsVersion = TlsVersion.TLS_1_2
    ssl_handshake_timeout: float = 10.0
    ssl_reload: bool = False
    # --metrics: Prometheus metrics, /healthz and /readyz on their own port,
    # served by the supervisor's engine thread (docs/metrics.md).
    metrics: bool = False
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9000
    # --reload (development, docs/development.md): the supervisor watches
    # files and has the new code served in place. None: the defaults
    # (--app-dir; *.py; .*, .py[cod], .sw.*, ~*); given patterns add to them.
    reload: bool = False
    reload_dirs: list[str] | None = None
    reload_includes: list[str] | None = None
    reload_excludes: list[str] | None = None
    # Set by the supervisor for its children (hidden flags).
    supervised: bool = False
    ready_fd: int | None = None
    handoff_fd: int | None = None  # processes mode: connections come from the supervisor
    metrics_fd: int | None = None  # --metrics: the table the shards count in
    metrics_slot: int = 0          # --metrics: the worker number of this process's first shard

    def __post_init__(self) -> None:
        # Flags arrive as plain strings; the enums are the checked form.
        self.mode = Mode(self.mode)
        self.lifespan = Lifespan(self.lifespan)
        self.interface = Interface(self.interface)
        self.log_level = LogLevel(self.log_level)
        try:
            self.log_format = LogFormat(self.log_format)
        except ValueError:
            raise ConfigError(f"--log-format must be text or json, not {self.log_format!r}") from None
        if self.log_config and not os.path.isfile(self.log_config):
            raise ConfigError(f"--log-config {self.log_config}: no such file")
        if self.access_log_file and self.access_log_file != "-":
            self.access_log_file = os.path.abspath(self.access_log_file)
        self.ws = WebSocket(self.ws)
        self.http = HttpVersion(self.http)
        try:
            self.ssl_cert_reqs = CertReqs(self.ssl_cert_reqs)
        except ValueError:
            raise ConfigError(f"--ssl-cert-reqs must be none, optional or required (or 0, 1, 2), "
                              f"not {self.ssl_cert_reqs!r}") from None
        try:
            self.ssl_min_version = TlsVersion(self.ssl_min_version)
        except ValueError:
            raise ConfigError(f"--ssl-min-version must be TLSv1.2 or TLSv1.3, "
                              f"not {self.ssl_min_version!r}") from None
        self._check_tls()
        self.forwarded_allow_ips = check_forwarded_allow_ips(self.forwarded_allow_ips)
        self._check_metrics()
        self._check_reload()
        module, sep, attr = self.app.partition(":")
        if not sep or not module or not attr:
            raise ConfigError(
                f'Import string "{self.app}" must be in format "<module>:<attribute>".'
            )
        if self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, not {self.threads}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {self.workers}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535, not {self.port}")
        if self.limit_concurrency is not None and self.limit_concurrency < 1:
            raise ConfigError("--limit-concurrency must be at least 1")
        if self.limit_max_connections is not None and self.limit_max_connections < 1:
            raise ConfigError("--limit-max-connections must be at least 1")
        for name in ("limit_request_line", "limit_request_fields", "limit_request_field_size",
                     "limit_request_body"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative (0: no limit)")
        if self.timeout_request is not None and self.timeout_request <= 0:
            raise ConfigError("--timeout-request must be more than 0")
        if self.max_requests < 0 or self.max_requests_jitter < 0:
            raise ConfigError("--max-requests and --max-requests-jitter must not be negative")
        if self.supervised and self.mode == Mode.PROCESSES and self.workers != 1:
            raise ConfigError("a worker process in processes mode runs exactly one worker")
        if self.ws_max_size < 1:
            raise ConfigError("--ws-max-size must be at least 1")
        if self.ws_max_queue < 1:
            raise ConfigError("--ws-max-queue must be at least 1")
        for name in ("ws_ping_interval", "ws_ping_timeout"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative")
        if not 1 <= self.http2_max_concurrent_streams <= 2**31 - 1:
            raise ConfigError("--http2-max-concurrent-streams must be between 1 and 2147483647")
        # RFC 9113 6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is an error.
        if not 1 <= self.http2_initial_window_size <= 2**31 - 1:
            raise ConfigError("--http2-initial-window-size must be between 1 and 2147483647")
        if not 1024 <= self.http2_max_header_list_size <= 2**31 - 1:
            raise ConfigError("--http2-max-header-list-size must be between 1024 and 2147483647")
        if self.http2_keep_alive_interval is not None and self.http2_keep_alive_interval < 0:
            raise ConfigError("--http2-keep-alive-interval must not be negative")
        if self.backlog < 1:
            raise ConfigError("--backlog must be at least 1")
        for name in ("timeout_keep_alive", "timeout_request_header", "timeout_graceful_shutdown",
                     "timeout_request_body", "timeout_after_disconnect"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative")
        if self.root_path and not self.root_path.startswith("/"):
            raise ConfigError(f'--root-path must start with "/", not "{self.root_path}"')
        self.root_path = self.root_path.rstrip("/")
        self.app_dir = os.path.abspath(self.app_dir)

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
        if self.ssl_handshake_timeout <= 0:
            raise ConfigError("--ssl-handshake-timeout must be more than 0")

    def _check_metrics(self) -> None:
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"--metrics-port must be between 0 and 65535, not {self.metrics_port}")
        # The supervisor checked this against the address it binds; a worker
        # process is given no address of its own.
        if not self.metrics or self.supervised or self.uds or self.fd is not None:
            return
        wildcard = ("0.0.0.0", "::", "")
        same_host = (self.metrics_host == self.host or self.metrics_host in wildcard
                     or self.host in wildcard)
        if self.metrics_port == self.port and self.port != 0 and same_host:
            raise ConfigError(f"--metrics-port {self.metrics_port} is the app's port on "
                              f"{self.metrics_host}: the metrics need a port of their own")

    def _check_reload(self) -> None:
        if not self.reload:
            for name in ("reload_dirs", "reload_includes", "reload_excludes"):
                if getattr(self, name):
                    raise ConfigError(f"--{name.replace('_', '-').removesuffix('s')} needs --reload")
            return
        for directory in self.reload_dirs or ():
            if not os.path.isdir(directory):
                raise ConfigError(f"--reload-dir {directory}: no such directory")

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
            "host": self.host,
            "port": self.port,
            "uds": self.uds,
            "fd": self.fd,
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
        }
