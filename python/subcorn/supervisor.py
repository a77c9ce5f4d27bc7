"""The supervisor: a small parent process that owns the listening socket,
starts the worker process(es), replaces one that dies, recycles and reloads
them, and stops them on SIGINT/SIGTERM. docs/supervisor.md tells the story.

In interpreters mode it supervises one child that holds every shard; in
processes mode, one child per worker. Everything happens on one thread in one
select loop: signals arrive through signal.set_wakeup_fd, the children speak
on a socket each (`ready`, `retire`, `draining`), timers are a short heap.
In processes mode the accepting itself is the engine's, on a thread of its
own (`Acceptor`); this loop only tells it which workers take connections.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import heapq
import itertools
import logging
import math
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Literal

from subcorn import _logging, _reload
from subcorn._supervisor_metrics import SupervisorMetrics
from subcorn._supervisor_listen import (SERVICE_UNAVAILABLE, Acceptor, BindError, Listener,
                                        ThrottledReport, open_listener, raise_open_file_limit)
from subcorn._supervisor_worker import State, Worker, child_args, describe_exit, rss_bytes
from subcorn.config import Config, Mode

# A worker that served this long before it died was not crash-looping: the
# next one starts at once and the back-off starts over.
STABLE_AFTER = 5.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 10.0
RSS_POLL_INTERVAL = 1.0
# The engine's own shutdown watchdog fires at --timeout-graceful-shutdown plus
# this (src/server/settings.h); the supervisor's SIGKILL comes a little later.
ENGINE_WATCHDOG = 15.0
KILL_MARGIN = 1.0
# How long the acceptor pauses when it is out of file descriptors or memory,
# or no worker process can take a connection (src/supervise/acceptor.cpp).
ACCEPT_BACKOFF = 0.1
# A replaced generation says `draining` as soon as its SIGUSR1 is read; one
# that says nothing for this long (stopped, or an old engine) is not waited for.
DRAIN_ACK_TIMEOUT = 2.0

log = logging.getLogger("subcorn")


def run(config: Config, *, workers_max_rss: int | None = None) -> int:
    """Serves `config` with supervised worker processes until SIGINT/SIGTERM;
    returns the exit code. `workers_max_rss` (MB): recycle a worker process
    whose resident memory grows beyond it."""
    _logging.setup(str(config.log_level), str(config.log_format), config.log_config)
    log.info("Started server process [%d]", os.getpid())
    open_file_limit = raise_open_file_limit()
    if config.reload and (why := _reload.missing_watcher()):
        log.error("%s", why)
        return 1
    try:
        listener = open_listener(config)
    except BindError as exc:
        log.error("%s", exc)
        return 1
    pid_file = None
    metrics: SupervisorMetrics | str | None = None
    try:
        metrics = SupervisorMetrics.start(config, concrete_mode(config))
        if isinstance(metrics, str):
            log.error("%s", metrics)
            return 1
        if config.pid:
            try:
                pid_file = PidFile.write(config.pid)
            except OSError as exc:
                log.error("Cannot write the pid file %s: %s", config.pid, exc.strerror or exc)
                return 1
        return Supervisor(config, listener, workers_max_rss, open_file_limit, metrics).run()
    finally:
        if isinstance(metrics, SupervisorMetrics):
            metrics.close()
        if pid_file is not None:
            pid_file.remove()
        listener.close()
        listener.remove_file()


class PidFile:
    """--pid FILE: this process's id, written once the socket is bound (so a
    script that waits for the file finds a server that accepts) and removed
    on exit unless another process has written its own id there since."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.content = f"{os.getpid()}\n"

    @classmethod
    def write(cls, path: str) -> PidFile:
        pid_file = cls(path)
        # Written beside the target and renamed over it: a reader never sees
        # a half-written file.
        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w") as f:
                f.write(pid_file.content)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return pid_file

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            with open(self.path) as f:
                if f.read() != self.content:
                    return
            os.unlink(self.path)


def concrete_mode(config: Config) -> Mode:
    # `auto` is decided by the compatibility probe before the supervisor runs
    # (cli.main calls _mode.resolve_mode); undecided, it means interpreters.
    return Mode.PROCESSES if config.mode == Mode.PROCESSES else Mode.INTERPRETERS


