"""Trainer callbacks that log a run to MLflow (MlflowClient, explicit store) and TensorBoard (transformers').

Imported only when a recipe enables tracking (see core.tracking), so the UI never loads transformers for it.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

from core.config import TrainConfig
from core.errors import ConfigError
from core.rundir import RunDir


def default_mlflow_uri() -> str:
    """A local SQLite store in the workspace, shared by every run so they can be compared.

    MLflow 3 refuses new `./mlruns` file stores unless MLFLOW_ALLOW_FILE_STORE=true; SQLite is its default.
    """
    from core.workspace import workspace_home

    home = workspace_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(home / 'mlflow.db').resolve()}"


def numeric(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items() if isinstance(v, int | float) and not isinstance(v, bool)}


class MlflowTracker(TrainerCallback):
    """Logs the recipe as parameters, every Trainer log record as metrics, and the final test metrics."""

    def __init__(self, cfg: TrainConfig, run: RunDir) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Param

        self.uri = cfg.mlflow_tracking_uri or default_mlflow_uri()
        name = cfg.mlflow_experiment or "finetune-studio"
        try:
            self.client = MlflowClient(tracking_uri=self.uri)
            experiment = self.client.get_experiment_by_name(name)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
            self.run_id = self.client.create_run(experiment_id, run_name=run.name,
                                                 tags={"finetune.run_dir": str(run.path.resolve())}).info.run_id
        except Exception as exc:  # noqa: BLE001 - any store/server failure: one line before training starts
            raise ConfigError(f"MLflow could not use the tracking store {self.uri}: {str(exc)[:200]}",
                              "Use a sqlite:///path/mlflow.db or http(s):// URI, or turn MLflow off.") from None
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:500]) for k, v in cfg.to_dict().items()])
        self.info = {"tracking_uri": self.uri, "experiment": name, "run_id": self.run_id,
                     "ui_command": f"mlflow ui --backend-store-uri {self.uri}"}

    def log(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def on_log(self, args, state, control, logs: dict | None = None, **kw) -> None:
        if logs:
            self.log(numeric(logs), state.global_step)

    def finish(self, metrics: dict[str, Any], failed: bool = False) -> None:
        self.log({f"test_{k}": v for k, v in numeric(metrics).items()}, 0)
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


class TensorBoardTracker(TrainerCallback):
    """transformers' TensorBoardCallback writing to run/tensorboard, plus the final test metrics."""

    def __init__(self, run: RunDir) -> None:
        from transformers.integrations import TensorBoardCallback

        self.logdir = run.path / "tensorboard"
        self.inner = TensorBoardCallback(tb_writer=self.writer())
        self.info = {"logdir": str(self.logdir.resolve()), "command": f"tensorboard --logdir {self.logdir.resolve()}"}

    def writer(self):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.logdir))

    def on_train_begin(self, args, state, control, **kw) -> None:
        self.inner.on_train_begin(args, state, control, **kw)

    def on_log(self, args, state, control, logs: dict | None = None, **kw) -> None:
        self.inner.on_log(args, state, control, logs=logs, **kw)

    def on_train_end(self, args, state, control, **kw) -> None:
        self.inner.on_train_end(args, state, control, **kw)

    def finish(self, metrics: dict[str, Any], failed: bool = False) -> None:
        writer = self.writer()
        for key, value in numeric(metrics).items():
            writer.add_scalar(f"test/{key}", value, 0)
        writer.close()
