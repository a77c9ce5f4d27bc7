"""subcorn.run(app, **settings): the server started from Python, as
uvicorn.run. The keywords are the settings' names; they win over SUBCORN_*
variables and the config file (`config="subcorn.toml"`, else the app
directory's pyproject.toml), as flags do."""

from __future__ import annotations

import difflib
import logging
import os
import sys
from typing import Any

from subcorn import _sources
from subcorn.config import WORKER_ID_ENV, Config
from subcorn.settings import ConfigError

log = logging.getLogger("subcorn")


def run(app: str | Config | Any, /, *, config: str | None = None, **settings: Any) -> None:
    """Serves `app` until SIGINT/SIGTERM. `app` is an import string
    ("module:attr"), a Config, or an app object that a module-level name is
    bound to (each worker imports the app itself: an object cannot be handed
    to another interpreter or process). Raises ConfigError for a setting
    that cannot work; exits with the server's code when it fails."""
    if os.environ.get(WORKER_ID_ENV) is not None:
        # A worker imported the module that called us: without this, it would
        # start a server of its own.
        raise RuntimeError("subcorn.run() was called while a worker imported the app: call it "
                           "under `if __name__ == \"__main__\":`")
    from subcorn import _logging, cli

    object_given = False
    if isinstance(app, Config):
        if settings or config is not None:
            raise TypeError("subcorn.run(Config): give the settings in the Config")
        resolved_config = app
    else:
        given = _typed(settings)
        if not isinstance(app, str):
            caller = sys._getframe(1).f_globals.get("__name__")
            app, app_dir = import_string_of(app, caller)
            object_given = True
            if app_dir is not None:
                given.setdefault("app_dir", app_dir)
        given["app"] = app
        resolved_config = _sources.resolve(given, _sources.RUN, config_file=config).config()
    if object_given:
        _logging.setup(str(resolved_config.log_level))
        log.info("subcorn.run: serving the app object as %r (each worker imports it by that "
                 "name)", resolved_config.app)
    code = cli.start(resolved_config)
    if code:
        sys.exit(code)


def _typed(settings: dict[str, Any]) -> dict[str, Any]:
    by_name = {s.name: s for s in _sources.public_settings()}
    typed = {}
    for name, value in settings.items():
        s = by_name.get(name)
        if s is None or name == "app":
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"subcorn.run() got an unexpected keyword argument {name!r}{hint}")
        try:
            typed[name] = s.from_data(value)
        except ValueError as exc:
            raise ConfigError(f"subcorn.run({name}=...): {exc}") from None
    return typed


def import_string_of(app: object, caller: str | None) -> tuple[str, str | None]:
    """"module:attr" naming `app`, and the directory to import it from when
    that is not the current one (a script run as `python app.py`); looked
    for in the app's own module, the caller's, and __main__."""
    for module_name in dict.fromkeys([getattr(app, "__module__", None), caller, "__main__"]):
        module = sys.modules.get(module_name) if module_name else None
        if module is None:
            continue
        attr = next((name for name, value in vars(module).items() if value is app), None)
        if attr is None:
            continue
        if module_name != "__main__":
            return f"{module_name}:{attr}", None
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.name and spec.name != "__main__":
            return f"{spec.name}:{attr}", None  # python -m package.module
        path = getattr(module, "__file__", None)
        stem = os.path.splitext(os.path.basename(path or ""))[0]
        if stem.isidentifier():
            return f"{stem}:{attr}", os.path.dirname(os.path.abspath(path))
    raise ConfigError(
        "subcorn.run() cannot serve this app object: every worker imports the app in its own "
        "interpreter (or, with mode=\"processes\", its own freshly started process), and an "
        "object cannot be handed to either; no module-level name is bound to it. Pass its "
        "import string instead, e.g. subcorn.run(\"main:app\").")