def backoff(quick_deaths: int) -> float:
    """Seconds to wait before starting a slot's next worker."""
    if quick_deaths <= 0:
        return 0.0
    return min(BACKOFF_FIRST * 2 ** (quick_deaths - 1), BACKOFF_MAX)


class Timers:
    """Callbacks at monotonic times; cancel by keeping the handle."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(fn)
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), timer))
        return timer

    def timeout(self) -> float | None:
        """How long select() may wait."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        return max(0.0, self._heap[0][0] - time.monotonic())

    def run_due(self) -> None:
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            timer = heapq.heappop(self._heap)[2]
            if not timer.cancelled:
                timer.cancelled = True
                timer.fn()

    def cancel_all(self) -> None:
        for _, _, timer in self._heap:
            timer.cancelled = True
        self._heap.clear()


@dataclasses.dataclass(eq=False)
class Timer:
    fn: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclasses.dataclass(eq=False)
class Batch:
    """Workers started together that take over together once all are ready:
    the first start, a reload (every slot) or one replacement."""

    kind: Literal["startup", "reload", "replace"]
    workers: list[Worker] = dataclasses.field(default_factory=list)
    # Taking over: the workers it replaces that have not said `draining` yet
    # (stopped accepting), and the timer that stops waiting for them.
    awaiting_drain: set[Worker] = dataclasses.field(default_factory=set)
    drain_timer: Timer | None = None


@dataclasses.dataclass(eq=False)
class Slot:
    """One place for a worker: one in interpreters mode, --workers in
    processes mode."""

    index: int
    current: Worker | None = None  # serving (or draining after it asked to retire)
    pending: Worker | None = None  # its successor, starting
    batch: Batch | None = None     # the batch `pending` belongs to
    quick_deaths: int = 0          # deaths in a row soon after starting
    restart: Timer | None = None   # a start waiting out its back-off


