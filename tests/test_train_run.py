"""core.runner.train_run end to end on a tiny random BERT: the run-directory contract, stop and reuse rules."""

from __future__ import annotations

import errno
import json
import os
import zipfile

import pandas as pd
import pytest
from transformers import AutoTokenizer, TrainerCallback

import core.runner
from core.config import TrainConfig
from core.errors import ConfigError, DataError, ResourceError
from core.modeling import load_classifier
from core.rundir import RunDir
from core.runner import train_run
from core.training import build_trainer, evaluation_count, tokenize_frame
from tests.conftest import make_sentiment_frame


def tiny_recipe(train_csv, model_dir, **settings) -> TrainConfig:
    """Small enough for ~36 CPU steps, large enough that the tiny model learns the two classes."""
    base = dict(train=str(train_csv), model=str(model_dir), epochs=3, batch_size=8, learning_rate=5e-3,
                max_length=32, evaluations_per_epoch=1, device="cpu")
    return TrainConfig(**{**base, **settings})


@pytest.fixture(scope="module")
def completed(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("train-run")
    data = folder / "reviews.csv"
    make_sentiment_frame().to_csv(data, index=False)
    cfg = tiny_recipe(data, tiny_model_dir)
    metrics = train_run(cfg, folder / "run")
    return RunDir(folder / "run"), metrics, cfg


def test_run_dir_contract(completed):
    run, metrics, cfg = completed
    assert TrainConfig.load(run.recipe) == cfg.resolved()
    status = run.read_status()
    assert status["state"] == "completed" and status["phase"] == "done"
    assert status["metrics"]["accuracy"] == metrics["accuracy"]
    saved = json.loads(run.metrics.read_text())
    assert saved == metrics
    assert 0.0 <= saved["accuracy"] <= 1.0 and 0.0 <= saved["f1_macro"] <= 1.0
    assert saved["test_rows"] == 12 and saved["stopped_early"] is False
    report = json.loads(run.report.read_text())
    assert report["labels"] == ["negative", "positive"]
    assert sum(map(sum, report["confusion_matrix"])) == 12
    assert set(report["baselines"]) == {"majority_class", "tfidf_logreg"}
    assert json.loads(run.data_report.read_text())["rows"]["train"] == 96
    predictions = pd.read_csv(run.path / "predictions.csv")
    assert list(predictions.columns) == ["text", "label", "predicted", "confidence"] and len(predictions) == 12


def test_metrics_log_has_train_and_eval_records(completed):
    run, _, _ = completed
    records = run.read_metrics()
    kinds = {r["kind"] for r in records}
    assert {"train", "eval"} <= kinds
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    assert train_steps == sorted(train_steps) and train_steps[-1] == records[0]["max_steps"] == 36
    evals = [r for r in records if r["kind"] == "eval"]
    assert len(evals) == 3 and all("eval_f1_macro" in r and "eval_loss" in r for r in evals)
    assert all(r["eta_s"] is not None for r in records if r["step"] > 0)


def test_the_run_records_its_duration_estimate_and_how_it_held(completed):
    run, metrics, cfg = completed
    planned = run.read_status()["estimate"]
    assert planned["evaluations"] == evaluation_count(96, cfg) == 3 and planned["seconds"] > 0
    assert 5 < planned["tokens_per_row"] < 32  # real token lengths of the short sentences, not the max length
    held = metrics["estimate"]
    assert held["estimated_s"] == planned["seconds"] and held["actual_s"] >= metrics["wall_time_s"]
    ratio = held["actual_s"] / held["estimated_s"]
    # Both times are stored to 0.1 s and the ratio to 3 decimals, each from the unrounded figures.
    slack = 5e-4 + ratio * (0.05 / held["actual_s"] + 0.05 / held["estimated_s"])
    assert held["actual_over_estimate"] == pytest.approx(ratio, abs=slack)


def test_exported_model_folder(completed):
    run, metrics, _ = completed
    config = json.loads((run.model / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert (run.model / "model.safetensors").is_file()
    assert not list(run.model.glob("*.bin"))
    assert (run.model / "tokenizer.json").is_file() or (run.model / "vocab.txt").is_file()
    card = (run.model / "README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag: text-classification" in card
    assert f"{metrics['accuracy']:.4f}" in card
    assert TrainConfig.load(run.model / "finetune_recipe.json") == TrainConfig.load(run.recipe)
    with zipfile.ZipFile(run.archive) as archive:
        names = set(archive.namelist())
    assert {"model/config.json", "model/model.safetensors", "model/README.md", "recipe.json",
            "metrics.json", "report.json"} <= names


def test_exported_model_reproduces_the_reported_test_accuracy(completed):
    from transformers import pipeline

    run, metrics, _ = completed
    rows = pd.read_csv(run.path / "predictions.csv")
    classify = pipeline("text-classification", model=str(run.model), device="cpu")
    predicted = [p["label"] for p in classify(rows["text"].tolist(), batch_size=16)]
    assert set(predicted) <= {"negative", "positive"}
    accuracy = (pd.Series(predicted) == rows["label"]).mean()
    assert accuracy == pytest.approx(metrics["accuracy"], abs=0.005)
    assert predicted == rows["predicted"].tolist()  # row by row, not just on average


def test_predict_keeps_row_order(tiny_model_dir, tmp_path):
    labels = ["a", "b"]
    frame = pd.DataFrame({"text": [" ".join(["word"] * n) for n in (1, 9, 2, 8, 3, 7, 4, 6)],
                          "label": labels * 4})
    cfg = TrainConfig(train="x.csv", model=str(tiny_model_dir), batch_size=2, learning_rate=1e-3, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    dataset = tokenize_frame(frame, tokenizer, labels, 32)
    trainer = build_trainer(cfg, load_classifier(cfg, labels), tokenizer, dataset, dataset,
                            RunDir(tmp_path / "run"), "cpu")
    assert trainer.predict(dataset).label_ids.tolist() == [0, 1] * 4


def test_finished_output_dir_is_not_reused(completed, tmp_path):
    run, _, cfg = completed
    before = run.status_file.read_text()
    with pytest.raises(ConfigError, match="already holds a run"):
        train_run(cfg, run.path)
    assert run.status_file.read_text() == before  # the refused run touched nothing


def test_overwrite_passes_the_reuse_check(sentiment_csv, tiny_model_dir, tmp_path):
    old = RunDir(tmp_path / "old")
    old.create()
    old.write_status("completed")
    cfg = tiny_recipe(sentiment_csv, tiny_model_dir, text_column="no_such_column")
    with pytest.raises(DataError):  # got past the output check, failed on the data as expected
        train_run(cfg, old.path, overwrite=True)
    status = old.read_status()
    assert status["state"] == "failed" and status["error_kind"] == "Data error"
    assert "no_such_column" in status["message"]


def test_active_run_is_never_overwritten(sentiment_csv, tiny_model_dir, tmp_path):
    active = RunDir(tmp_path / "active")
    active.create()
    active.write_status("running", pid=os.getpid())
    with pytest.raises(ConfigError, match="already active"):
        train_run(tiny_recipe(sentiment_csv, tiny_model_dir), active.path, overwrite=True)


class StopAtStep(TrainerCallback):
    """Plays the user pressing Stop: writes the run's STOP file at a given step."""

    def __init__(self, run: RunDir, step: int) -> None:
        self.run, self.step = run, step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            self.run.request_stop()


def test_stop_mid_run_ends_stopped_with_an_exported_model(sentiment_csv, tiny_model_dir, tmp_path, monkeypatch):
    run = RunDir(tmp_path / "run")
    real_build_trainer = core.runner.build_trainer

    def build_with_stop(*args, **kwargs):
        trainer = real_build_trainer(*args, **kwargs)
        trainer.add_callback(StopAtStep(run, step=2))
        return trainer

    monkeypatch.setattr(core.runner, "build_trainer", build_with_stop)
    metrics = train_run(tiny_recipe(sentiment_csv, tiny_model_dir), run.path)
    status = run.read_status()
    assert status["state"] == "stopped" and "Stopped on request" in status["message"]
    assert metrics["stopped_early"] is True
    assert status["progress"]["step"] < status["progress"]["max_steps"] == 36
    assert max(r["step"] for r in run.read_metrics()) <= 3
    assert (run.model / "model.safetensors").is_file() and run.archive.is_file()
    assert json.loads(run.metrics.read_text())["stopped_early"] is True


def test_overwrite_starts_a_fresh_metrics_log(sentiment_csv, tiny_model_dir, tmp_path):
    run = RunDir(tmp_path / "run")
    run.create()
    run.write_status("completed")
    run.append_metrics({"kind": "train", "step": 999, "loss": 9.9, "stale": True})
    train_run(tiny_recipe(sentiment_csv, tiny_model_dir, epochs=1, max_train_rows=16), run.path, overwrite=True)
    assert run.read_status()["state"] == "completed"
    assert not [r for r in run.read_metrics() if r.get("stale")]


def test_full_disk_while_exporting_fails_with_a_plain_message(sentiment_csv, tiny_model_dir, tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.runner, "export_model", no_space)
    run = RunDir(tmp_path / "run")
    with pytest.raises(ResourceError, match="disk is full"):
        train_run(tiny_recipe(sentiment_csv, tiny_model_dir, epochs=1), run.path)
    status = run.read_status()
    assert status["state"] == "failed" and status["error_kind"] == "Out of resources"
    assert run.metrics.exists() and run.last_checkpoint() is not None, "earlier results stay on disk"


def test_class_weights_fixes_and_on_the_fly_augmentation_train_and_reach_the_card(tiny_model_dir, tmp_path,
                                                                                    monkeypatch):
    from core import augmented_data, imbalance

    seen = {}
    real_loss, real_build = imbalance.weighted_loss, augmented_data.build_augmented

    def spy_loss(task, weights, smoothing=0.0):
        function = real_loss(task, weights, smoothing)

        def loss(outputs, labels, num_items_in_batch=None):
            seen["loss_calls"] = seen.get("loss_calls", 0) + 1
            return function(outputs, labels, num_items_in_batch)

        return loss

    def spy_build(*args, **kwargs):
        seen["dataset"] = real_build(*args, **kwargs)
        return seen["dataset"]

    monkeypatch.setattr(imbalance, "weighted_loss", spy_loss)
    monkeypatch.setattr(augmented_data, "build_augmented", spy_build)
    data = tmp_path / "reviews.csv"
    short = pd.DataFrame({"text": ["ok", "meh", "fine", "bad", "wow", "nah", "yes", "no"],
                          "label": ["positive", "negative"] * 4})
    pd.concat([make_sentiment_frame(), short]).to_csv(data, index=False)
    cfg = tiny_recipe(data, tiny_model_dir, epochs=2, class_weights="balanced", fixes=["drop_short_texts"],
                      augment=["random_swap"], augment_copies=1)
    run = RunDir(tmp_path / "run")
    train_run(cfg, run.path)
    assert seen["loss_calls"] > 0
    assert seen["dataset"].epoch == 1  # the second epoch drew fresh variants
    data_report = json.loads(run.data_report.read_text())
    assert data_report["rows"]["train_per_epoch"] == 2 * data_report["rows"]["train"]
    assert data_report["rows"]["test"] == len(pd.read_csv(run.path / "predictions.csv"))  # test not augmented
    assert "drop_short_texts" in [s["name"] for s in data_report["cleaning"]["train"]]
    card = (run.path / "model" / "README.md").read_text()
    assert "data step:" in card
