"""Optional experiment tracking: MLflow and TensorBoard, as Trainer callbacks, only when the recipe asks.

Neither library is needed to train: they are imported only when enabled, and an enabled one that is not
installed stops the run before any work with a one-line message. Only the main process tracks.
Where each run went is written to the run directory's `tracking.json`, which the Runs page reads.
"""

from __future__ import annotations

import importlib.util
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import TrainConfig
from core.distributed import is_main_process
from core.errors import ConfigError
from core.rundir import RunDir, read_json, write_json_atomic

logger = logging.getLogger(__name__)

TRACKING_FILE = "tracking.json"
INSTALL_HINT = {"mlflow": "pip install mlflow-skinny", "tensorboard": "pip install tensorboard"}


def require(module: str, option: str) -> None:
    """Raise a ConfigError naming the fix when an enabled integration is not installed."""
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{option} is turned on but the '{module}' package is not installed.",
                          f"Install it ({INSTALL_HINT[module]}) or turn {option} off.")


@dataclass
class Trackers:
    """The enabled trackers of one run: their Trainer callbacks and where they log."""

    callbacks: list = field(default_factory=list)

    def finish(self, metrics: dict[str, Any], failed: bool = False) -> None:
        for tracker in self.callbacks:
            try:
                tracker.finish(metrics, failed)
            except Exception as exc:  # noqa: BLE001 - a tracking server hiccup must not fail a finished run
                logger.warning("Could not record the final metrics in %s: %s", type(tracker).__name__, exc)


def start_trackers(cfg: TrainConfig, run: RunDir) -> Trackers:
    """The trackers the recipe enables (none on non-main processes); records them in tracking.json."""
    if not (cfg.mlflow or cfg.tensorboard) or not is_main_process():
        return Trackers()
    if cfg.mlflow:
        require("mlflow", "MLflow tracking")
    if cfg.tensorboard:
        require("tensorboard", "TensorBoard logging")
    from core.trackers import MlflowTracker, TensorBoardTracker

    callbacks = ([MlflowTracker(cfg, run)] if cfg.mlflow else []) + ([TensorBoardTracker(run)] if cfg.tensorboard
                                                                     else [])
    info = {"mlflow": callbacks[0].info} if cfg.mlflow else {}
    if cfg.tensorboard:
        info["tensorboard"] = callbacks[-1].info
    write_json_atomic(run.path / TRACKING_FILE, info)
    return Trackers(callbacks)


@contextmanager
def tracked(cfg: TrainConfig, run: RunDir, enabled: bool = True):
    """Trackers for the body; an exception marks the tracked runs failed before it propagates."""
    trackers = start_trackers(cfg, run) if enabled else Trackers()
    try:
        yield trackers
    except BaseException:
        trackers.finish({}, failed=True)
        raise


def read_tracking(run_path: str | Path) -> dict[str, Any]:
    """Where a run was tracked ({} when it was not): MLflow URI and run id, TensorBoard log folder."""
    return read_json(Path(run_path) / TRACKING_FILE) or {}
