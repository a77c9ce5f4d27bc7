"""--mode auto: probe the app (in a throwaway process, never this one), then
serve it with interpreters when it loads in a sub-interpreter, else with
worker processes, saying which module decided it."""

from __future__ import annotations

import dataclasses
import logging

from subcorn.config import Config, Mode


def resolve_mode(config: Config, log: logging.Logger) -> Config:
    """The config with a concrete mode (interpreters or processes)."""
    if config.mode != Mode.AUTO:
        return config
    from subcorn import check  # the probe is only needed to decide

    try:
        result = check.probe(config)
    except check.CheckError as exc:
        log.warning("Could not probe %s (%s): serving with worker processes.", config.app, exc)
        return dataclasses.replace(config, mode=Mode.PROCESSES)
    if result.verdict == "cannot-import":
        # Interpreters mode fails the start with the app's own one-line error.
        return dataclasses.replace(config, mode=Mode.INTERPRETERS)
    if result.compatible:
        for slow in result.slower_paths:
            log.warning("In a sub-interpreter %s runs without %s (%s): %s.",
                        slow.package or slow.module, slow.module, slow.what, slow.effect)
        return dataclasses.replace(config, mode=Mode.INTERPRETERS)
    log.warning("%s: serving with worker processes (--mode processes).", result.reason)
    return dataclasses.replace(config, mode=Mode.PROCESSES)
