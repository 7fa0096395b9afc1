"""Trainer callbacks that report to the run directory and obey its stop sentinel.

Observers only: they write files and set `TrainerControl` flags, never touch the model.
"""

from __future__ import annotations

import logging
import time

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from core.rundir import RunDir

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0


class RunDirCallback(TrainerCallback):
    """Streams metrics to metrics.jsonl, keeps status.json fresh, and stops when STOP appears."""

    def __init__(self, run: RunDir, examples_per_step: int) -> None:
        self.run = run
        self.examples_per_step = examples_per_step
        self.started = time.time()
        self.start_step = 0
        self.last_beat = 0.0

    def _progress(self, state: TrainerState) -> dict:
        elapsed = time.time() - self.started
        done = state.global_step - self.start_step
        left = max(state.max_steps - state.global_step, 0)
        eta = elapsed / done * left if done > 0 else None
        return {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0.0, 4),
                "elapsed_s": round(elapsed, 2), "eta_s": round(eta, 1) if eta is not None else None,
                "examples_per_s": round(done * self.examples_per_step / elapsed, 2) if elapsed > 0 else None}

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw) -> None:
        self.started = time.time()
        self.start_step = state.global_step
        self.run.write_status("running", phase="training", progress=self._progress(state))

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw) -> None:
        if self.run.stop_requested():
            if not control.should_training_stop:
                logger.info("Stop requested at step %d; finishing with the best model so far.", state.global_step)
                self.run.write_status("stopping", message="Stopping after this step…", progress=self._progress(state))
            control.should_training_stop = True
            return
        now = time.time()
        if now - self.last_beat >= HEARTBEAT_EVERY_S:
            self.last_beat = now
            self.run.write_status("running", progress=self._progress(state))

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict | None = None, **kw) -> None:
        if not logs:
            return
        record = {**self._progress(state), "time": time.time()}
        for key, value in logs.items():
            if isinstance(value, int | float):
                record[key] = value
        record["kind"] = "eval" if any(k.startswith("eval_") for k in logs) else (
            "summary" if "train_runtime" in logs else "train")
        self.run.append_metrics(record)
        logger.info("step %d/%d %s", state.global_step, state.max_steps,
                    " ".join(f"{k}={v:.4g}" for k, v in logs.items() if isinstance(v, int | float)))


class FinalEvaluationCallback(TrainerCallback):
    """Evaluates and checkpoints at the last step, so the end of the schedule can be picked as best."""

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw) -> None:
        if state.global_step >= state.max_steps or control.should_training_stop:
            control.should_evaluate = True
            control.should_save = True
