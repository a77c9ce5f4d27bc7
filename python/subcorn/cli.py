"""The command line: a flag for every setting (named like uvicorn's), derived
from the settings' declarations in config.py; -c/--config and --print-config."""

from __future__ import annotations

import argparse
import enum
import os
import sys
from collections.abc import Sequence

from subcorn import __version__, _env_file, _logging, _sources
from subcorn._sources import public_settings
from subcorn.config import Config, LogLevel, Mode
from subcorn.settings import ConfigError, Setting

# What the supervisor gives its worker processes through the environment
# rather than the command line (which `ps` shows to everyone): the session
# ticket keys every worker shares. A worker takes them out of its
# environment before the app is imported (and SUBCORN_SSL_KEYFILE_PASSWORD,
# the setting's variable, which it inherits from the supervisor).
KEYFILE_PASSWORD_ENV = "SUBCORN_SSL_KEYFILE_PASSWORD"
TICKET_KEYS_ENV = "SUBCORN_SSL_TICKET_KEYS"

class _BoolValueFlag(argparse.BooleanOptionalAction):
    """--flag, --no-flag, and uvicorn's `--flag BOOLEAN` (true/false, 1/0, yes/no)."""

    setting: Setting  # set by _add: the word's rule

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.nargs = "?"

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        if option_string and option_string.startswith("--no-"):
            value = False
        elif values is None:
            value = True
        else:
            try:
                value = self.setting.from_text(values)
            except ValueError as exc:
                parser.error(f"argument {option_string}: {exc}")
        setattr(namespace, self.dest, value)


def _converter(s: Setting):
    """argparse's `type` for the setting: its own text rule and message."""
    def convert(text: str) -> object:
        try:
            return s.from_text(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = s.kind.__name__
    return convert


def _add(p: argparse.ArgumentParser, s: Setting) -> None:
    """The setting's argument, derived from its declaration. Left out, it is
    not in the namespace at all (SUPPRESS): a variable, the config file or
    the default gives it then, and --print-config can tell which."""
    help_text = s.declared.help
    if shown := s.shown_default():
        help_text += f" (default: {shown})"
    kwargs: dict[str, object] = {"default": argparse.SUPPRESS,
                                 "help": help_text.replace("%", "%%")}
    if s.declared.positional:
        p.add_argument(s.name, nargs="?", **kwargs)
        return
    if s.declared.metavar:
        kwargs["metavar"] = s.declared.metavar
    elif issubclass(s.kind, enum.Enum):
        kwargs["metavar"] = "{" + ",".join(str(m.value) for m in s.kind) + "}"
    if s.kind is bool:
        kwargs.pop("metavar", None)
        if s.declared.switch:
            p.add_argument(*s.flags, dest=s.name, action=argparse.BooleanOptionalAction, **kwargs)
        else:
            p.add_argument(*s.flags, dest=s.name, action=_BoolValueFlag, **kwargs).setting = s
    elif s.kind is list:
        p.add_argument(*s.flags, dest=s.name, action="append", **kwargs)
    elif s.kind in (int, float):
        p.add_argument(*s.flags, dest=s.name, type=_converter(s), **kwargs)
    else:  # str, and enums: their value is checked with the rest (one line, exit 1)
        p.add_argument(*s.flags, dest=s.name, **kwargs)


# The command line's own options, which are not settings.
_CONFIG_FILE = "config_file"
_PRINT_CONFIG = "print_config"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="subcorn",
        description="Serve an ASGI app from many own-GIL sub-interpreters in one process.",
        epilog="Every setting can also be given as SUBCORN_<FLAG>, e.g. SUBCORN_WORKERS=4, or "
               "in a config file (-c FILE, or [tool.subcorn] in pyproject.toml): the command "
               "line wins over the variable, the variable over the file (docs/configuration.md).",
    )
    for s in public_settings():
        _add(p, s)
    p.add_argument("-c", "--config", dest=_CONFIG_FILE, metavar="FILE", default=None,
                   help="read settings from this TOML file (default: [tool.subcorn] in the "
                        "app directory's pyproject.toml, if it has one)")
    p.add_argument("--print-config", dest=_PRINT_CONFIG, action="store_true",
                   help="print every setting, its value and where it came from, and exit")
    p.add_argument("--version", action="version", version=f"subcorn {__version__}",
                   help="print the version and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check"]:
        from subcorn import check  # the compatibility probe: subcorn check APP

        return check.main(argv[1:])
    parser = build_parser()
    given = vars(parser.parse_args(argv))
    config_file, print_only = given.pop(_CONFIG_FILE), given.pop(_PRINT_CONFIG)
    # Until the settings are known (and checked): what is wrong with them is
    # said whatever --log-level asks for.
    logger = _logging.setup(str(LogLevel.INFO))
    try:
        resolved = _sources.resolve(given, _sources.CLI, config_file=config_file)
        if print_only:
            sys.stdout.write(_sources.print_config(resolved))
            return 0
        if not resolved.values["app"]:
            parser.print_usage(sys.stderr)
        config = resolved.config()
    except ConfigError as exc:
        logger.error("%s", exc)
        return 1
    return start(config)


def start(config: Config) -> int:
    """Serves `config` (the command line's, or subcorn.run's) with the
    supervisor until it stops; returns the exit code."""
    logger = _logging.setup(str(config.log_level))
    if not _logging_usable(config, logger):
        return 1
    if config.tls and not _tls_usable(config, logger):
        return 1
    if not _response_headers_usable(config, logger):
        return 1
    if config.env_file:
        # Before the probe and the worker processes import the app: they inherit it.
        _env_file.load(config.env_file)
    from subcorn import supervisor  # owns the socket, runs the engine in worker processes
    from subcorn._mode import ProbeInterrupted, resolve_mode

    try:
        config = resolve_mode(config, logger)  # --mode auto: probe in a throwaway process
    except ProbeInterrupted as exc:
        logger.info("Stopped (%s) while checking the app: nothing was started.", exc)
        return 128 + exc.signum
    return supervisor.run(config, workers_max_rss=config.workers_max_rss)


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


def _response_headers_usable(config: Config, logger: object) -> bool:
    """--header checked as the engine will (a name that is not a token, CR or
    LF in a value...): one line and exit code 1 before anything starts."""
    from subcorn import _native

    error = _native.check_response_headers(config.response_header_settings())
    if error:
        logger.error("%s", error)
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
