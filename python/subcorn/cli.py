"""The command line: flags named like uvicorn's, each also read from a
SUBCORN_* environment variable (the flag wins)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from subcorn import __version__, _logging
from subcorn.config import (Config, ConfigError, HttpVersion, Interface, Lifespan, LogLevel,
                            Mode, TlsVersion, WebSocket, default_workers)

# What the supervisor gives its worker processes through the environment
# rather than the command line (which `ps` shows to everyone): the key's
# password, and the session ticket keys every worker shares. A worker takes
# them out of its environment before the app is imported.
KEYFILE_PASSWORD_ENV = "SUBCORN_SSL_KEYFILE_PASSWORD"
TICKET_KEYS_ENV = "SUBCORN_SSL_TICKET_KEYS"


_CONFIG_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)
                    if f.default is not dataclasses.MISSING}


def _default(name: str) -> object:
    """SUBCORN_<NAME> if set (argparse converts it with the flag's type, and
    reports a bad value as it would on the command line), else Config's default."""
    value = os.environ.get(f"SUBCORN_{name.upper()}")
    if value is not None:
        return value
    if name == "workers":
        return default_workers()
    return _CONFIG_DEFAULTS.get(name)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(f"SUBCORN_{name.upper()}")
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class _BoolValueFlag(argparse.BooleanOptionalAction):
    """--flag, --no-flag, and uvicorn's `--flag BOOLEAN` (true/false, 1/0, yes/no)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.nargs = "?"

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        if option_string and option_string.startswith("--no-"):
            value = False
        elif values is None:
            value = True
        elif values.strip().lower() in ("1", "true", "yes", "on"):
            value = True
        elif values.strip().lower() in ("0", "false", "no", "off"):
            value = False
        else:
            parser.error(f"argument {option_string}: expected true or false, not {values!r}")
        setattr(namespace, self.dest, value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="subcorn",
        description="Serve an ASGI app from many own-GIL sub-interpreters in one process.",
        epilog="Every flag can also be set as SUBCORN_<FLAG>, e.g. SUBCORN_WORKERS=4.",
    )
    p.add_argument("app", nargs="?", default=_default("app"),
                   help="the app as module:attribute, e.g. main:app (SUBCORN_APP)")
    p.add_argument("--factory", action=argparse.BooleanOptionalAction,
                   default=_env_bool("factory", False),
                   help="APP is a factory: call it to get the app")
    p.add_argument("--host", default=_default("host"),
                   help="bind to this address (default: %(default)s)")
    p.add_argument("--port", type=int, default=_default("port"),
                   help="bind to this port (default: %(default)s)")
    p.add_argument("--uds", default=_default("uds"), help="bind to this unix domain socket")
    p.add_argument("--fd", type=int, default=_default("fd"),
                   help="serve on this inherited socket file descriptor")
    p.add_argument("--workers", type=int, default=_default("workers"),
                   help="number of worker interpreters (default: CPU count, %(default)s)")
    p.add_argument("--mode", choices=[m.value for m in Mode], default=_default("mode"),
                   help="interpreters: one process, a sub-interpreter per worker; processes: "
                        "a process per worker; auto: interpreters when the app loads in a "
                        "sub-interpreter, else processes (default: auto)")
    p.add_argument("--max-requests", type=int, default=_default("max_requests"),
                   help="replace a worker after it served this many requests (default: never)")
    p.add_argument("--max-requests-jitter", type=int,
                   default=_default("max_requests_jitter"),
                   help="add a random 0..N to --max-requests per worker (default: 0)")
    p.add_argument("--workers-max-rss", type=int, metavar="MB",
                   default=_default("workers_max_rss"),
                   help="replace a worker process whose resident memory exceeds MB megabytes")
    p.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--handoff-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--metrics-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--metrics-slot", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=_default("threads"),
                   help="WSGI: threads per worker interpreter, so a view that waits on "
                        "a database does not hold up the others (default: 1)")
    p.add_argument("--app-dir", default=_default("app_dir"),
                   help="look for APP in this directory (default: current directory)")
    p.add_argument("--lifespan", choices=[m.value for m in Lifespan],
                   default=_default("lifespan"), help="lifespan protocol (default: auto)")
    p.add_argument("--interface", choices=[i.value for i in Interface],
                   default=_default("interface"),
                   help="how to call the app: auto tells ASGI from WSGI (default: auto)")
    p.add_argument("--root-path", default=_default("root_path"),
                   help="the path the app is mounted at behind a proxy (ASGI root_path)")
    p.add_argument("--timeout-keep-alive", type=float,
                   default=_default("timeout_keep_alive"),
                   help="close idle keep-alive connections after this many seconds (default: 5)")
    p.add_argument("--timeout-request-header", type=float,
                   default=_default("timeout_request_header"),
                   help="answer 408 when a request head takes longer than this (default: 10)")
    p.add_argument("--timeout-graceful-shutdown", type=float,
                   default=_default("timeout_graceful_shutdown"),
                   help="on SIGINT/SIGTERM, let requests finish for this long (default: 30)")
    p.add_argument("--timeout-request-body", type=float,
                   default=_default("timeout_request_body"),
                   help="longest wait between two reads of a request body: then 408, or "
                        "http.disconnect to an ASGI app waiting in receive() (default: 60)")
    p.add_argument("--timeout-request", type=float, default=_default("timeout_request"),
                   help="answer 504 (or close, once the response started) and cancel the app "
                        "when a request takes longer than this (default: no limit)")
    p.add_argument("--timeout-after-disconnect", type=float,
                   default=_default("timeout_after_disconnect"),
                   help="cancel an ASGI request's task this long after its client left "
                        "(default: 3)")
    p.add_argument("--limit-concurrency", type=int,
                   default=_default("limit_concurrency"),
                   help="answer 503 to requests beyond this many at once")
    p.add_argument("--limit-max-connections", type=int,
                   default=_default("limit_max_connections"),
                   help="answer 503 and close connections beyond this many open at once "
                        "(default: no limit but the process's file descriptors)")
    p.add_argument("--limit-request-line", type=int, default=_default("limit_request_line"),
                   help="longest request line in bytes, then 414; 0: no limit but the "
                        "64 KiB head (default: 8190)")
    p.add_argument("--limit-request-fields", type=int,
                   default=_default("limit_request_fields"),
                   help="most header fields in a request, then 431; 0: no limit "
                        "(default: 100)")
    p.add_argument("--limit-request-field-size", type=int,
                   default=_default("limit_request_field_size"),
                   help="longest header field (name and value) in bytes, then 431; 0: no "
                        "limit (default: 8190)")
    p.add_argument("--limit-request-body", type=int, default=_default("limit_request_body"),
                   help="largest request body in bytes, then 413; 0: no limit "
                        "(default: 1073741824, 1 GiB)")
    p.add_argument("--backlog", type=int, default=_default("backlog"),
                   help="listen backlog (default: 2048)")
    p.add_argument("--log-level", choices=[lv.value for lv in LogLevel],
                   default=_default("log_level"), help="log level (default: info)")
    p.add_argument("-p", "--pid", default=_default("pid"), metavar="FILE",
                   help="write the server's process id to FILE once it is bound, and remove "
                        "the file on exit (gunicorn's -p/--pid)")
    p.add_argument("--ws", choices=[w.value for w in WebSocket], default=_default("ws"),
                   help="WebSocket: auto serves it (uvicorn's implementation names mean the "
                        "same); none hands upgrade requests to the app as plain HTTP "
                        "(default: auto)")
    p.add_argument("--ws-max-size", type=int, default=_default("ws_max_size"),
                   help="largest WebSocket message in bytes, after decompression; a larger "
                        "one closes the connection with 1009 (default: 16777216)")
    p.add_argument("--ws-max-queue", type=int, default=_default("ws_max_queue"),
                   help="WebSocket messages received but not yet taken by the app; beyond "
                        "it the server stops reading that socket (default: 32)")
    p.add_argument("--ws-ping-interval", type=float, default=_default("ws_ping_interval"),
                   help="send a WebSocket ping this often, in seconds; 0 for none (default: 20)")
    p.add_argument("--ws-ping-timeout", type=float, default=_default("ws_ping_timeout"),
                   help="close a WebSocket whose peer has not answered a ping within this "
                        "many seconds; 0 for never (default: 20)")
    p.add_argument("--ws-per-message-deflate", action=_BoolValueFlag,
                   default=_env_bool("ws_per_message_deflate", True),
                   help="offer permessage-deflate compression to WebSocket clients (default: on)")
    p.add_argument("--ssl-certfile", default=_default("ssl_certfile"), metavar="FILE",
                   help="serve HTTPS (and WSS) with this certificate: PEM, its chain after it")
    p.add_argument("--ssl-keyfile", default=_default("ssl_keyfile"), metavar="FILE",
                   help="the certificate's private key, PEM (default: in --ssl-certfile)")
    p.add_argument("--ssl-keyfile-password", default=_default("ssl_keyfile_password"),
                   help="the password of an encrypted --ssl-keyfile (better given as "
                        "SUBCORN_SSL_KEYFILE_PASSWORD: a command line is visible to everyone)")
    p.add_argument("--ssl-ca-certs", default=_default("ssl_ca_certs"), metavar="FILE",
                   help="CA certificates (PEM) that client certificates must chain to")
    p.add_argument("--ssl-cert-reqs", default=_default("ssl_cert_reqs"),
                   help="client certificates: none, optional (checked when shown) or required; "
                        "uvicorn's 0, 1, 2 mean the same (default: none)")
    p.add_argument("--ssl-ciphers", default=_default("ssl_ciphers"),
                   help="TLS 1.2 ciphers, in OpenSSL's syntax; TLS 1.3 suites stay OpenSSL's "
                        "(default: OpenSSL's)")
    p.add_argument("--ssl-min-version", choices=[v.value for v in TlsVersion],
                   default=_default("ssl_min_version"),
                   help="the oldest TLS version accepted (default: TLSv1.2)")
    p.add_argument("--ssl-handshake-timeout", type=float,
                   default=_default("ssl_handshake_timeout"),
                   help="close a connection whose TLS handshake takes longer than this many "
                        "seconds (default: 10)")
    p.add_argument("--ssl-reload", action=_BoolValueFlag, default=_env_bool("ssl_reload", False),
                   help="watch the certificate, key and CA files and use them for new "
                        "connections when they change; a broken set is refused and logged "
                        "(default: off)")
    p.add_argument("--http", choices=[v.value for v in HttpVersion], default=_default("http"),
                   help="HTTP versions served: auto serves HTTP/1.1 and HTTP/2 (prior knowledge, "
                        "h2c upgrade, ALPN h2 over TLS); 1 or 2 serves only that one "
                        "(default: %(default)s)")
    p.add_argument("--http2-max-concurrent-streams", type=int,
                   default=_default("http2_max_concurrent_streams"), metavar="N",
                   help="HTTP/2 streams one connection may have open at once; more are refused "
                        "(default: %(default)s)")
    p.add_argument("--http2-initial-window-size", type=int,
                   default=_default("http2_initial_window_size"), metavar="BYTES",
                   help="request body one HTTP/2 stream may send before its app reads some "
                        "(flow control; default: %(default)s)")
    p.add_argument("--http2-max-header-list-size", type=int,
                   default=_default("http2_max_header_list_size"), metavar="BYTES",
                   help="decoded header bytes one HTTP/2 request may have; more gets 431 "
                        "(default: %(default)s)")
    p.add_argument("--http2-keep-alive-interval", type=float,
                   default=_default("http2_keep_alive_interval"), metavar="SECONDS",
                   help="send an HTTP/2 PING this often and close a connection that has not "
                        "answered the previous one; 0 or unset for none (default: none)")
    p.add_argument("--proxy-headers", action=_BoolValueFlag,
                   default=_env_bool("proxy_headers", True),
                   help="from a peer in --forwarded-allow-ips, take the client, scheme and host "
                        "from X-Forwarded-For/-Proto/-Host/-Port or Forwarded (default: on)")
    p.add_argument("--forwarded-allow-ips", default=_default("forwarded_allow_ips"),
                   metavar="LIST",
                   help="the trusted proxies: comma-separated addresses and networks (CIDR), "
                        "'*' for all, 'unix:' for a peer on a unix socket (default: "
                        "$FORWARDED_ALLOW_IPS, else 127.0.0.1)")
    p.add_argument("--proxy-protocol", action=_BoolValueFlag,
                   default=_env_bool("proxy_protocol", False),
                   help="every connection begins with a PROXY protocol header (v1 or v2, as "
                        "HAProxy and AWS NLB send it) from a peer in --forwarded-allow-ips; "
                        "without one it is closed (default: off)")
    p.add_argument("--metrics", action=_BoolValueFlag, default=_env_bool("metrics", False),
                   help="serve Prometheus metrics at /metrics, and /healthz and /readyz, on "
                        "their own port (default: off)")
    p.add_argument("--metrics-host", default=_default("metrics_host"),
                   help="the metrics port's address (default: %(default)s)")
    p.add_argument("--metrics-port", type=int, default=_default("metrics_port"),
                   help="the metrics port, never the app's (default: %(default)s)")
    # --reload (development; docs/development.md): uvicorn's names and meanings.
    # (A plain flag: `subcorn --reload main:app` must not read main:app as its value.)
    p.add_argument("--reload", action=argparse.BooleanOptionalAction,
                   default=_env_bool("reload", False),
                   help="serve the new code when a watched file changes: in interpreters mode "
                        "the interpreters are replaced in place (same process and socket), in "
                        "processes mode the worker processes (default: off)")
    p.add_argument("--reload-dir", action="append", dest="reload_dirs", metavar="DIR",
                   help="watch this directory (repeatable; default: --app-dir, the current "
                        "directory)")
    p.add_argument("--reload-include", action="append", dest="reload_includes", metavar="GLOB",
                   help="also watch files matching GLOB, e.g. '*.html' (repeatable; *.py always, "
                        "unless excluded)")
    p.add_argument("--reload-exclude", action="append", dest="reload_excludes", metavar="GLOB",
                   help="ignore files (and directories) matching GLOB (repeatable; also always "
                        "'.*', '.py[cod]', '.sw.*', '~*' unless included)")
    p.add_argument("--access-log", action=argparse.BooleanOptionalAction,
                   default=_env_bool("access_log", True), help="log every request (default: on)")
    p.add_argument("--access-log-format", default=_default("access_log_format"), metavar="FORMAT",
                   help="the access line in gunicorn's atoms, e.g. '%%(h)s %%(l)s %%(u)s %%(t)s "
                        "\"%%(r)s\" %%(s)s %%(b)s \"%%(f)s\" \"%%(a)s\" %%(D)s' (and %%(worker)s, "
                        "%%(protocol)s, %%(client)s; see docs/logging.md) (default: uvicorn's line)")
    p.add_argument("--access-log-file", default=_default("access_log_file"), metavar="PATH",
                   help="write access lines to this file ('-': stdout), reopened on SIGUSR1 "
                        "(default: stdout)")
    # Checked by Config (one line and exit code 1, as every other bad value).
    p.add_argument("--log-format", default=_default("log_format"), metavar="{text,json}",
                   help="text (uvicorn's lines) or json (one object per line, access and error "
                        "records) (default: text)")
    p.add_argument("--log-config", default=_default("log_config"), metavar="FILE",
                   help="a logging configuration: dictConfig as .json or .yaml, else an INI file "
                        "for fileConfig; applied in the supervisor and in every interpreter")
    p.add_argument("--version", action="version", version=f"subcorn {__version__}",
                   help="print the version and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check"]:
        from subcorn import check  # the compatibility probe: subcorn check APP

        return check.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logger = _logging.setup(args.log_level)
    if not args.app:
        parser.print_usage(sys.stderr)
        logger.error("No app given: subcorn module:app")
        return 1
    try:
        # Every Config field that has a flag of the same name (hidden ones too).
        given = vars(args)
        config = Config(**{f.name: given[f.name] for f in dataclasses.fields(Config)
                           if f.name in given})
    except ConfigError as exc:
        logger.error("%s", exc)
        return 1
    if not _logging_usable(config, logger):
        return 1
    if config.supervised:  # a worker process: the engine itself, never a supervisor
        os.environ.pop(KEYFILE_PASSWORD_ENV, None)
        from subcorn._supervisor_child import follow_supervisor

        return serve(config, logger) if follow_supervisor() else 1
    if args.workers_max_rss is not None and args.workers_max_rss < 1:
        logger.error("--workers-max-rss must be at least 1 (MB)")
        return 1
    if config.tls and not _tls_usable(config, logger):
        return 1
    from subcorn import supervisor  # owns the socket, runs the engine in worker processes
    from subcorn._mode import resolve_mode

    config = resolve_mode(config, logger)  # --mode auto: probe in a throwaway process
    return supervisor.run(config, workers_max_rss=args.workers_max_rss)


def _logging_usable(config: Config, logger: object) -> bool:
    """--access-log-format compiled and --log-config applied as the workers
    will, before anything starts: a bad one is one line and exit code 1."""
    if config.access_log_format is not None:
        from subcorn import _native

        error = _native.check_access_log_format(config.access_log_format)
        if error:
            logger.error("%s", error)
            return False
    try:
        _logging.setup(str(config.log_level), str(config.log_format), config.log_config)
    except _logging.LogConfigError as exc:
        logger.error("%s", exc)
        return False
    return True


def _tls_usable(config: Config, logger: object) -> bool:
    """Whether the certificate, key and CA files load (as the engine will load
    them): checked before anything binds or starts, so that a broken one is
    one line and exit code 1, never an error at the first connection."""
    from subcorn import _native

    error = _native.check_tls(config.tls_settings())
    if error:
        logger.error("%s", error)
        return False
    return True


def serve(config: Config, logger: object) -> int:
    from subcorn import _native  # the extension: imported only to serve

    log = _logging.setup(str(config.log_level), str(config.log_format), config.log_config)
    what = "worker" if config.supervised else "server"
    if not config.supervised:  # else the supervisor said all this, and logs our pid
        log.info("Started server process [%d]", os.getpid())
        if config.mode == Mode.PROCESSES:
            how = "processes mode (the app in this process's main interpreter)"
        else:
            how = "interpreters mode (one process, own-GIL sub-interpreters)"
        log.info(
            "Serving %s with %d worker%s in %s on %s",
            config.app, config.workers, "" if config.workers == 1 else "s", how, config.address,
        )
    settings = config.engine_settings()
    ticket_keys = os.environ.pop(TICKET_KEYS_ENV, None)
    if ticket_keys:
        settings["ssl_ticket_keys"] = bytes.fromhex(ticket_keys)
    code, error, interpreters_left = _native.serve(settings)
    if code != 0 and error:
        log.error("%s", error)
    else:
        log.info("Finished %s process [%d]", what, os.getpid())
    if interpreters_left:
        # An interpreter whose app left threads running is not finalized
        # (that can hang or crash): exit around it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def main_exit() -> None:
    """The console script's entry point."""
    sys.exit(main())
