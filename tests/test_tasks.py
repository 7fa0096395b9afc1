"""Regression, multi-label and NER from files to exported pipelines: data rules, metrics, scaling, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from core import tasks
from core.config import TrainConfig
from core.errors import ConfigError, DataError
from core.evaluation import baseline_metrics, multilabel_metrics, regression_metrics, tune_threshold
from core.preparation import prepare_data
from core.runner import train_run


def test_regression_target_drops_nan_and_inf_and_refuses_words(tmp_path):
    path = tmp_path / "scores.csv"
    rows = [{"text": f"review number {i}", "score": float(i % 5)} for i in range(60)]
    rows += [{"text": "broken", "score": "nan"}, {"text": "infinite", "score": "inf"}, {"text": "empty", "score": ""}]
    pd.DataFrame(rows).to_csv(path, index=False)
    data = prepare_data(TrainConfig(task="text-regression", train=str(path), label_column="score"))
    kept = pd.concat(data.frames.values())
    assert len(kept) == 60 and np.isfinite(kept["label"].astype(float)).all()
    assert data.labels == ["score"] and data.report["class_counts"]["train"]["max"] == 4.0
    assert any("3 row(s) of the train data have no usable number" in w for w in data.warnings)
    words = tmp_path / "words.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "score": ["high", "low", "high"]}).to_csv(words, index=False)
    with pytest.raises(DataError, match="non-numbers"):
        prepare_data(TrainConfig(task="text-regression", train=str(words), label_column="score"))


def test_regression_with_one_constant_target_is_refused(tmp_path):
    path = tmp_path / "same.csv"
    pd.DataFrame({"text": [f"t {i}" for i in range(30)], "label": [2.0] * 30}).to_csv(path, index=False)
    with pytest.raises(DataError, match="nothing to learn"):
        prepare_data(TrainConfig(task="text-regression", train=str(path)))


def test_pairs_dedupe_on_both_texts_and_leak_checks_use_the_pair(tmp_path):
    frame = pd.DataFrame({"a": ["same question"] * 40, "b": [f"answer {i}" for i in range(40)],
                          "label": ["yes", "no"] * 20})
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    data = prepare_data(TrainConfig(train=str(path), text_column="a", text_pair_column="b"))
    assert sum(len(f) for f in data.frames.values()) == 40  # same first text, different pairs: all kept
    assert "text_pair" in data.frames["test"].columns


def test_multi_label_cells_are_split_sorted_and_may_be_empty(tmp_path):
    path = tmp_path / "topics.csv"
    rows = [{"text": f"row {i}", "topics": ["sports; news", "news", "", "tech;sports;news"][i % 4]} for i in range(80)]
    pd.DataFrame(rows).to_csv(path, index=False)
    data = prepare_data(TrainConfig(task="multi-label-classification", train=str(path), label_column="topics",
                                    label_separator=";"))
    assert data.labels == ["news", "sports", "tech"]
    assert sum(len(f) for f in data.frames.values()) == 80  # rows with no label are kept
    assert set(pd.concat(data.frames.values())["label"]) == {"news;sports", "news", "", "news;sports;tech"}
    assert data.report["class_counts"]["train"]["(no label)"] > 0


def test_split_labels_reads_lists_and_numbers():
    assert tasks.split_labels(["b", "a", "b"], ",") == ["a", "b"]
    assert tasks.split_labels([3, 1.0], ",") == ["1", "3"]
    assert tasks.split_labels(" b ,a,,", ",") == ["a", "b"]
    assert tasks.split_labels(float("nan"), ",") == []


def test_ner_json_with_mismatched_lengths_names_the_sentence(tmp_path):
    path = tmp_path / "ner.jsonl"
    path.write_text(json.dumps({"tokens": ["a", "b"], "ner_tags": ["O"]}) + "\n")
    with pytest.raises(DataError, match="Sentence 1 .* 2 tokens but 1 tags"):
        prepare_data(TrainConfig(task="token-classification", train=str(path)))


def test_ner_conll_is_repaired_and_reported(tmp_path):
    lines = []
    for i in range(30):
        lines += [f"Ada{i} I-PER", "visits O", f"Paris{i % 3} B-LOC", ""]
    path = tmp_path / "train.conll"
    path.write_text("\n".join(lines))
    data = prepare_data(TrainConfig(task="token-classification", train=str(path)))
    assert data.labels == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert all(label.startswith("B-PER") for label in data.frames["train"]["label"])
    assert any("Repaired" in w for w in data.warnings)
    assert data.report["class_counts"]["train"]["PER"] == len(data.frames["train"])


def test_ner_with_a_csv_file_is_refused_with_the_formats_to_use(tmp_path):
    path = tmp_path / "ner.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(DataError, match="CoNLL"):
        prepare_data(TrainConfig(task="token-classification", train=str(path)))


def test_metric_must_fit_the_task():
    with pytest.raises(ConfigError, match="does not apply"):
        TrainConfig(task="text-regression", train="x.csv", early_stopping_metric="f1_macro").validate()
    assert TrainConfig(task="text-regression").resolved().early_stopping_metric == "rmse"
    assert TrainConfig(task="token-classification").best_metric == "f1"


def test_guess_roles_finds_pairs_numbers_and_token_lists():
    sts = pd.DataFrame({"sentence1": ["a b c"] * 5, "sentence2": ["d e"] * 5, "score": [0.5, 1.0, 2.5, 3.0, 4.0],
                        "genre": ["news"] * 5})
    assert tasks.guess_roles(sts, "text-regression") == {"text": "sentence1", "text_pair": "sentence2",
                                                          "label": "score"}
    tokens = pd.DataFrame({"id": [1], "tokens": [["a"]], "ner_tags": [["O"]]})
    assert tasks.guess_roles(tokens, "token-classification")["label"] == "ner_tags"


def test_regression_metrics_match_known_values():
    m = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0]))
    assert m["rmse"] == pytest.approx(0.5) and m["mae"] == pytest.approx(0.25)
    assert m["spearman"] == pytest.approx(1.0) and m["r2"] == pytest.approx(0.8)
    assert regression_metrics(np.array([1.0, 2.0]), np.array([3.0, 3.0]))["pearson"] == 0.0  # constant prediction


def test_threshold_is_tuned_to_the_validation_data():
    # Every label is true when its logit is above -1.5 (probability ~0.18): a 0.5 threshold misses half.
    logits = np.array([[-1.0, -3.0], [-1.2, 2.0], [-4.0, -1.0], [-3.0, -4.0]])
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    threshold = tune_threshold(logits, truth)
    assert 0.05 <= threshold <= 0.25
    assert multilabel_metrics(truth, (1 / (1 + np.exp(-logits)) >= threshold).astype(int))["f1_micro"] == 1.0


def test_ner_baseline_is_the_memorised_tagger():
    train = pd.DataFrame({"tokens": [["Ada", "runs"]] * 3, "label": ["B-PER O"] * 3})
    test = pd.DataFrame({"tokens": [["Ada", "sleeps"]], "label": ["B-PER O"]})
    assert baseline_metrics(train, test, [], 0, task="token-classification")["memorised_tags"]["f1"] == 1.0


def test_bake_target_scale_makes_outputs_raw_units(tiny_model_dir):
    from core.modeling import bake_target_scale, load_classifier

    model = load_classifier(TrainConfig(task="text-regression", train="x.csv", model=str(tiny_model_dir)),
                            ["score"]).eval()
    inputs = {"input_ids": torch.tensor([[101, 2000, 102]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}
    before = model(**inputs).logits.item()
    bake_target_scale(model, mean=2.5, std=1.5)
    assert model(**inputs).logits.item() == pytest.approx(before * 1.5 + 2.5, abs=1e-5)


# --- end to end on the tiny model: train, evaluate, export, load with the matching pipeline ---------------------

WORDS = {"good": 1.0, "great": 1.5, "fine": 0.5, "bad": -1.0, "awful": -1.5, "dull": -0.5}


def scored_rows(n: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        words = list(rng.choice(list(WORDS), 3))
        rows.append({"first": " ".join(words) + f" {i}", "second": str(rng.choice(list(WORDS))),
                     "score": round(2.5 + sum(WORDS[w] for w in words), 2),
                     "tags": ";".join(sorted({w for w in words if w in {"good", "awful", "dull"}}))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tasks") / "scored.csv"
    scored_rows().to_csv(path, index=False)
    return path


def test_regression_run_reports_exports_and_pipeline_predicts_raw_units(table_csv, tiny_model_dir, tmp_path):
    from transformers import pipeline

    cfg = TrainConfig(task="text-regression", train=str(table_csv), text_column="first", text_pair_column="second",
                      label_column="score", model=str(tiny_model_dir), epochs=1, max_length=32)
    metrics = train_run(cfg, tmp_path / "run")
    assert {"rmse", "mae", "r2", "pearson", "spearman"} <= set(metrics)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert set(report["baselines"]) == {"train_mean", "tfidf_ridge"} and len(report["points"]["label"]) == 16
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    scorer = pipeline("text-classification", model=str(tmp_path / "run" / "model"), function_to_apply="none")
    rows = predictions.head(4)
    got = [o["score"] for o in scorer([{"text": a, "text_pair": b} for a, b in zip(rows["text"], rows["text_pair"],
                                                                                     strict=True)])]
    assert np.allclose(got, rows["predicted"], atol=1e-3)  # the target scaling lives in the exported weights
    assert "function_to_apply=\"none\"" in (tmp_path / "run" / "model" / "README.md").read_text()


def test_multi_label_run_tunes_and_exports_its_threshold(table_csv, tiny_model_dir, tmp_path):
    from transformers import pipeline

    cfg = TrainConfig(task="multi-label-classification", train=str(table_csv), text_column="first",
                      label_column="tags", label_separator=";", model=str(tiny_model_dir), epochs=1, max_length=32)
    metrics = train_run(cfg, tmp_path / "run")
    assert {"f1_micro", "f1_macro", "accuracy", "threshold"} <= set(metrics)
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["finetune_threshold"] == metrics["threshold"]
    scores = pipeline("text-classification", model=str(tmp_path / "run" / "model"), top_k=None)(["good dull 1"])[0]
    assert {s["label"] for s in scores} == {"awful", "dull", "good"}


def test_ner_run_scores_entities_and_exports_a_token_classification_pipeline(tiny_model_dir, tmp_path):
    from transformers import pipeline

    path = tmp_path / "ner.jsonl"
    rng = np.random.default_rng(1)
    with path.open("w") as handle:
        for i in range(120):
            name, place = rng.choice(["Ada", "Bob", "Cleo"]), rng.choice(["London", "Paris", "Rome"])
            handle.write(json.dumps({"tokens": [str(name), "flew", "to", str(place), str(i)],
                                     "ner_tags": ["B-PER", "O", "O", "B-LOC", "O"]}) + "\n")
    cfg = TrainConfig(task="token-classification", train=str(path), model=str(tiny_model_dir), epochs=2,
                      max_length=32, strategy="frozen")
    metrics = train_run(cfg, tmp_path / "run")
    assert {"precision", "recall", "f1", "accuracy"} <= set(metrics)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["entity_types"] == ["LOC", "PER"] and report["sentences"][0]["tokens"]
    assert report["baselines"]["memorised_tags"]["f1"] == 1.0
    tagger = pipeline("token-classification", model=str(tmp_path / "run" / "model"), aggregation_strategy="simple")
    assert isinstance(tagger("Ada flew to Rome"), list)
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]


def test_ner_refuses_word_augmentation():
    with pytest.raises(ConfigError, match="alignment"):
        TrainConfig(task="token-classification", train="x.jsonl", augment=["random_swap"], augment_copies=1).validate()


def test_multi_label_validation_is_scored_at_a_tuned_threshold():
    from core.evaluation import metrics_function

    # Probabilities well below 0.5 that still separate the labels: a fixed 0.5 cut would score 0.
    logits = np.array([[-1.0, -4.0], [-4.0, -1.0], [-1.0, -4.0], [-4.0, -4.0]])
    truth = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], dtype=float)
    scores = metrics_function("multi-label-classification", ["a", "b"])((logits, truth))
    assert scores["f1_micro"] == 1.0 and scores["threshold"] < 0.5
