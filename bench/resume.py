"""Benchmark: a run killed with SIGKILL mid-training and resumed, against the same run left alone.

Usage: python bench/resume.py [--dataset trec6] [--strategy frozen] [--rows 1500] [--epochs 6]

Both runs go through the CLI as a user's would (the launcher's detached child for the killed one). Prints
the seconds until the killed run read 'crashed', the checkpoint it resumed from, and both test scores.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "datasets"


def wait_for(predicate, timeout: float, step: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(step)
    raise SystemExit(f"gave up after {timeout:.0f} s")


def recipe(args: argparse.Namespace):
    from core.config import TrainConfig

    folder = SHARED / args.dataset
    test = folder / "test.csv"
    return TrainConfig(train=str(folder / "train.csv"), test=str(test) if test.exists() else None,
                       text_column="text", label_column=args.label_column, strategy=args.strategy,
                       epochs=args.epochs, max_train_rows=args.rows, max_length=64, evaluations_per_epoch=2,
                       early_stopping_patience=0, device="cpu")


def past_half(run):
    """The run's newest checkpoint once it is at least half-way through training, else None."""
    checkpoint, total = run.last_checkpoint(), (run.read_status().get("progress") or {}).get("max_steps")
    return checkpoint if checkpoint and total and int(checkpoint.name.split("-")[-1]) >= total / 2 else None


def finish(run, timeout: float = 3600) -> dict:
    wait_for(lambda: run.read_status()["state"] not in {"queued", "running", "stopping"}, timeout, step=1)
    if run.read_status()["state"] != "completed":
        raise SystemExit(f"{run.name} ended {run.read_status()['state']}:\n{run.tail_log(30)}")
    return json.loads(run.metrics.read_text())


def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("FINETUNE_HOME", tempfile.mkdtemp(prefix="resume-bench-"))
    from core.config import headline_metric
    from core.launcher import start_run
    from core.workspace import new_run_dir

    cfg = recipe(args)
    metric = headline_metric(cfg.task)
    plain = new_run_dir("uninterrupted")
    start_run(cfg, plain)
    alone = finish(plain)
    killed = new_run_dir("killed")
    pid = start_run(cfg, killed)
    checkpoint = wait_for(lambda: past_half(killed), timeout=3600, step=0.2)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    killed_at = time.time()
    wait_for(lambda: killed.read_status()["state"] == "crashed", timeout=60)
    crashed_after = time.time() - killed_at
    step = killed.read_status().get("progress", {})
    start_run(None, killed, resume=True)
    resumed = finish(killed)
    print(json.dumps({"dataset": args.dataset, "strategy": args.strategy, "rows": args.rows, "metric": metric,
                      "killed_at_step": f"{step.get('step')}/{step.get('max_steps')}", "resumed_from": checkpoint.name,
                      "crashed_shown_after_s": round(crashed_after, 2), "uninterrupted": round(alone[metric], 4),
                      "killed_and_resumed": round(resumed[metric], 4),
                      "difference_points": round(100 * abs(alone[metric] - resumed[metric]), 2)}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="trec6")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--strategy", default="frozen")
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--epochs", type=float, default=6)
    main(parser.parse_args())
