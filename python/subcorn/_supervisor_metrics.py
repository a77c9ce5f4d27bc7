"""--metrics, the supervisor's part: the metrics port lives in this process,
which outlives every worker process, so one scrape sees all of them and the
counters never go back when a worker is replaced or dies.

The port itself is the engine's (src/metrics/exporter.h: a C++ thread, no
Python, never the app): this module starts it, hands each worker process the
shared table its shards count in, and tells it what only the supervisor
knows: whether the server is ready, which worker processes are gone, which
were restarted or recycled, and the connections it refused itself.
"""

from __future__ import annotations

import logging

from subcorn.config import Config, Mode

log = logging.getLogger("subcorn")


class SupervisorMetrics:
    def __init__(self, exporter: object, table_fd: int, mode: Mode, workers: int) -> None:
        self._exporter = exporter
        self._table_fd = table_fd
        self._mode = mode
        self._workers = workers

    @classmethod
    def start(cls, config: Config, mode: Mode) -> SupervisorMetrics | str | None:
        """The running metrics port; None without --metrics; the error (one
        line) when it cannot be bound."""
        if not config.metrics:
            return None
        from subcorn import _native

        started = _native.metrics_start(config.metrics_host, config.metrics_port, config.workers)
        if isinstance(started, str):
            return started
        exporter, table_fd, port = started
        host = f"[{config.metrics_host}]" if ":" in config.metrics_host else config.metrics_host
        log.info("Metrics on http://%s:%d/metrics (and /healthz, /readyz)", host, port)
        return cls(exporter, table_fd, mode, config.workers)

    def worker_settings(self, slot: int) -> tuple[dict[str, int], tuple[int, ...]]:
        """What a worker process for `slot` is started with: the table's fd,
        and the number of its first worker (processes mode: its slot; the one
        process of interpreters mode holds workers 0..N-1)."""
        first = slot if self._mode == Mode.PROCESSES else 0
        return {"metrics_fd": self._table_fd, "metrics_slot": first}, (self._table_fd,)

    def _workers_of(self, slot: int) -> range:
        return range(slot, slot + 1) if self._mode == Mode.PROCESSES else range(self._workers)

    def _event(self, what: str, value: int = 0) -> None:
        from subcorn import _native

        _native.metrics_event(self._exporter, what, value)

    def ready(self, serving: bool) -> None:
        self._event("ready" if serving else "not_ready")

    def process_gone(self, pid: int) -> None:
        self._event("process_gone", pid)

    def restarted(self, slot: int) -> None:
        for worker in self._workers_of(slot):
            self._event("restart", worker)

    def recycled(self, slot: int) -> None:
        for worker in self._workers_of(slot):
            self._event("recycle", worker)

    def refused(self, status: int) -> None:
        self._event("rejection", status)

    def close(self) -> None:
        from subcorn import _native

        _native.metrics_stop(self._exporter)
