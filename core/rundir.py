"""The run directory: the only interface between a running job and anyone watching it.

Layout (all paths relative to the run directory):
    recipe.json      resolved recipe that reproduces the run
    status.json      atomically replaced: state, message, pid, heartbeat, progress
    metrics.jsonl    append-only stream of training/validation records
    request.json     the recipe as the launcher asked for it (before resolution)
    pid              the pid of the process the launcher started
    log.txt          the process's stdout and stderr (when launched by the UI)
    STOP             sentinel: its presence asks the run to stop at the next step
    checkpoints/     Trainer checkpoints for resume
    data_report.json cleaning and split report
    report.json      full test evaluation (per class, confusion, errors, baselines)
    metrics.json     final test metrics
    model/           exported Hugging Face model with its card
    model.zip        model/ + recipe + metrics, for download
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from core.errors import ConfigError

ACTIVE_STATES = {"queued", "running", "stopping"}
# Queued behind another job (core.device_queue): alive and watched, but holding no device, so not active.
WAITING = "waiting"
LIVE_STATES = ACTIVE_STATES | {WAITING}
FINAL_STATES = {"completed", "failed", "stopped", "crashed"}
# A live run writes a heartbeat at least every few seconds; much longer silence means it died.
HEARTBEAT_TIMEOUT_S = 120.0


class RunDir:
    """Typed access to the files of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    recipe = property(lambda self: self.path / "recipe.json")
    status_file = property(lambda self: self.path / "status.json")
    metrics_log = property(lambda self: self.path / "metrics.jsonl")
    log = property(lambda self: self.path / "log.txt")
    request = property(lambda self: self.path / "request.json")
    stop_file = property(lambda self: self.path / "STOP")
    checkpoints = property(lambda self: self.path / "checkpoints")
    data_report = property(lambda self: self.path / "data_report.json")
    report = property(lambda self: self.path / "report.json")
    metrics = property(lambda self: self.path / "metrics.json")
    model = property(lambda self: self.path / "model")
    archive = property(lambda self: self.path / "model.zip")

    @property
    def name(self) -> str:
        return self.path.name

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def write_status(self, state: str, **fields: Any) -> None:
        """Replace status.json atomically, keeping fields not given and refreshing the heartbeat."""
        status = {**self.read_status_raw(), **fields, "state": state, "heartbeat": time.time()}
        write_json_atomic(self.status_file, status)

    def read_status_raw(self) -> dict[str, Any]:
        """status.json as written, or {} if absent or half-written."""
        return read_json(self.status_file) or {}

    def read_status(self) -> dict[str, Any]:
        """The status with liveness applied: an active run whose process is gone reads 'crashed'."""
        status = self.read_status_raw()
        if not status:
            return {"state": "missing" if not self.recipe.exists() else "queued"}
        if status.get("state") == WAITING and not self._alive(status):
            return {**status, "state": "crashed", "message": "The queued job's process ended before its turn came; "
                                                             "start it again."}
        if status.get("state") in ACTIVE_STATES and not self._alive(status):
            status = {**status, "state": "crashed",
                      "message": "The training process ended unexpectedly. Resume continues from the last checkpoint."}
        return status

    def _alive(self, status: dict[str, Any]) -> bool:
        pid = status.get("pid") or self.launched_pid()
        if pid and not pid_alive(int(pid)):
            return False
        return time.time() - float(status.get("heartbeat", 0)) < HEARTBEAT_TIMEOUT_S

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl (one line, flushed)."""
        with self.metrics_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete records of metrics.jsonl (a half-written last line is skipped)."""
        if not self.metrics_log.exists():
            return []
        records = []
        for line in self.metrics_log.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def launched_pid(self) -> int | None:
        """The pid the launcher recorded in `pid` when it started the process, if any."""
        return read_pid(self.path / "pid")

    def request_stop(self) -> None:
        self.stop_file.touch()

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def tail_log(self, lines: int = 30) -> str:
        """The last lines of log.txt, with progress-bar carriage returns folded."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64_000))
            text = handle.read().decode("utf-8", errors="replace")
        cleaned = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.rstrip("\n").split("\n")]
        return "\n".join(cleaned[-lines:])

    def clear_outputs(self) -> None:
        """Remove a previous run's results (kept: the launcher's request, pid and log)."""
        for file in (self.status_file, self.metrics_log, self.data_report, self.report, self.metrics, self.archive,
                     self.path / "predictions.csv"):
            file.unlink(missing_ok=True)
        for folder in (self.checkpoints, self.model):
            if folder.exists():
                shutil.rmtree(folder)

    def last_checkpoint(self) -> Path | None:
        """The newest complete checkpoint folder, if any.

        The Trainer writes trainer_state.json last, so a folder without it was cut short (a crash or a
        full disk while saving) and resuming from it would fail: it is passed over.
        """
        found = sorted((p for p in self.checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                        and (p / "trainer_state.json").is_file()), key=lambda p: int(p.name.split("-")[-1]))
        return found[-1] if found else None


def check_output(run: RunDir, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber a finished or active run, or to resume one that has nothing to resume from."""
    state = run.read_status().get("state")
    if state in {"running", "stopping"}:
        raise ConfigError(f"A run is already active in {run.path}.", "Wait for it, stop it, or use another --output.")
    if resume:
        if not run.recipe.exists():
            raise ConfigError(f"{run.path} holds no run to resume.", "Start a new run with --output.")
        if state == "completed":
            raise ConfigError(f"The run in {run.path} already completed.", "Start a new run to train again.")
        return
    # 'queued' and 'waiting' are a run directory the launcher (or the queue) prepared for exactly this process.
    if state not in {"queued", WAITING} and run.path.exists() and any(run.path.iterdir()) and not overwrite:
        raise ConfigError(f"{run.path} already holds a run ({state}); it is kept, not overwritten.",
                          "Choose a new --output folder, or pass --resume to continue it.")


def read_pid(path: Path) -> int | None:
    """The pid written in a pid file, or None if the file is missing or holds no number."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file beside `path` and rename it over `path` (readers never see half a file)."""
    # Unique per write, not per process: the Streamlit server saves from one thread per browser session, and
    # two sessions sharing a temp name made one rename fail (found by bench/load.py with 10 sessions).
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """JSON from a file, or None when it is missing or not (yet) valid."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
