"""Task-aware loading and prediction with exported models: tiny runs of each task, plus fake pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core import tasks
from core.inference import (
    Entity,
    find_entities,
    label_threshold,
    load_predictor,
    model_task,
    predict_label_sets,
    predict_texts,
    predict_values,
)
from tests.conftest import NEGATIVE, POSITIVE

NAMES = ["Ada", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana"]
PLACES = ["London", "Paris", "Rome", "Oslo", "Lima", "Kyiv"]
VERBS = [["lives", "in"], ["works", "in"], ["visited"], ["left"]]
SEPARATOR = ";"
_TRAINED: dict[tuple[str, str], Path] = {}  # (task, base model) → run directory, shared by the test modules


def write_task_data(task: str, folder: Path) -> Path:
    """A small file for one task: NER sentences ('Ada lives in London'), rated review pairs, or tagged reviews."""
    if task == tasks.NER:
        rows = [{"tokens": [name, *VERBS[(i + j) % 4], place],
                 "ner_tags": ["B-PER", *["O"] * len(VERBS[(i + j) % 4]), "B-LOC"]}
                for i, name in enumerate(NAMES) for j, place in enumerate(PLACES)]
        path = folder / "people.jsonl"
        pd.DataFrame(rows).to_json(path, orient="records", lines=True)
        return path
    rows = []
    for i in range(8):
        for text in POSITIVE:
            rows.append({"text": f"{text} number {i}", "critic": f"critic {i % 3}", "score": 4.0 + (i % 3) / 4,
                         "tags": "good;film" if i % 2 else "good"})
        for text in NEGATIVE:
            rows.append({"text": f"{text} number {i}", "critic": f"critic {i % 3}", "score": 1.0 + (i % 3) / 4,
                         "tags": "bad;film" if i % 2 else "bad"})
    path = folder / "reviews.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def task_recipe(task: str, data: Path, model_dir: Path):
    """One epoch of the tiny model; regression reads text pairs, multi-label ';'-joined tags."""
    from core.config import TrainConfig

    columns = {tasks.REGRESSION: {"label_column": "score", "text_pair_column": "critic"},
               tasks.MULTI_LABEL: {"label_column": "tags", "label_separator": SEPARATOR}}.get(task, {})
    return TrainConfig(task=task, train=str(data), model=str(model_dir), epochs=1, batch_size=8, max_length=32,
                       device="cpu", early_stopping_patience=0, **columns)


def trained_task_run(task: str, tmp_path_factory, model_dir: Path) -> Path:
    """A finished run of `task` on the tiny model, trained once per test session (a few seconds each)."""
    key = (task, str(model_dir))
    if key not in _TRAINED:
        from core.runner import train_run

        folder = tmp_path_factory.mktemp(task)
        train_run(task_recipe(task, write_task_data(task, folder), model_dir), folder / "run")
        _TRAINED[key] = folder / "run"
    return _TRAINED[key]


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_model_dir) -> Path:
    return trained_task_run(tasks.REGRESSION, tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="module")
def multilabel_run(tmp_path_factory, tiny_model_dir) -> Path:
    return trained_task_run(tasks.MULTI_LABEL, tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_model_dir) -> Path:
    return trained_task_run(tasks.NER, tmp_path_factory, tiny_model_dir)


# --- with the exported tiny models -------------------------------------------------------------------------------


def test_each_folder_names_its_task(regression_run, multilabel_run, ner_run):
    assert model_task(regression_run / "model") == tasks.REGRESSION
    assert model_task(multilabel_run / "model") == tasks.MULTI_LABEL
    assert model_task(ner_run / "model") == tasks.NER


def test_regression_predicts_the_reported_numbers_for_text_pairs(regression_run):
    rows = pd.read_csv(regression_run / "predictions.csv")
    scorer = load_predictor(regression_run / "model")
    values = predict_values(scorer, rows["text"].tolist(), rows["text_pair"].tolist())
    assert values == pytest.approx(rows["predicted"].tolist(), abs=1e-3), "the same numbers as the test report"
    single = predict_values(scorer, ["a great and moving film"])
    assert len(single) == 1 and isinstance(single[0], float)


def test_multilabel_scores_every_label_and_applies_the_tuned_threshold(multilabel_run):
    report = json.loads((multilabel_run / "report.json").read_text())
    rows = pd.read_csv(multilabel_run / "predictions.csv", keep_default_na=False)
    tagger = load_predictor(multilabel_run / "model")
    assert label_threshold(tagger) == pytest.approx(report["metrics"]["threshold"])
    sets = predict_label_sets(tagger, rows["text"].tolist())
    for found, row in zip(sets, rows.itertuples(), strict=True):
        assert set(found.scores) == set(report["labels"]) and all(0 <= p <= 1 for p in found.scores.values())
        assert list(found.scores.values()) == sorted(found.scores.values(), reverse=True)
        confidence = min(max(p, 1 - p) for p in found.scores.values())
        assert confidence == pytest.approx(row.confidence, abs=1e-3)
        if all(abs(p - found.threshold) > 1e-3 for p in found.scores.values()):
            assert set(found.labels) == set(filter(None, row.predicted.split(SEPARATOR)))


def test_ner_entities_are_slices_of_the_input(ner_run):
    tagger = load_predictor(ner_run / "model")
    text = "Ada lives in London and Bob visited Paris"
    found = find_entities(tagger, [text, ""])
    assert len(found) == 2 and found[1] == []
    types = json.loads((ner_run / "report.json").read_text())["entity_types"]
    for entity in found[0]:
        assert entity.word == text[entity.start:entity.end] and entity.type in types
        assert 0 <= entity.score <= 1
    assert [e.start for e in found[0]] == sorted(e.start for e in found[0])


# --- with fakes: what each helper asks of the pipeline -----------------------------------------------------------


class FakePipeline:
    """Records its inputs and answers like a transformers pipeline would."""

    def __init__(self, answer, threshold: float | None = None) -> None:
        self.answer, self.calls = answer, []
        self.model = type("Model", (), {"config": type("Config", (), {"finetune_threshold": threshold})()})()

    def __call__(self, inputs, **kwargs):
        self.calls.append((inputs, kwargs))
        return [self.answer(item) for item in inputs]


@pytest.mark.parametrize(("task", "pipeline_name", "expected"), [
    (tasks.CLASSIFICATION, "text-classification", {"top_k": None}),
    (tasks.MULTI_LABEL, "text-classification", {"top_k": None}),
    (tasks.REGRESSION, "text-classification", {"function_to_apply": "none"}),
    (tasks.NER, "token-classification", {"aggregation_strategy": "simple"}),
])
def test_load_predictor_picks_the_pipeline_of_the_task(tmp_path, monkeypatch, task, pipeline_name, expected):
    import transformers

    seen = {}
    monkeypatch.setattr(transformers, "pipeline", lambda name, **kwargs: seen.update(name=name, **kwargs))
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    load_predictor(tmp_path, task)
    assert seen["name"] == pipeline_name and expected.items() <= seen.items()


@pytest.mark.parametrize(("config", "task"), [
    ({"architectures": ["BertForTokenClassification"]}, tasks.NER),
    ({"architectures": ["BertForSequenceClassification"], "problem_type": "regression"}, tasks.REGRESSION),
    ({"problem_type": "multi_label_classification"}, tasks.MULTI_LABEL),
    ({"architectures": ["BertForSequenceClassification"]}, tasks.CLASSIFICATION),
])
def test_a_folder_without_a_recipe_is_read_from_its_config(tmp_path, config, task):
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert model_task(tmp_path) == task


def test_pairs_are_passed_as_text_and_text_pair():
    fake = FakePipeline(lambda item: [{"label": "yes", "score": 0.3}, {"label": "no", "score": 0.7}])
    assert predict_texts(fake, ["q"], ["a"]) == [{"no": 0.7, "yes": 0.3}]
    assert fake.calls[0][0] == [{"text": "q", "text_pair": "a"}]
    with pytest.raises(ValueError):
        predict_texts(fake, ["q", "r"], ["a"])


def test_regression_value_is_the_raw_score():
    fake = FakePipeline(lambda item: {"label": "score", "score": -3.5})
    assert predict_values(fake, ["x", "y"]) == [-3.5, -3.5]


def test_labels_at_or_above_the_threshold_apply():
    fake = FakePipeline(lambda item: [{"label": "a", "score": 0.2}, {"label": "b", "score": 0.35},
                                      {"label": "c", "score": 0.9}], threshold=0.35)
    (found,) = predict_label_sets(fake, ["x"])
    assert found.labels == ["c", "b"] and found.threshold == 0.35
    assert list(found.scores) == ["c", "b", "a"]
    assert predict_label_sets(FakePipeline(fake.answer), ["x"])[0].labels == ["c"], "0.5 without a saved threshold"


def test_entities_use_the_text_as_typed():
    fake = FakePipeline(lambda text: [{"entity_group": "LOC", "score": 0.8, "word": "london", "start": 13, "end": 19},
                                      {"entity_group": "PER", "score": 0.9, "word": "ada", "start": 0, "end": 3}])
    (found,) = find_entities(fake, ["Ada lives in London"])
    assert found == [Entity("Ada", "PER", 0, 3, 0.9), Entity("London", "LOC", 13, 19, 0.8)]
