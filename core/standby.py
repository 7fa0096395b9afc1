"""A warm engine process: the app's next run starts without waiting for torch and transformers to import.

Importing `transformers.trainer` alone takes ~10 s on 2 cores (torch, torch._dynamo, torch.distributed, datasets,
pandas), longer than everything else a run does before its first step. The app keeps one standby process per
workspace that has done those imports and waits for a job; the launcher hands it the run's command instead of
starting a new interpreter, and the standby becomes that run: same argv, same log file, same pid file, its own
session (started with `start_new_session`, so it outlives the Streamlit server like any run). Anything that
goes wrong with the hand-over falls back to a fresh process.

Files, under `$FINETUNE_HOME/.standby/`:
    ready     The standby's pid, written once its imports are done (removed when it takes a job or leaves).
    version.json  The code version it imported (`code_version`); a stale standby is sent away, not used.
    job.json  A job offered by the launcher; the standby takes it by renaming it to taken-<pid>.json.
    log.txt   The standby's own output while it waits.

`FINETUNE_WARM_ENGINE=0` turns the standby off (the tests do, except the ones about it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core.rundir import pid_alive, read_pid
from core.workspace import active_jobs, workspace_home

IDLE_TIMEOUT_S = 30 * 60  # a standby nobody used for this long leaves (it holds ~0.5 GB of imported code)
POLL_S = 0.1
HAND_OVER_TIMEOUT_S = 5.0
REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_ENV = {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}


def enabled() -> bool:
    return os.environ.get("FINETUNE_WARM_ENGINE", "1") != "0"


def folder() -> Path:
    path = workspace_home() / ".standby"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_pid(path: Path) -> int | None:
    """The pid in a pid file if that process is alive."""
    pid = read_pid(path)
    return pid if pid is not None and pid_alive(pid) else None


def code_version() -> str:
    """The engine's code as the standby imported it: the newest modification time among the project's modules.

    A standby that imported older code (the app was updated while it waited) must not run a job.
    """
    return str(max(path.stat().st_mtime_ns for path in (REPO_ROOT / "core").glob("*.py")))


def ready_pid() -> int | None:
    """The pid of a standby that finished its imports and waits for a job, if there is one."""
    return _read_pid(folder() / "ready")


def _ready_version() -> str | None:
    try:
        return json.loads((folder() / "version.json").read_text())["code"]
    except (OSError, ValueError, KeyError):
        return None


def ensure() -> int | None:
    """Start a standby if warm starts are on, none is alive (ready or still importing) and no job is active.

    A job that trains is left alone: a standby importing beside it would take its processor for ~10 s.
    Returns the standby's pid, or None.
    """
    if not enabled():
        return None
    home = folder()
    pid = _read_pid(home / "pid")
    if pid is not None or active_jobs():
        return pid
    pid = start_detached([sys.executable, "-m", "core", "standby"], home / "log.txt")
    (home / "pid").write_text(str(pid))
    return pid


def start_detached(argv: list[str], log: Path) -> int:
    """Start `argv` from the project folder in its own session (it outlives the UI), output appended to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(argv, cwd=REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **RUN_ENV}).pid


def stop() -> None:
    """Send the waiting standby away (e.g. before the code or the environment changes)."""
    pid = ready_pid()
    if pid is not None:
        try:
            os.kill(pid, 15)
        except OSError:
            pass


def hand_over(argv: list[str], log: Path) -> int | None:
    """Give a `python -m core ...` command to the ready standby; its pid once it took the job, else None.

    The caller then treats that pid as the run's process. A standby that does not take the job within a few
    seconds is skipped: the job is withdrawn (an atomic rename back) and the caller starts a fresh process.
    """
    if not enabled() or argv[1:3] != ["-m", "core"]:
        return None
    pid = ready_pid()
    if pid is None:
        return None
    if _ready_version() != code_version():  # the code changed since it imported: send it away, start afresh
        stop()
        return None
    home = folder()
    offer, draft = home / "job.json", home / f"job-{os.getpid()}.draft"
    draft.write_text(json.dumps({"argv": argv[3:], "log": str(log)}))
    os.replace(draft, offer)
    deadline = time.monotonic() + HAND_OVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if not offer.exists():  # the standby renamed it: taken
            return pid if pid_alive(pid) else None
        time.sleep(POLL_S / 2)
    withdrawn = home / f"withdrawn-{os.getpid()}.json"
    try:
        os.replace(offer, withdrawn)  # fails if the standby took it meanwhile
    except FileNotFoundError:
        return pid if pid_alive(pid) else None
    withdrawn.unlink()
    return None


def serve(idle_timeout_s: float = IDLE_TIMEOUT_S) -> int:
    """The standby's life: import the engine, wait for one job, become it (or leave after `idle_timeout_s`)."""
    home, me = folder(), os.getpid()
    version = code_version()  # before importing: a change made during the imports makes it stale at once
    import core.runner  # noqa: F401  (the heavy imports are the point of the standby)

    (home / "version.json").write_text(json.dumps({"code": version}))
    (home / "ready").write_text(str(me))
    deadline = time.monotonic() + idle_timeout_s
    offer = home / "job.json"
    try:
        while time.monotonic() < deadline:
            if _read_pid(home / "ready") != me:  # replaced by another standby: leave
                return 0
            try:
                os.replace(offer, home / f"taken-{me}.json")
            except FileNotFoundError:
                time.sleep(POLL_S)
                continue
            return _run_job(home / f"taken-{me}.json")
        return 0
    finally:
        for name in ("ready", "pid"):
            if _read_pid(home / name) == me:
                (home / name).unlink(missing_ok=True)


def _run_job(taken: Path) -> int:
    """Become the offered command: its log on stdout/stderr, then the CLI as `python -m core ...` would run it."""
    job = json.loads(taken.read_text())
    home = taken.parent
    for name in ("ready", "pid"):  # from now on this process is a run, not a standby
        (home / name).unlink(missing_ok=True)
    with open(job["log"], "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    taken.unlink(missing_ok=True)
    from core.cli import main

    sys.argv = [sys.argv[0], *job["argv"]]
    return main(job["argv"])
