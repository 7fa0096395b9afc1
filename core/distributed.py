"""Running one recipe on several processes: who writes the run directory, a shared stop, launch commands.

`accelerate launch` and `torchrun` both start one process per device and set RANK / WORLD_SIZE; the
Hugging Face Trainer (through accelerate) then does the data-parallel work: it wraps the model in DDP,
shards the batches and gathers evaluation outputs from every process before computing metrics, so the
validation and test figures are over the whole split, not one process's share. What is left for us is
the run directory: only the main process writes it, and a STOP seen by any process stops them all.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from core.rundir import RunDir


def world_size() -> int:
    """How many processes run this training (1 when not launched by torchrun/accelerate)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process owns the run directory (global rank 0, or the only process)."""
    return int(os.environ.get("RANK", "0")) == 0


def any_process(flag: bool) -> bool:
    """True if `flag` is true on any process; a plain pass-through outside distributed training.

    A stop must be agreed by all processes at the same step, or the others would wait forever in the next
    gradient all-reduce.
    """
    import torch
    import torch.distributed as dist

    if world_size() < 2 or not (dist.is_available() and dist.is_initialized()):
        return flag
    # NCCL reduces CUDA tensors only (on the device accelerate assigned to this process); gloo CPU ones.
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    votes = torch.tensor([float(flag)], device=device)
    dist.all_reduce(votes, op=dist.ReduceOp.MAX)
    return bool(votes.item() > 0)


class ReplicaRunDir(RunDir):
    """The run directory as a non-main process sees it: it reads (STOP, checkpoints) but never writes."""

    def create(self) -> None:
        pass

    def write_status(self, state: str, **fields: Any) -> None:
        pass

    def append_metrics(self, record: dict[str, Any]) -> None:
        pass

    def clear_outputs(self) -> None:
        pass

    def stop_requested(self) -> bool:
        return any_process(super().stop_requested())


class MainRunDir(RunDir):
    """The main process's run directory in a multi-process run: writes as usual, agrees on STOP."""

    def stop_requested(self) -> bool:
        return any_process(super().stop_requested())


def open_run_dir(path: str | Path) -> RunDir:
    """The RunDir this process should use: plain alone, main or replica under torchrun/accelerate."""
    if world_size() < 2:
        return RunDir(path)
    return MainRunDir(path) if is_main_process() else ReplicaRunDir(path)


def launch_commands(recipe: str | Path, output: str | Path, gpus: int = 8, nodes: int = 2) -> dict[str, str]:
    """Ready-to-copy commands that train `recipe` on several GPUs or machines.

    Args:
        recipe: A recipe JSON (e.g. a run's recipe.json).
        output: The run directory to create (on a shared filesystem for several machines).
        gpus: Processes (GPUs) per machine.
        nodes: Machines, for the multi-node command.

    Returns:
        Title → shell command.
    """
    train = ["-m", "core", "train", "--config", str(recipe), "--output", str(output)]
    node = ["--nnodes", str(nodes), "--node_rank", "$NODE_RANK", "--rdzv_backend", "c10d",
            "--rdzv_endpoint", "$MAIN_HOST:29500"]
    join = shlex.join
    return {
        "One machine, several GPUs (torchrun)": join(["torchrun", "--nproc_per_node", str(gpus), *train]),
        "One machine, several GPUs (accelerate)":
            join(["accelerate", "launch", "--multi_gpu", "--num_processes", str(gpus), *train]),
        "Several machines (run on each; NODE_RANK 0…N-1)":
            " ".join(["torchrun", "--nproc_per_node", str(gpus), *node, join(train)]),
        "CPU only, 2 processes (a quick check)": join(["torchrun", "--nproc_per_node", "2", *train]),
    }
