"""ONNX export of the bundled model: parity with PyTorch on the test rows, the int8 variant, the card and the CLI."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.onnx_export import export_onnx, read_onnx_report, score_logits
from core.rundir import RunDir
from tests.conftest import make_sentiment_frame

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory) -> RunDir:
    """A run directory holding the bundled MiniLM backbone with a freshly initialised 2-class head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.catalogue import find_entry, package_folder

    source = package_folder(find_entry("all-minilm-l6-v2").location)
    run = RunDir(tmp_path_factory.mktemp("onnx") / "run")
    run.model.mkdir(parents=True)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, id2label=dict(enumerate(LABELS)), label2id={k: i for i, k in enumerate(LABELS)})
    model.save_pretrained(run.model)
    AutoTokenizer.from_pretrained(source).save_pretrained(run.model)
    (run.model / "finetune_recipe.json").write_text(json.dumps({"max_length": 64}))
    (run.model / "README.md").write_text("---\nlibrary_name: transformers\n---\n\n# A model\n")
    frame = make_sentiment_frame(copies=2)
    frame.assign(predicted="positive", confidence=0.5).to_csv(run.path / "predictions.csv", index=False)
    run.report.write_text(json.dumps({"labels": LABELS, "metrics": {}}))
    return run


@pytest.mark.slow  # ~40 s: a dynamo export of a 22M-parameter model, then int8 quantisation
def test_onnx_matches_pytorch_on_the_test_rows(bundled_run):
    result = export_onnx(bundled_run.path, quantized=True)
    assert result["test_rows"] == 24
    onnx, int8 = result["onnx"], result["onnx_int8"]
    assert onnx["max_abs_logit_diff"] < 1e-4
    assert onnx["prediction_agreement"] == 1.0
    assert onnx["metrics"] == pytest.approx(result["pytorch"]["metrics"])
    assert 0.0 <= int8["metrics"]["accuracy"] <= 1.0 and int8["max_abs_logit_diff"] < 0.5
    assert int8["size_mb"] < onnx["size_mb"] / 2
    assert read_onnx_report(bundled_run.path) == result
    card = (bundled_run.model / "README.md").read_text()
    assert card.count("## ONNX export") == 1 and "onnx/model_quantized.onnx" in card
    with zipfile.ZipFile(bundled_run.archive) as archive:
        assert {"model/onnx/model.onnx", "model/onnx/model_quantized.onnx"} <= set(archive.namelist())


def test_score_logits_classes_labels_sets_and_regression():
    report = {"labels": LABELS}
    scores = score_logits(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), pd.Series(LABELS + ["positive"]), report)
    assert scores["accuracy"] == pytest.approx(2 / 3)
    regression = score_logits(np.array([[1.0], [3.0]]), pd.Series([1.0, 1.0]), {"task": "text-regression"})
    assert regression["rmse"] == pytest.approx(np.sqrt(2)) and regression["mae"] == pytest.approx(1.0)
    multi = {"task": "multi-label-classification", "labels": ["a", "b"], "metrics": {"threshold": 0.3}}
    sets = score_logits(np.array([[0.0, -0.5], [-3.0, 2.0]]), pd.Series(["a;b", "b"]), multi, separator=";")
    assert sets["accuracy"] == 1.0  # sigmoid(-0.5) = 0.38 passes the tuned 0.3 threshold


def test_onnx_parity_for_a_regression_on_sentence_pairs(tiny_model_dir, tmp_path):
    from core.config import TrainConfig
    from core.onnx_export import export_onnx
    from core.runner import train_run

    rows = [{"a": f"a man plays the guitar {i}", "b": f"a {'man' if i % 2 else 'cat'} sings {i}", "y": i % 5}
            for i in range(80)]
    data = tmp_path / "pairs.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    train_run(TrainConfig(task="text-regression", train=str(data), text_column="a", text_pair_column="b",
                          label_column="y", model=str(tiny_model_dir), epochs=1, max_length=32), tmp_path / "run")
    result = export_onnx(tmp_path / "run")
    assert result["onnx"]["max_abs_logit_diff"] < 1e-4
    reported = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert result["onnx"]["metrics"]["rmse"] == pytest.approx(reported["rmse"], abs=1e-3)


def test_cli_refuses_a_run_without_a_model(tmp_path, capsys):
    assert main(["export-onnx", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("Configuration error: ") and "only a finished run" in err[-1]


def test_missing_onnxruntime_is_one_clear_line(bundled_run, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert main(["export-onnx", str(bundled_run.path)]) == 2
    assert capsys.readouterr().err.strip().endswith("pip install onnxruntime")


def test_regression_outputs_have_no_class_agreement(tmp_path):
    from core.onnx_export import variant

    path = tmp_path / "model.onnx"
    path.write_bytes(b"x" * 1000)
    item = variant(path, np.array([[1.0], [2.5]]), np.array([[1.0], [2.0]]), pd.Series([1.0, 2.0]),
                   {"task": "text-regression"})
    assert item["prediction_agreement"] is None and item["max_abs_logit_diff"] == 0.5
    assert item["metrics"]["mae"] == pytest.approx(0.25)


def test_tasks_without_a_parity_check_are_refused(bundled_run, tmp_path, capsys):
    import shutil

    other = RunDir(tmp_path / "ner")
    shutil.copytree(bundled_run.path, other.path)
    (other.model / "finetune_recipe.json").write_text(json.dumps({"task": "token-classification"}))
    assert main(["export-onnx", str(other.path)]) == 2
    assert "this run is token-classification" in capsys.readouterr().err
