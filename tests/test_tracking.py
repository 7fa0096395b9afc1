"""Optional tracking: a run logged to a temporary MLflow store and to TensorBoard; a clear error when missing."""

from __future__ import annotations

import importlib.util

import pytest

import core.tracking
from core.errors import ConfigError
from core.rundir import RunDir
from core.runner import train_run
from core.tracking import read_tracking
from tests.test_train_run import tiny_recipe


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, tiny_model_dir):
    from tests.conftest import make_sentiment_frame

    folder = tmp_path_factory.mktemp("tracked")
    data = folder / "reviews.csv"
    make_sentiment_frame(copies=4).to_csv(data, index=False)
    store = f"sqlite:///{folder / 'mlflow.db'}"
    cfg = tiny_recipe(data, tiny_model_dir, epochs=1, mlflow=True, mlflow_tracking_uri=store,
                      mlflow_experiment="tests", tensorboard=True)
    metrics = train_run(cfg, folder / "run")
    return RunDir(folder / "run"), metrics, store


def test_mlflow_run_appears_in_the_local_store(tracked_run):
    from mlflow import MlflowClient

    run, metrics, store = tracked_run
    info = read_tracking(run.path)["mlflow"]
    assert info["tracking_uri"] == store and info["ui_command"].endswith(store)
    client = MlflowClient(tracking_uri=store)
    logged = client.get_run(info["run_id"])
    assert logged.info.status == "FINISHED" and logged.info.run_name == run.name
    assert logged.data.params["model"] and logged.data.params["epochs"] == "1"
    assert logged.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    assert "eval_loss" in logged.data.metrics and "loss" in logged.data.metrics
    assert len(client.get_metric_history(info["run_id"], "loss")) >= 2  # one point per logged step


def test_tensorboard_events_are_written(tracked_run):
    run, _, _ = tracked_run
    info = read_tracking(run.path)["tensorboard"]
    assert info["command"].startswith("tensorboard --logdir ")
    assert list((run.path / "tensorboard").glob("events.out.tfevents.*"))


def test_an_enabled_tracker_that_is_not_installed_stops_the_run_clearly(sentiment_csv, tiny_model_dir, tmp_path,
                                                                          monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(core.tracking.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    run = RunDir(tmp_path / "run")
    with pytest.raises(ConfigError, match="'mlflow' package is not installed"):
        train_run(tiny_recipe(sentiment_csv, tiny_model_dir, mlflow=True), run.path)
    status = run.read_status()
    assert status["state"] == "failed" and "pip install mlflow-skinny" in status["message"]


def test_an_unusable_store_is_a_configuration_error(sentiment_csv, tiny_model_dir, tmp_path):
    cfg = tiny_recipe(sentiment_csv, tiny_model_dir, mlflow=True, mlflow_tracking_uri=(tmp_path / "mlruns").as_uri())
    with pytest.raises(ConfigError, match="MLflow could not use the tracking store"):
        train_run(cfg, tmp_path / "run")


def test_tracking_is_off_by_default(sentiment_csv, tiny_model_dir):
    cfg = tiny_recipe(sentiment_csv, tiny_model_dir)
    assert core.tracking.start_trackers(cfg, RunDir("unused")).callbacks == []