class Supervisor:
    def __init__(self, config: Config, listener: Listener, workers_max_rss: int | None,
                 open_file_limit: int = -1, metrics: SupervisorMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.listener = listener
        self.listen_fd = listener.fd
        self.mode = concrete_mode(config)
        # Processes mode: the acceptor (a thread of the engine's) accepts and
        # hands each connection to the worker process holding the fewest (the
        # kernel, left to itself, can put every keep-alive connection on one
        # process). Interpreters mode: the one worker process accepts and
        # balances over its shards.
        self.handoff = self.mode == Mode.PROCESSES
        self.acceptor: Acceptor | None = None
        self.switching: list[Batch] = []  # taking over, waiting for the old to drain
        self.accept_error = ""  # why accepting backs off, for the log
        self.accept_errno = 0
        self.open_file_limit = open_file_limit
        self.deferred_accepts = ThrottledReport(self._say_deferred)
        self.over_limit = ThrottledReport(self._say_over_limit)
        self.unplaced = ThrottledReport(self._say_unplaced)
        self.report_timer: Timer | None = None
        self.child_secrets = tls_secrets(config)
        # A connection that will not be served gets 503, or over TLS is closed
        # (plain text would be garbage to a TLS client).
        self.refusal = b"" if config.tls else SERVICE_UNAVAILABLE
        per_child = 1 if self.mode == Mode.PROCESSES else config.workers
        self.child_args = child_args(config, self.mode, per_child,
                                     None if self.handoff else self.listen_fd)
        count = config.workers if self.mode == Mode.PROCESSES else 1
        self.slots = [Slot(i) for i in range(count)]
        self.workers: set[Worker] = set()  # every child not reaped yet
        self.max_rss = workers_max_rss * 1024 * 1024 if workers_max_rss else None
        self.timers = Timers()
        self.selector = selectors.DefaultSelector()
        self.started = False   # the first batch is serving
        self.started_listening = False
        self.stopping = False
        self.exit_code = 0
        # --reload: the file watcher; when the last change was seen; whether a
        # first start failed and the next change starts the workers again.
        self.watcher = _reload.Watcher.for_config(config) if config.reload else None
        self.code_changed_at = -math.inf
        self.waiting_for_change = False

    # ------------------------------------------------------------ the loop

    def run(self) -> int:
        self._log_serving()
        wakeup_r, wakeup_w = socket.socketpair()
        for s in (wakeup_r, wakeup_w):
            s.setblocking(False)
        self.selector.register(wakeup_r, selectors.EVENT_READ, lambda: self._on_signals(wakeup_r))
        old_wakeup = signal.set_wakeup_fd(wakeup_w.fileno(), warn_on_full_buffer=False)
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1)
        # The handlers do nothing: the byte each signal writes to the wakeup
        # socket is what the loop reads and acts on.
        old_handlers = {sig: signal.signal(sig, _ignore) for sig in handled}
        try:
            if self.watcher:
                self.watcher.start()
                self.selector.register(self.watcher, selectors.EVENT_READ, self._on_file_change)
            if self.handoff:
                try:
                    self.acceptor = Acceptor.start([self.listen_fd], self.refusal,
                                                   self.config.limit_max_connections or 0)
                except OSError as exc:
                    log.error("%s", exc)
                    return 1
                self.selector.register(self.acceptor.attention_fd, selectors.EVENT_READ,
                                       self._on_acceptor_news)
            self._start_batch("startup")
            if self.max_rss:
                self.timers.call_later(RSS_POLL_INTERVAL, self._check_rss)
            while self.workers or not self.stopping:
                events = self.selector.select(self.timers.timeout())
                # What the workers said first: a SIGHUP that comes with a
                # worker's `ready` finds the server started.
                for key, _ in sorted(events, key=lambda event: event[0].fileobj is wakeup_r):
                    key.data()
                self.timers.run_due()
        finally:
            if self.watcher:
                self.watcher.stop()
            self._stop_acceptor()
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_wakeup)
            self.selector.close()
            wakeup_r.close()
            wakeup_w.close()
        if self.exit_code == 0:
            log.info("Finished server process [%d]", os.getpid())
        return self.exit_code

    def _log_serving(self) -> None:
        n = self.config.workers
        if self.mode == Mode.PROCESSES:
            how = f"processes mode ({n} worker process{'es' if n != 1 else ''}, the app in " \
                  "each one's main interpreter)"
        else:
            how = "interpreters mode (one process, own-GIL sub-interpreters)"
        address = self.listener.address
        if self.config.tls:
            address = address.replace("http://", "https://", 1)
        log.info("Serving %s with %d worker%s in %s on %s", self.config.app, n,
                 "" if n == 1 else "s", how, address)

    def _on_signals(self, wakeup: socket.socket) -> None:
        try:
            data = wakeup.recv(256)
        except BlockingIOError:
            return
        for signum in data:
            if signum == signal.SIGCHLD:
                self._reap()
            elif signum == signal.SIGHUP:
                self._reload()
            elif signum == signal.SIGUSR1:
                self._reopen_logs()
            elif signum in (signal.SIGINT, signal.SIGTERM):
                self._on_stop_signal(signal.Signals(signum).name)

    def _reopen_logs(self) -> None:
        """SIGUSR1, as gunicorn takes it after logrotate moved the files: the
        supervisor's own file handlers (--log-config) and every worker's
        --access-log-file are opened anew by name."""
        for logger in (logging.getLogger(), *logging.Logger.manager.loggerDict.values()):
            for handler in getattr(logger, "handlers", ()):
                if isinstance(handler, logging.FileHandler):
                    handler.close()  # the next record opens the file by its name again
        for worker in self.workers:
            worker.reopen_logs()
        log.info("Reopening log files (SIGUSR1)")

    # ------------------------------------------------------------ starting

    def _spawn(self, slot: Slot, batch: Batch) -> Worker | None:
        try:
            worker = Worker.spawn(slot.index, self.child_args,
                                  None if self.handoff else self.listen_fd, self.child_secrets,
                                  self.metrics.worker_args(slot.index) if self.metrics else ([], ()))
        except (OSError, subprocess.SubprocessError) as exc:
            log.error("Could not start a worker process: %s", exc)  # EMFILE, ENOMEM...
            return None
        log.info("Started worker process [%d]", worker.pid)
        self.workers.add(worker)
        self.selector.register(worker.pipe, selectors.EVENT_READ, lambda: self._on_output(worker))
        if self.acceptor:
            self.acceptor.add_worker(worker.pid, worker.take_handoff_channel())
        elif slot.current is None:
            worker.allow_accepting()  # nobody else accepts: it serves as soon as it can
        slot.pending, slot.batch = worker, batch
        batch.workers.append(worker)
        return worker

    def _start_batch(self, kind: Literal["startup", "reload"]) -> None:
        batch = Batch(kind)
        for slot in self.slots:
            if self._spawn(slot, batch) is None:
                self._batch_failed(batch)
                return

    def _start_replacement(self, slot: Slot) -> None:
        slot.restart = None
        if self.stopping or slot.pending is not None:
            return
        if self._spawn(slot, Batch("replace")) is None:
            self._schedule_restart(slot, failed=True, why="Could not start a worker process")

    def _schedule_restart(self, slot: Slot, *, failed: bool, why: str) -> None:
        """Starts the slot's next worker now, or after its back-off when
        workers keep dying soon after they start; logs `why` with which."""
        if failed:
            slot.quick_deaths += 1
        if self.stopping or slot.pending is not None or slot.restart is not None:
            log.warning("%s", why)  # the worker on its way takes over
            return
        delay = backoff(slot.quick_deaths)
        if delay:
            n = slot.quick_deaths
            log.warning("%s: starting a new one in %.1f s (%d quick exit%s in a row)", why, delay,
                        n, "" if n == 1 else "s")
        else:
            log.warning("%s: starting a new one", why)
        slot.restart = self.timers.call_later(delay, lambda: self._start_replacement(slot))

    # ------------------------------------------------------------ handing over

    def _targets(self) -> list[Worker]:
        return [s.current for s in self.slots
                if s.current is not None and s.current.state is State.READY]

    def _update_targets(self) -> None:
        """Processes mode: the serving workers are the acceptor's targets; the
        socket listens once there is one."""
        if self.acceptor is None:
            return
        targets = [] if self.stopping else self._targets()
        if targets and not self.started_listening:
            self.listener.sock.listen(self.config.backlog)
            self.started_listening = True
        self.acceptor.set_targets([w.pid for w in targets])

    def _stop_acceptor(self) -> None:
        if self.acceptor is not None:
            self.selector.unregister(self.acceptor.attention_fd)
            self.acceptor.stop()
            self.acceptor = None

    def _on_acceptor_news(self) -> None:
        assert self.acceptor is not None
        news = self.acceptor.report()
        if news["deferred"]:
            err = news["deferred_errno"]
            self.accept_error, self.accept_errno = os.strerror(err), err
            self.deferred_accepts.count(news["deferred"])
        self.over_limit.count(news["over_limit"])
        self.unplaced.count(news["unplaced"])
        if self.metrics:
            for _ in range(news["over_limit"] + news["unplaced"]):
                self.metrics.refused(503)
        self._tell_refusals()

    # ------------------------------------------------------------ refusals, once a second

    def _on_report_timer(self) -> None:
        self.report_timer = None
        self._tell_refusals()

    def _tell_refusals(self) -> None:
        """Logs the lines that are due, and wakes up for the next one."""
        now = time.monotonic()
        reports = (self.deferred_accepts, self.over_limit, self.unplaced)
        for report in reports:
            report.tell_due(now)
        due = min(report.next_due() for report in reports)
        if due != math.inf and self.report_timer is None and not self.stopping:
            self.report_timer = self.timers.call_later(due - now, self._on_report_timer)

    def _say_deferred(self, n: int) -> None:
        why = self.accept_error
        if self.accept_errno == errno.EMFILE and self.open_file_limit > 0:
            why += f" (open-file limit {self.open_file_limit})"
        log.warning("Cannot accept new connections: %s, %d time%s since the last report. They "
                    "wait in the listen backlog, retried every %.1f s; open connections are "
                    "still served.", why, n, "" if n == 1 else "s", ACCEPT_BACKOFF)

    def _say_over_limit(self, n: int) -> None:
        log.warning("--limit-max-connections %d reached: %d new connection%s answered 503 and "
                    "closed since the last report.", self.config.limit_max_connections, n,
                    "" if n == 1 else "s")

    def _say_unplaced(self, n: int) -> None:
        log.warning("No worker process could take %d new connection%s (their queues are full): "
                    "answered 503 and closed since the last report.", n, "" if n == 1 else "s")

    # ------------------------------------------------------------ children's news

    def _on_output(self, worker: Worker) -> None:
        lines = worker.read_lines()
        if lines is None:  # end of file: the child exited; SIGCHLD tells how
            self._close_pipe(worker)
            return
        for line in lines:
            if line == "ready":
                self._on_ready(worker)
            elif line == "retire":
                self._retire(worker, "served its --max-requests")
            elif line == "draining":
                self._on_draining(worker)
            elif line:
                log.debug("Worker process [%d] said %r", worker.pid, line)

    def _close_pipe(self, worker: Worker) -> None:
        if worker.pipe >= 0:
            self.selector.unregister(worker.pipe)
            worker.close_pipe()

    def _on_ready(self, worker: Worker) -> None:
        if worker.state is not State.STARTING:
            return
        worker.mark_ready()
        if worker.started_at < self.code_changed_at and self.mode == Mode.INTERPRETERS:
            worker.reload_in_place()  # it may have imported the code from before the change
        slot = self.slots[worker.slot]
        batch = slot.batch
        if worker is not slot.pending or batch is None:
            return
        if all(w.state is State.READY for w in batch.workers):
            self._take_over(batch)

    def _take_over(self, batch: Batch) -> None:
        """The batch's workers serve from now on; the ones they replace drain.
        No new connection reaches a replaced worker once the batch is
        announced: in processes mode the acceptor's targets change at once;
        in interpreters mode, where the workers accept themselves, the new
        generation is told to accept only once the old one said it stopped
        (connections meanwhile wait in the listen backlog)."""
        old = []
        for worker in batch.workers:
            slot = self.slots[worker.slot]
            if slot.current is not None:
                old.append(slot.current)
            slot.current, slot.pending, slot.batch = worker, None, None
        self.started = True
        self._update_targets()
        for worker in old:
            log.info("Stopping worker process [%d] (replaced)", worker.pid)
            worker.terminate(replaced=True)
            if self.metrics:
                self.metrics.recycled(worker.slot)
        batch.awaiting_drain = {w for w in old if w in self.workers and w.pipe >= 0}
        self.switching.append(batch)
        if batch.awaiting_drain:
            batch.drain_timer = self.timers.call_later(DRAIN_ACK_TIMEOUT,
                                                       lambda: self._switched(batch))
        else:
            self._switched(batch)

    def _on_draining(self, worker: Worker) -> None:
        """`worker` stopped accepting, and reads no new request on a kept-alive
        connection: a batch that waited for it may take over."""
        for batch in list(self.switching):
            batch.awaiting_drain.discard(worker)
            if not batch.awaiting_drain:
                self._switched(batch)

    def _switched(self, batch: Batch) -> None:
        """The replaced workers stopped accepting (or were waited for long
        enough): the batch accepts, and is announced."""
        if batch not in self.switching:
            return
        self.switching.remove(batch)
        if batch.drain_timer is not None:
            batch.drain_timer.cancel()
        if batch.awaiting_drain:
            log.warning("Replaced worker process(es) %s did not say they stopped accepting "
                        "within %.0f s: their successors accept anyway",
                        " ".join(f"[{w.pid}]" for w in batch.awaiting_drain), DRAIN_ACK_TIMEOUT)
            batch.awaiting_drain = set()
        if self.stopping:
            return
        for worker in batch.workers:
            if worker is self.slots[worker.slot].current and not self.handoff:
                worker.allow_accepting()
        if batch.kind == "reload":
            log.info("Reload complete: %d new worker process%s serving", len(batch.workers),
                     "" if len(batch.workers) == 1 else "es")
        elif batch.kind == "startup":
            log.info("subcorn running on %s (Press CTRL+C to quit)", self.config.address)
        if self.metrics:
            self.metrics.ready(True)
        for worker in batch.workers:
            if worker.retire_why is not None and worker is self.slots[worker.slot].current:
                self._replace(worker)

    def _retire(self, worker: Worker, why: str) -> None:
        if self.stopping or worker.retire_why is not None:
            return
        worker.retire_why = why
        # A worker serves as soon as its first shard does, so it can reach
        # --max-requests before it says `ready`: it is replaced once it has
        # taken over.
        if worker is self.slots[worker.slot].current:
            self._replace(worker)

    def _replace(self, worker: Worker) -> None:
        slot = self.slots[worker.slot]
        log.info("Worker process [%d] %s: replacing it", worker.pid, worker.retire_why)
        if slot.pending is None and slot.restart is None:
            self._start_replacement(slot)

    def _check_rss(self) -> None:
        assert self.max_rss is not None
        for slot in self.slots:
            worker = slot.current
            if worker is None or worker.state is not State.READY or worker.retire_why:
                continue
            rss = rss_bytes(worker.pid)
            if rss is not None and rss > self.max_rss:
                self._retire(worker, f"uses {rss // 2**20} MB of memory, above "
                                     f"--workers-max-rss {self.max_rss // 2**20} MB")
        if not self.stopping:
            self.timers.call_later(RSS_POLL_INTERVAL, self._check_rss)

    # ------------------------------------------------------------ deaths

    def _reap(self) -> None:
        for worker in list(self.workers):
            if worker.proc.poll() is not None:
                self._on_output(worker)  # a `ready` it wrote before it died counts
                self._close_pipe(worker)
                self.workers.discard(worker)
                if self.metrics:  # its shards' blocks, if it died with them
                    self.metrics.process_gone(worker.pid)
                self._on_exit(worker, worker.proc.returncode)

    def _on_exit(self, worker: Worker, code: int) -> None:
        how = describe_exit(code)
        self._on_draining(worker)  # a batch waiting for it to stop waits no more
        slot = self.slots[worker.slot]
        if self.stopping:
            if code != 0 and worker.ever_ready:
                log.warning("Worker process [%d] %s while stopping", worker.pid, how)
                self.exit_code = 1
            else:
                log.debug("Worker process [%d] finished", worker.pid)
        elif worker is slot.pending:
            self._on_failed_start(worker, slot, how)
        elif worker is slot.current:
            slot.current = None
            self._update_targets()
            if slot.pending is not None:
                slot.pending.allow_accepting()  # nobody else accepts now
            if self.metrics:
                self.metrics.restarted(slot.index)
            stable = worker.stable(time.monotonic(), STABLE_AFTER)
            if stable:
                slot.quick_deaths = 0
            unasked = " (it was not asked to stop)" if code == 0 else ""
            self._schedule_restart(slot, failed=not stable,
                                   why=f"Worker process [{worker.pid}] {how}{unasked}")
        elif code != 0 and worker.ever_ready:
            log.warning("Worker process [%d] %s while draining", worker.pid, how)
        else:
            log.debug("Worker process [%d] finished", worker.pid)

    def _on_failed_start(self, worker: Worker, slot: Slot, how: str) -> None:
        batch = slot.batch
        slot.pending, slot.batch = None, None
        if batch is None or batch.kind == "replace":
            self._schedule_restart(slot, failed=True,
                                   why=f"Worker process [{worker.pid}] {how} before it was ready")
        elif batch.kind == "startup" and self.watcher:
            log.error("Worker process [%d] %s before it was ready: waiting for a file to "
                      "change to start again (--reload)", worker.pid, how)
            self._wait_for_change(batch)
        elif batch.kind == "startup":
            # Its own output says why (an import error, a failed lifespan startup).
            log.error("Worker process [%d] %s before it was ready: stopping", worker.pid, how)
            self.exit_code = 1
            self._stop()
        else:
            log.error("Reload failed: worker process [%d] %s before it was ready; the running "
                      "workers keep serving", worker.pid, how)
            self._batch_failed(batch)

    def _batch_failed(self, batch: Batch) -> None:
        """Gives up a batch that cannot take over: stops its other workers, and
        restarts a slot whose old worker died meanwhile."""
        if batch.kind == "startup":
            self.exit_code = 1
            self._stop()
            return
        for worker in batch.workers:
            slot = self.slots[worker.slot]
            if slot.pending is worker:
                slot.pending, slot.batch = None, None
                worker.terminate()
        for slot in self.slots:
            if slot.current is None and slot.pending is None and slot.restart is None:
                self._schedule_restart(slot, failed=False, why="No worker process serves")

    # ------------------------------------------------------------ --reload

    def _on_file_change(self) -> None:
        """Watched files changed: the new code is served, in place in
        interpreters mode, by new worker processes in processes mode; a .py
        file that does not compile leaves the old code serving."""
        assert self.watcher is not None
        changed = self.watcher.take()
        if not changed or self.stopping:
            return
        error = _reload.syntax_error(changed)
        if error is not None:
            log.error("Detected changes in %s, but %s does not compile: the old code keeps "
                      "serving", _reload.describe(changed), error.filename,
                      exc_info=(type(error), error, None))
            return
        _reload.forget_bytecode(changed)
        self.code_changed_at = time.monotonic()
        log.warning("Detected changes in %s: reloading", _reload.describe(changed))
        if self.waiting_for_change:
            self.waiting_for_change = False
            self._start_batch("startup")
        elif self.mode == Mode.PROCESSES:
            self._reload("a file changed")
        else:
            # A worker still starting is told once it is ready (_on_ready).
            for slot in self.slots:
                if slot.current is not None and slot.current.state is State.READY:
                    slot.current.reload_in_place()

    def _wait_for_change(self, batch: Batch) -> None:
        """--reload: a first start that failed is tried again after the next
        change (the user is fixing the code) rather than ending the server."""
        for worker in batch.workers:
            slot = self.slots[worker.slot]
            if slot.pending is worker:
                slot.pending, slot.batch = None, None
                worker.terminate()
        self.waiting_for_change = True

    # ------------------------------------------------------------ reload

    def _reload(self, why: str = "SIGHUP") -> None:
        if self.stopping:
            return
        if not self.started:
            log.warning("Reload (%s) while starting: ignored (reload once the server is up)", why)
            return
        if self.config.tls:
            # A certificate replaced by a broken one must not take the server
            # down with it: the running generation keeps serving.
            from subcorn import _native

            error = _native.check_tls(self.config.tls_settings())
            if error:
                log.error("Reload refused (%s): %s; the running workers keep serving", why, error)
                return
        log.info("Reloading (%s): starting %d new worker process%s", why, len(self.slots),
                 "" if len(self.slots) == 1 else "es")
        # A newer reload supersedes whatever was starting: it brings the
        # newest code, and replaces every slot anyway.
        for slot in self.slots:
            if slot.restart is not None:
                slot.restart.cancel()
                slot.restart = None
            if slot.pending is not None:
                slot.pending.terminate()
                slot.pending, slot.batch = None, None
        self._start_batch("reload")

    # ------------------------------------------------------------ stopping

    def _on_stop_signal(self, name: str) -> None:
        if self.stopping:
            log.warning("Second signal: killing the worker processes.")
            for worker in self.workers:
                worker.kill()
            self.exit_code = 1
            return
        log.info("Shutting down (%s)", name)
        self._stop()

    def _stop(self) -> None:
        """Every worker drains and exits; the loop ends when all have."""
        if self.stopping:
            return
        self.stopping = True
        if self.metrics:
            self.metrics.ready(False)
        self.timers.cancel_all()
        for worker in self.workers:
            worker.terminate()
        # Stop holding the socket: once the workers have closed theirs (they
        # do when they start to drain), new connections are refused. The
        # acceptor's thread ends before the socket is closed under it (and
        # after the workers' SIGTERM: the end of their channels tells them
        # the supervisor is gone, which a worker would otherwise take as the
        # signal and finish before the SIGTERM came).
        self._stop_acceptor()
        self.listener.close()
        grace = self.config.timeout_graceful_shutdown + ENGINE_WATCHDOG + KILL_MARGIN
        self.timers.call_later(grace, self._kill_stragglers)

    def _kill_stragglers(self) -> None:
        if not self.workers:
            return
        log.error("%d worker process(es) did not stop in time: killing them", len(self.workers))
        for worker in self.workers:
            worker.kill()
        self.exit_code = 1


def tls_secrets(config: Config) -> dict[str, str]:
    """What every worker process gets in its environment for TLS: the key's
    password, and session ticket keys made once here, so that a session one
    worker began resumes on any other, and on the workers of a reload."""
    if not config.tls:
        return {}
    from subcorn.cli import KEYFILE_PASSWORD_ENV, TICKET_KEYS_ENV

    secrets = {TICKET_KEYS_ENV: os.urandom(80).hex()}  # name 16, HMAC key 32, AES key 32
    if config.ssl_keyfile_password:
        secrets[KEYFILE_PASSWORD_ENV] = config.ssl_keyfile_password
    return secrets


def _ignore(signum: int, frame: object) -> None:
    """A handler is needed for the wakeup fd to be written; the loop acts."""
