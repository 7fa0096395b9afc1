"""Faults: kill -9 mid-run, a UI restart, a full disk while checkpointing, out of memory, two runs at once."""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from transformers import Trainer

import core.launcher
import core.runner
from core.config import TrainConfig
from core.errors import ResourceError
from core.launcher import start_run
from core.rundir import RunDir
from core.runner import train_run
from core.workspace import new_run_dir
from tests.conftest import SLEEP, kill, make_sentiment_frame
from tests.test_pages import open_page, ready_wizard, texts

SECRET = "hf_FAKEsecretTOKEN1234567890abcdef"


def recipe(data: Path, model: Path, **settings) -> TrainConfig:
    base = dict(train=str(data), model=str(model), epochs=3, batch_size=8, learning_rate=5e-3, max_length=32,
                evaluations_per_epoch=1, device="cpu", early_stopping_patience=0)
    return TrainConfig(**{**base, **settings})


@pytest.fixture
def data(tmp_path) -> Path:
    """The sentiment table, with a few texts that a spreadsheet would run as formulas."""
    frame = make_sentiment_frame()
    frame.loc[::7, "text"] = "=" + frame.loc[::7, "text"]
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    return path


def wait_for(predicate, timeout: float, step: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not reached within {timeout} s")


# --- two runs at once ----------------------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_one_trains_and_leaves_nothing_behind(busy, monkeypatch):
    second = new_run_dir("second")
    with pytest.raises(ResourceError, match=f"run {busy.name} is still active"):
        start_run(TrainConfig(), second)
    assert not second.path.exists()
    kill(busy.launched_pid())
    assert busy.read_status()["state"] == "crashed"
    monkeypatch.setattr(core.launcher, "train_command", lambda run, resume=False: [sys.executable, "-c", "pass"])
    assert start_run(TrainConfig(), second) > 0, "once the machine is free, the run starts"


def test_two_simultaneous_starts_launch_exactly_one(home, monkeypatch):
    monkeypatch.setattr(core.launcher, "train_command", lambda run, resume=False: SLEEP)
    barrier, results = threading.Barrier(2), []

    def click(name: str) -> None:
        barrier.wait()
        try:
            results.append(start_run(TrainConfig(), new_run_dir(name)))
        except ResourceError as exc:
            results.append(exc)

    threads = [threading.Thread(target=click, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pids = [r for r in results if isinstance(r, int)]
    for pid in pids:
        kill(pid)
    assert len(pids) == 1 and sum(isinstance(r, ResourceError) for r in results) == 1


def test_the_train_page_says_why_it_cannot_start(busy):
    at = open_page("train", ready_wizard())
    start = next(b for b in at.button if b.label == "Start training")
    start.click().run()
    assert not at.exception and "still active" in texts(at.error)


# --- restarts and crashes ------------------------------------------------------------------------------------------


def test_launched_jobs_run_in_their_own_session_so_they_outlive_the_ui(busy):
    pid = busy.launched_pid()
    assert os.getsid(pid) == pid != os.getsid(0)


def test_after_a_restart_the_train_page_reattaches_to_the_running_run(busy):
    busy.recipe.write_text(json.dumps({"task": "text-classification"}))
    busy.write_status("running", phase="training", started=time.time() - 30,
                      progress={"step": 7, "max_steps": 36, "epoch": 0.6, "eta_s": 90})
    busy.append_metrics({"kind": "train", "step": 5, "epoch": 0.4, "loss": 0.69, "learning_rate": 1e-3})
    at = open_page("train", ready_wizard(active_run=busy.name))  # a fresh session, as after a server restart
    assert "Running" in texts(at.markdown)
    assert "Step 7 of 36" in at.get("progress")[0].proto.text
    assert next(b for b in at.button if b.label == "Start training").disabled


@pytest.mark.slow
def test_kill_9_mid_run_shows_crashed_then_resume_finishes_like_an_uninterrupted_run(home, data, tiny_model_dir,
                                                                                    monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    cfg = recipe(data, tiny_model_dir, epochs=6, evaluations_per_epoch=2)
    full = train_run(cfg, home / "uninterrupted")
    run = new_run_dir("killed")
    pid = start_run(cfg, run)
    wait_for(lambda: run.last_checkpoint() is not None, timeout=240, step=0.1)
    kill(pid)
    killed_at = time.time()
    wait_for(lambda: run.read_status()["state"] == "crashed", timeout=10)
    assert time.time() - killed_at < 10
    assert run.read_status()["progress"]["step"] < run.read_status()["progress"]["max_steps"]
    at = open_page("train", ready_wizard(active_run=run.name))
    assert "Crashed" in texts(at.markdown) and run.tail_log(5).splitlines()[-1] in texts(at.code)
    start_run(None, run, resume=True)
    wait_for(lambda: run.read_status()["state"] in {"completed", "failed", "crashed"}, timeout=300, step=0.5)
    assert run.read_status()["state"] == "completed", run.tail_log(20)
    resumed = json.loads(run.metrics.read_text())
    assert abs(resumed["accuracy"] - full["accuracy"]) <= 0.01, (resumed["accuracy"], full["accuracy"])
    assert_no_secret(run.path)


# --- full disk and out of memory -----------------------------------------------------------------------------------


def assert_no_secret(folder: Path) -> None:
    import zipfile

    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as bundle:
                    assert not [n for n in bundle.namelist() if SECRET.encode() in bundle.read(n)]


def test_full_disk_while_checkpointing_keeps_earlier_checkpoints_and_other_runs(home, data, tiny_model_dir,
                                                                                monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    other = RunDir(home / "runs" / "other")
    other.create()
    (other.path / "metrics.json").write_text('{"accuracy": 0.9}')
    real_save, calls = Trainer._save_checkpoint, []

    def save_then_fill_the_disk(self, model, trial):
        calls.append(self.state.global_step)
        if len(calls) == 1:
            return real_save(self, model, trial)
        partial = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        partial.mkdir(parents=True)
        (partial / "model.safetensors").write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_fill_the_disk)
    run = RunDir(home / "runs" / "full")
    with pytest.raises(ResourceError, match="disk is full"):
        train_run(recipe(data, tiny_model_dir), run.path)
    status = run.read_status()
    assert status["state"] == "failed" and "disk is full" in status["message"] and "resume" in status["message"]
    assert run.last_checkpoint().name == f"checkpoint-{calls[0]}"
    assert (run.last_checkpoint() / "model.safetensors").stat().st_size > 1000
    assert (other.path / "metrics.json").read_text() == '{"accuracy": 0.9}'

    monkeypatch.setattr(Trainer, "_save_checkpoint", real_save)  # space freed: resume from the good checkpoint
    metrics = train_run(recipe(data, tiny_model_dir), run.path, resume=True)
    assert run.read_status()["state"] == "completed" and metrics["accuracy"] >= 0.5
    predictions = (run.path / "predictions.csv").read_text()
    assert "'=" in predictions and "\n=" not in predictions and ",=" not in predictions
    assert_no_secret(run.path)
    assert SECRET not in caplog.text


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't "
                                                "allocate memory: you tried to allocate 4294967296 bytes."),
                                   MemoryError()])
def test_out_of_memory_names_the_settings_to_change(error, home, data, tiny_model_dir, monkeypatch):
    real_build = core.runner.build_trainer

    def build_then_run_out(*args, **kwargs):
        trainer = real_build(*args, **kwargs)
        trainer.train = lambda **_: (_ for _ in ()).throw(error)
        return trainer

    monkeypatch.setattr(core.runner, "build_trainer", build_then_run_out)
    run = RunDir(home / "runs" / "oom")
    with pytest.raises(ResourceError) as caught:
        train_run(recipe(data, tiny_model_dir), run.path)
    for setting in ("batch size", "max length", "gradient accumulation"):
        assert setting in str(caught.value)
    status = run.read_status()
    assert status["state"] == "failed" and status["error_kind"] == "Out of resources"
    at = open_page("train", ready_wizard(active_run="oom"))
    assert "Failed" in texts(at.markdown) and "gradient accumulation" in texts(at.error)


def test_other_runtime_errors_are_not_called_out_of_memory(home, data, tiny_model_dir, monkeypatch):
    real_build = core.runner.build_trainer

    def build_then_break(*args, **kwargs):
        trainer = real_build(*args, **kwargs)
        trainer.train = lambda **_: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
        return trainer

    monkeypatch.setattr(core.runner, "build_trainer", build_then_break)
    run = RunDir(home / "runs" / "bug")
    with pytest.raises(RuntimeError, match="shape mismatch"):
        train_run(recipe(data, tiny_model_dir), run.path)
    assert run.read_status()["error_kind"] == "Crash"

