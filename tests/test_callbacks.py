"""core.callbacks driven by real transformers TrainerState/TrainerControl/TrainingArguments objects."""

from __future__ import annotations

import time

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from core.callbacks import FinalEvaluationCallback, RunDirCallback
from core.rundir import RunDir


@pytest.fixture
def args(tmp_path) -> TrainingArguments:
    return TrainingArguments(output_dir=str(tmp_path / "checkpoints"), report_to="none", use_cpu=True)


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.create()
    return run


def started_callback(run: RunDir, args: TrainingArguments, seconds_ago: float = 4.0) -> RunDirCallback:
    callback = RunDirCallback(run, examples_per_step=8)
    callback.on_train_begin(args, TrainerState(max_steps=10), TrainerControl())
    callback.started = time.time() - seconds_ago  # pretend training has been going for a while
    return callback


def test_train_begin_writes_running_status(run, args):
    started_callback(run, args)
    status = run.read_status_raw()
    assert status["state"] == "running" and status["phase"] == "training"
    assert status["progress"]["step"] == 0 and status["progress"]["max_steps"] == 10


def test_on_log_appends_train_record_with_eta(run, args):
    callback = started_callback(run, args)
    state = TrainerState(max_steps=10, global_step=2, epoch=0.5)
    callback.on_log(args, state, TrainerControl(), logs={"loss": 0.5, "learning_rate": 1e-4, "note": "text"})
    [record] = run.read_metrics()
    assert record["kind"] == "train"
    assert (record["step"], record["max_steps"], record["epoch"], record["loss"]) == (2, 10, 0.5, 0.5)
    assert "note" not in record  # only numbers are kept
    assert record["elapsed_s"] >= 4.0  # started 4 s ago, plus however long this box took to get here
    assert record["eta_s"] == pytest.approx(record["elapsed_s"] / 2 * 8, abs=0.1)  # elapsed per step × steps left
    assert record["examples_per_s"] == pytest.approx(2 * 8 / record["elapsed_s"], rel=0.05)


def test_on_log_tells_eval_and_summary_records_apart(run, args):
    callback = started_callback(run, args)
    state = TrainerState(max_steps=10, global_step=5, epoch=1.0)
    callback.on_log(args, state, TrainerControl(), logs={"eval_loss": 0.4, "eval_accuracy": 0.9})
    callback.on_log(args, state, TrainerControl(), logs={"train_runtime": 3.2, "train_loss": 0.6})
    callback.on_log(args, state, TrainerControl(), logs={})
    assert [r["kind"] for r in run.read_metrics()] == ["eval", "summary"]
    assert run.read_metrics()[0]["eval_accuracy"] == 0.9


def test_eta_is_unknown_before_the_first_step(run, args):
    callback = started_callback(run, args)
    callback.on_log(args, TrainerState(max_steps=10, global_step=0), TrainerControl(), logs={"loss": 0.7})
    assert run.read_metrics()[0]["eta_s"] is None


def test_step_end_without_stop_keeps_training_and_beats(run, args):
    callback = started_callback(run, args)
    control = TrainerControl()
    callback.on_step_end(args, TrainerState(max_steps=10, global_step=3), control)
    assert not control.should_training_stop
    status = run.read_status_raw()
    assert status["state"] == "running" and status["progress"]["step"] == 3


def test_step_end_with_stop_file_stops_training(run, args):
    callback = started_callback(run, args)
    run.request_stop()
    control = TrainerControl()
    callback.on_step_end(args, TrainerState(max_steps=10, global_step=4), control)
    assert control.should_training_stop
    status = run.read_status_raw()
    assert status["state"] == "stopping" and status["progress"]["step"] == 4
    callback.on_step_end(args, TrainerState(max_steps=10, global_step=5), control)  # a later step: still stopping
    assert control.should_training_stop and run.read_status_raw()["state"] == "stopping"


def test_final_evaluation_at_max_steps(args):
    callback = FinalEvaluationCallback()
    control = TrainerControl()
    callback.on_step_end(args, TrainerState(max_steps=10, global_step=9), control)
    assert not control.should_evaluate and not control.should_save
    callback.on_step_end(args, TrainerState(max_steps=10, global_step=10), control)
    assert control.should_evaluate and control.should_save


def test_final_evaluation_when_training_stops_early(args):
    control = TrainerControl(should_training_stop=True)
    FinalEvaluationCallback().on_step_end(args, TrainerState(max_steps=10, global_step=4), control)
    assert control.should_evaluate and control.should_save
