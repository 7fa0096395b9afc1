"""Starting engine runs as detached child processes through the same CLI a user would type."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from core.config import TrainConfig
from core.rundir import RunDir

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def start_run(cfg: TrainConfig | None, run: RunDir, resume: bool = False) -> int:
    """Launch training in its own session (it outlives the UI) with output to run/log.txt.

    Args:
        cfg: The recipe (ignored on resume: the run's own recipe is used).
        run: The run directory; created if needed.
        resume: Continue from the run's last checkpoint.

    Returns:
        The child's pid.
    """
    run.create()
    run.stop_file.unlink(missing_ok=True)
    if not resume:
        if cfg is None:
            raise ValueError("A new run needs a recipe.")
        cfg.save(run.request)
    run.write_status("queued", pid=None, message="Starting…", phase="starting")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    with run.log.open("ab") as log:
        child = subprocess.Popen(train_command(run, resume), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    (run.path / "pid").write_text(str(child.pid))
    return child.pid
