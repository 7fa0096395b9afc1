"""Starting engine runs as detached child processes through the same CLI a user would type."""

from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from dataclasses import fields

from core import standby
from core.config import TrainConfig
from core.device_queue import enqueue, launch_lock, refuse_if_busy
from core.rundir import RunDir
from core.standby import REPO_ROOT  # noqa: F401  (the project folder; callers import it from here)

WAIT_FLAG = "--wait-for-device"


def train_command(run: RunDir, resume: bool = False) -> list[str]:
    """The exact argv that trains (or resumes) the run."""
    if resume:
        return [sys.executable, "-m", "core", "train", "--output", str(run.path), "--resume"]
    return [sys.executable, "-m", "core", "train", "--config", str(run.request), "--output", str(run.path)]


def flags_command(cfg: TrainConfig, output: str) -> str:
    """The equivalent `python -m core train` call with flags, listing only settings that differ from defaults."""
    defaults = TrainConfig()
    parts = ["python", "-m", "core", "train"]
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        if value == getattr(defaults, f.name) and f.name not in {"train", "text_column", "label_column"}:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{f.name.replace('_', '-')}")
        elif isinstance(value, list):
            parts += [flag, *map(str, value)]
        elif value is not None:
            parts += [flag, str(value)]
    return shlex.join([*parts, "--output", output])


def start_run(cfg: TrainConfig | None, run: RunDir, resume: bool = False, wait: bool = False) -> int:
    """Launch training in its own session (it outlives the UI) with output to run/log.txt.

    Args:
        cfg: The recipe (ignored on resume: the run's own recipe is used).
        run: The run directory; created if needed.
        resume: Continue from the run's last checkpoint.
        wait: Queue the run behind the active and waiting jobs instead of refusing when the device is busy.

    Returns:
        The child's pid.

    Raises:
        ResourceError: The device is busy and `wait` is False (see `device_claim`).
    """
    if not resume and cfg is None:
        raise ValueError("A new run needs a recipe.")
    with device_claim(run, wait):  # before anything is written: a refused run leaves no folder behind
        run.create()  # _spawn() also clears a STOP file; the request must be on disk before the child starts
        if not resume:
            cfg.save(run.request)
        return _spawn(train_command(run, resume), run, wait)


@contextmanager
def device_claim(run: RunDir, wait: bool = False):
    """Hold the workspace's launch lock while checking that the device is free, so two clicks cannot both start.

    With `wait`, nothing is checked: the job is enqueued under the same lock and takes its turn itself.

    Raises:
        ResourceError: Another run or search of the workspace is active, or others wait in the queue: two
            jobs would fight for the same CPU/GPU and memory, each slower and either may run out of memory.
    """
    with launch_lock():
        if not wait:
            refuse_if_busy(run)
        yield  # the lock is released once the new job has written its 'queued' or 'waiting' status


def spawn(argv: list[str], run: RunDir, wait: bool = False) -> int:
    """Start `argv` detached (own session, so it outlives the UI), logging to run/log.txt; returns its pid.

    Raises:
        ResourceError: The device is busy and `wait` is False (see `device_claim`).
    """
    with device_claim(run, wait):
        return _spawn(argv, run, wait)


def _spawn(argv: list[str], run: RunDir, wait: bool = False) -> int:
    run.create()
    run.stop_file.unlink(missing_ok=True)
    pid = None
    if wait:
        argv = [*argv, WAIT_FLAG]
        enqueue(run)
    else:
        run.write_status("queued", pid=None, message="Starting…", phase="starting")
        pid = standby.hand_over(argv, run.log)  # a warm engine skips ~10 s of imports; else a fresh process
    if pid is None:
        pid = standby.start_detached(argv, run.log)
    (run.path / "pid").write_text(str(pid))
    return pid


def search_command(folder: RunDir, search) -> list[str]:
    """The argv of a search worker over the recipe saved in the search folder."""
    argv = [sys.executable, "-m", "core", "search", "--config", str(folder.request), "--output", str(folder.path),
            "--trials", str(search.trials), "--method", search.method, "--metric", search.metric]
    if search.timeout_s:
        argv += ["--timeout", str(search.timeout_s)]
    if search.storage:
        argv += ["--storage", search.storage]
    return argv


def start_search(cfg: TrainConfig, search, folder: RunDir, wait: bool = False) -> int:
    """Launch one search worker (queued behind busy jobs with `wait`); the search space is written first."""
    from core.rundir import write_json_atomic

    with device_claim(folder, wait):  # before anything is written: a refused search leaves no folder behind
        folder.create()
        cfg.save(folder.request)
        write_json_atomic(folder.path / "space.json", search.space)
        return _spawn([*search_command(folder, search), "--space", str(folder.path / "space.json")], folder, wait)


def resume_search(folder: RunDir, wait: bool = False) -> int:
    """Relaunch a stopped or crashed search: the worker joins the same study and continues its count."""
    from core.search import load_search

    search, _ = load_search(folder.path)
    return spawn([*search_command(folder, search), "--space", str(folder.path / "space.json")], folder, wait)


def start_promote(search_dir: RunDir, run: RunDir, wait: bool = False) -> int:
    """Launch the final training of a search's best trial into `run` (queued behind busy jobs with `wait`)."""
    return spawn([sys.executable, "-m", "core", "promote", str(search_dir.path), "--output", str(run.path)], run,
                 wait)
