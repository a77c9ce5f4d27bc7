"""CPU time used by a server's whole process tree over a window.

A server is often several processes (a supervisor and its workers) and each has
many threads. /proc/PID/stat's utime+stime already sum every thread of a
process, so summing them over the process tree covers everything the server ran.
Per-thread times are kept too, only to show how the work spread.
"""

from dataclasses import dataclass

import psutil

# A process is keyed by (pid, start time) so a recycled pid is never mistaken
# for the process that had it before; a thread by (its process's key, tid).
ProcKey = tuple[int, float]
ThreadKey = tuple[ProcKey, int]


@dataclass(frozen=True)
class Snapshot:
    cpu: dict[ProcKey, float]  # seconds of user+system CPU per process
    threads: dict[ThreadKey, float]  # seconds of user+system CPU per thread


def snapshot(root_pid: int) -> Snapshot:
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return Snapshot({}, {})
    cpu: dict[ProcKey, float] = {}
    threads: dict[ThreadKey, float] = {}
    for proc in procs:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                key = (proc.pid, proc.create_time())
                per_thread = proc.threads()
        except psutil.NoSuchProcess, psutil.ZombieProcess:
            continue  # exited between listing and reading: see window_cpu
        # children_* is the CPU of children this process has already waited
        # for: a worker that exits and is reaped by its supervisor inside the
        # window still counts, through its parent.
        cpu[key] = times.user + times.system + times.children_user + times.children_system
        for thread in per_thread:
            threads[(key, thread.id)] = thread.user_time + thread.system_time
    return Snapshot(cpu, threads)


@dataclass(frozen=True)
class WindowCpu:
    seconds: float
    vanished: int  # processes seen before but not after: their share may be missing
    per_thread: list[float]  # seconds per thread alive at the end, largest first

    def split(self, threshold: float = 0.01) -> str:
        """How the work spread over threads (of every process), e.g. "97% 2%":
        one busy worker where two should share shows unbalanced connections."""
        total = sum(self.per_thread)
        if total <= 0:
            return ""
        shares = [s / total for s in self.per_thread if s / total >= threshold]
        return " ".join(f"{100 * share:.0f}%" for share in shares)

    def busiest_share(self) -> float:
        total = sum(self.per_thread)
        return self.per_thread[0] / total if total > 0 and self.per_thread else 0.0


# A round is unbalanced when, with W workers, one thread took more than this
# many W-ths of the server's CPU: 75% with 2 workers (50% is balanced, 100% is
# one worker doing everything), 19% with 8. A peer's worker processes count
# as threads: each runs its requests on one. With 1 worker there is nothing
# to balance.
UNBALANCED_FACTOR = 1.5


def unbalanced(busiest_share: float, workers: int) -> bool:
    """Whether a round's busiest thread shows its workers did not share the work."""
    return workers > 1 and busiest_share > UNBALANCED_FACTOR / workers


def window_cpu(before: Snapshot, after: Snapshot) -> WindowCpu:
    """CPU seconds the tree used between two snapshots.

    Processes present at both ends count their difference; processes born in
    the window count all they used. A process that exited in the window is
    only counted if a process in the tree reaped it (through children_*); its
    pre-window CPU is subtracted because the reaper adds its whole lifetime.
    """
    total = sum(seconds - before.cpu.get(key, 0.0) for key, seconds in after.cpu.items())
    vanished = [key for key in before.cpu if key not in after.cpu]
    total -= sum(before.cpu[key] for key in vanished)
    per_thread = sorted(
        (seconds - before.threads.get(key, 0.0) for key, seconds in after.threads.items()),
        reverse=True,
    )
    return WindowCpu(max(total, 0.0), len(vanished), per_thread)
