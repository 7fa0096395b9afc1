"""Distributed training: one writer per run directory, a shared stop, launch commands, and a real 2-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.distributed import MainRunDir, ReplicaRunDir, is_main_process, launch_commands, open_run_dir
from core.rundir import RunDir
from tests.conftest import make_sentiment_frame

REPO = Path(__file__).resolve().parents[1]


def test_rank_comes_from_the_launcher_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert is_main_process() and type(open_run_dir(tmp_path)) is RunDir
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process() and isinstance(open_run_dir(tmp_path), ReplicaRunDir)
    monkeypatch.setenv("RANK", "0")
    assert isinstance(open_run_dir(tmp_path), MainRunDir)


def test_a_replica_reads_but_never_writes(tmp_path):
    replica = ReplicaRunDir(tmp_path / "run")
    replica.create()
    replica.write_status("running", pid=1)
    replica.append_metrics({"step": 1})
    assert not replica.path.exists()
    main = RunDir(tmp_path / "run")
    main.create()
    main.request_stop()
    assert replica.stop_requested()  # outside an initialised process group it is the local view


def _vote(rank: int, port: int, results) -> None:
    """One of two gloo processes: only rank 1 sees STOP; both must agree to stop."""
    import torch.distributed as dist

    from core.distributed import any_process

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    results[rank] = (any_process(rank == 1), any_process(False))
    dist.destroy_process_group()


def test_a_stop_seen_by_one_process_stops_all():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(_vote, args=(port, results), nprocs=2, join=True)
    assert dict(results) == {0: (True, False), 1: (True, False)}


def test_launch_commands_name_the_recipe_and_output():
    commands = launch_commands("runs/a/recipe.json", "runs/b", gpus=4, nodes=3)
    assert all("-m core train --config runs/a/recipe.json --output runs/b" in c for c in commands.values())
    multi_node = next(c for title, c in commands.items() if "machines" in title)
    assert "--nnodes 3" in multi_node and "--nproc_per_node 4" in multi_node and "$NODE_RANK" in multi_node
    assert any(c.startswith("accelerate launch --multi_gpu --num_processes 4") for c in commands.values())


TORCHRUN = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
# accelerate's --multi_gpu launcher is torchrun underneath; on a machine without GPUs the processes use gloo.
ACCELERATE = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no"]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [TORCHRUN, ACCELERATE], ids=["torchrun", "accelerate"])
def test_two_cpu_processes_train_one_run(tmp_path, tiny_model_dir, launcher):
    """torchrun or accelerate launch, 2 CPU processes (gloo): one run directory, metrics over the whole test split."""
    data = tmp_path / "reviews.csv"
    make_sentiment_frame().to_csv(data, index=False)
    out = tmp_path / "run"
    argv = [sys.executable, *launcher, "-m", "core", "train", "--train", str(data), "--model", str(tiny_model_dir),
            "--output", str(out),
            "--epochs", "3", "--batch-size", "8", "--learning-rate", "5e-3", "--max-length", "32",
            "--evaluations-per-epoch", "1", "--device", "cpu"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = RunDir(out)
    assert run.read_status()["state"] == "completed"
    metrics = json.loads(run.metrics.read_text())
    assert json.loads(result.stdout) == metrics  # printed once, by the main process
    assert metrics["test_rows"] == 12 and 0.75 <= metrics["accuracy"] <= 1.0
    assert len(pd.read_csv(run.path / "predictions.csv")) == 12  # gathered from both processes
    records = run.read_metrics()
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    assert train_steps == sorted(set(train_steps)), "one writer: no step logged twice"
    assert records[0]["max_steps"] == 18  # 96 rows / (8 per process x 2 processes) x 3 epochs
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    assert all(0 < loss < 1.0 for loss in losses), "the loss is a mean over processes, not a sum"
    assert {"config.json", "model.safetensors", "README.md", "finetune_recipe.json"} <= {
        p.name for p in run.model.iterdir()}
    assert not list(run.path.glob(".*.tmp"))
