"""The device queue: one job trains at a time; the others wait their turn in FIFO order of enqueueing.

A queued job is an ordinary detached child process started with `--wait-for-device`. Its run directory
reads `waiting` (not an active state, so it holds nothing) with the time it was enqueued. It polls the
workspace every few seconds, before importing torch, and takes the device when no job is active and it
is the oldest live waiting job. Everything lives on disk, so the queue survives a UI restart and works
the same from the command line.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import ResourceError
from core.rundir import ACTIVE_STATES, WAITING, RunDir
from core.workspace import active_jobs, job_statuses, workspace_home

logger = logging.getLogger(__name__)

POLL_S = 2.0


@dataclass(frozen=True)
class QueuedJob:
    """One job holding or waiting for the device: its kind ('run' or 'search'), folder and place."""

    kind: str
    run: RunDir
    state: str
    position: int  # 0 for the active job, 1 for the next to go, ...
    enqueued: float

    @property
    def label(self) -> str:
        return f"{self.kind} {self.run.name}"


@contextmanager
def launch_lock() -> Iterator[None]:
    """The workspace-wide lock under which a job checks the device and claims or enqueues."""
    with (workspace_home() / ".launch.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def waiting_jobs(exclude: Path | None = None, jobs: list | None = None) -> list[QueuedJob]:
    """Live waiting jobs of the workspace (or of `jobs`, from `job_statuses`), first to go first.

    A waiting job whose process died reads 'crashed' (see RunDir.read_status) and is skipped.
    """
    found = [(float(status.get("enqueued") or 0), run.name, kind, run)
             for kind, run, status in (job_statuses() if jobs is None else jobs)
             if status.get("state") == WAITING and (exclude is None or run.path.resolve() != exclude.resolve())]
    return [QueuedJob(kind, run, WAITING, i, enqueued)
            for i, (enqueued, _, kind, run) in enumerate(sorted(found, key=lambda f: f[:2]), start=1)]


def list_queue() -> list[QueuedJob]:
    """The active jobs (position 0) then the waiting ones in the order they will run, from one workspace scan."""
    jobs = job_statuses()
    active = [QueuedJob(kind, run, status["state"], 0, 0.0) for kind, run, status in jobs
              if status.get("state") in ACTIVE_STATES]
    return [*active, *waiting_jobs(jobs=jobs)]


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_places(queue: list[QueuedJob] | None = None) -> dict[Path, str]:
    """'2nd in queue, after run X' for every waiting job of `queue` (default: `list_queue()`), by resolved folder."""
    queue = list_queue() if queue is None else queue
    return {job.run.path.resolve(): f"{ordinal(job.position)} in queue" + (f", after {queue[i - 1].label}" if i else "")
            for i, job in enumerate(queue) if job.state == WAITING}


def describe_position(run: RunDir) -> str | None:
    """'2nd in queue, after run X' for a waiting run; None when it is not waiting."""
    return queue_places().get(run.path.resolve())


def refuse_if_busy(run: RunDir) -> None:
    """Raise unless the device is free for `run`: no other job active and none waiting ahead of it.

    Raises:
        ResourceError: Another job is active, or others wait in the queue (starting now would jump it).
    """
    busy = active_jobs(exclude=run.path)
    if busy:
        raise ResourceError(f"The {busy[0]} is still active, and two jobs at once would fight for the same "
                            "processor and memory.", "Wait for it to finish or stop it, or queue this one.")
    waiting = waiting_jobs(exclude=run.path)
    if waiting:
        raise ResourceError(f"{len(waiting)} job(s) already wait for the device, the next being the "
                            f"{waiting[0].label}.", "Queue this one behind them.")


def enqueue(run: RunDir, pid: int | None = None) -> None:
    """Mark `run` as waiting from now (call under `launch_lock` so enqueue times follow click order)."""
    run.create()
    run.write_status(WAITING, pid=pid, enqueued=time.time(), phase="waiting for the device",
                     message="Waiting for the device: it starts when the jobs ahead of it end.")


def try_take_turn(run: RunDir) -> bool:
    """Claim the device for `run` if no job is active and it is the oldest live waiting job."""
    with launch_lock():
        if active_jobs(exclude=run.path):
            return False
        waiting = waiting_jobs()
        if waiting and waiting[0].run.path.resolve() != run.path.resolve():
            return False
        run.write_status("queued", pid=os.getpid(), phase="starting", message="Starting…")
        return True


def wait_for_device(run: RunDir, poll_s: float = POLL_S, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait (cheaply: no torch imported yet) until `run` may take the device, then claim it.

    A run not already waiting (started by hand, not by the launcher) is enqueued now. A STOP file
    cancels the wait: the run is marked stopped without training.

    Returns:
        True once the device is claimed (status 'queued'); False when the wait was cancelled.
    """
    if run.read_status().get("state") != WAITING:
        run.stop_file.unlink(missing_ok=True)  # an old run's sentinel must not cancel this new wait
        with launch_lock():
            enqueue(run, pid=os.getpid())
    else:
        run.write_status(WAITING, pid=os.getpid())
    while True:
        if run.stop_requested():
            run.stop_file.unlink(missing_ok=True)
            run.write_status("stopped", phase="cancelled", message="Cancelled while waiting in the queue; it never "
                                                                   "trained. Start it again when you need it.")
            return False
        if try_take_turn(run):
            return True
        run.write_status(WAITING)  # heartbeat: a waiter that stops refreshing reads as crashed
        sleep(poll_s)
