"""core.preparation: from files named in a recipe to clean, stratified, leak-free splits, or a clear DataError."""

from __future__ import annotations

import pandas as pd
import pytest

from core.config import TrainConfig
from core.errors import DataError
from core.preparation import prepare_data
from core.tasks import sort_labels
from tests.conftest import make_sentiment_frame


def write_csv(path, frame: pd.DataFrame):
    frame.to_csv(path, index=False)
    return str(path)


def prepare(tmp_path, frame: pd.DataFrame | None = None, **settings):
    train = write_csv(tmp_path / "train.csv", make_sentiment_frame() if frame is None else frame)
    return prepare_data(TrainConfig(train=train, **settings))


def test_single_file_split_is_80_10_10_stratified_and_recorded(tmp_path):
    data = prepare(tmp_path)  # 120 distinct rows, 60 per class
    assert {k: len(v) for k, v in data.frames.items()} == {"train": 96, "validation": 12, "test": 12}
    for frame in data.frames.values():
        counts = frame["label"].value_counts()
        assert counts["positive"] == counts["negative"]  # stratified: 50/50 in every split
    texts = [set(f["text"]) for f in data.frames.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert data.labels == ["negative", "positive"]
    assert data.report["rows"] == {"train": 96, "validation": 12, "test": 12}
    assert data.report["class_counts"]["test"] == {"negative": 6, "positive": 6}
    assert data.report["rows_loaded"] == {"train": 120}


def test_split_is_seeded(tmp_path):
    first = prepare(tmp_path, seed=1).frames["test"]["text"].tolist()
    again = prepare(tmp_path, seed=1).frames["test"]["text"].tolist()
    other = prepare(tmp_path, seed=2).frames["test"]["text"].tolist()
    assert first == again
    assert set(first) != set(other)


def test_integer_labels_become_strings_in_numeric_order(tmp_path):
    rows = [{"text": f"example {label} number {i}", "label": label} for label in (10, 2, 0, 1) for i in range(10)]
    data = prepare(tmp_path, pd.DataFrame(rows))
    assert data.labels == ["0", "1", "2", "10"]
    assert set(data.frames["train"]["label"]) == {"0", "1", "2", "10"}


def test_float_read_labels_lose_their_decimal_point(tmp_path):
    rows = [{"text": f"row {i}", "label": float(i % 2)} for i in range(20)]
    path = tmp_path / "train.json"
    pd.DataFrame(rows).to_json(path, orient="records")
    data = prepare_data(TrainConfig(train=str(path)))
    assert data.labels == ["0", "1"]


def test_sort_labels():
    assert sort_labels({"10", "9", "1.5"}) == ["1.5", "9", "10"]
    assert sort_labels({"b", "a", "10"}) == ["10", "a", "b"]


def test_separate_validation_and_test_files_are_used_as_given(tmp_path):
    whole = make_sentiment_frame()
    validation, test = whole.iloc[:10], whole.iloc[10:22]
    cfg = TrainConfig(train=write_csv(tmp_path / "train.csv", whole.iloc[22:]),
                      validation=write_csv(tmp_path / "validation.csv", validation),
                      test=write_csv(tmp_path / "test.csv", test))
    data = prepare_data(cfg)
    assert data.frames["validation"]["text"].tolist() == validation["text"].tolist()
    assert data.frames["test"]["text"].tolist() == test["text"].tolist()
    assert len(data.frames["train"]) == len(whole) - 22


def test_leaked_rows_are_removed_from_train(tmp_path):
    whole = make_sentiment_frame()
    test = whole.iloc[:12]
    leaked = test.iloc[:3].assign(text=lambda f: "  " + f["text"].str.upper())  # same text, other spelling
    cfg = TrainConfig(train=write_csv(tmp_path / "train.csv", pd.concat([whole.iloc[12:], leaked])),
                      test=write_csv(tmp_path / "test.csv", test))
    data = prepare_data(cfg)
    train_texts = set(data.frames["train"]["text"].str.lower())
    assert not train_texts & set(test["text"])
    leak = data.report["cleaning"]["train"][-1]
    assert leak["name"] == "drop_leaked" and leak["removed"] == 3


def test_max_train_rows_samples_training_rows_only(tmp_path):
    data = prepare(tmp_path, max_train_rows=20)
    assert len(data.frames["train"]) == 20
    assert len(data.frames["test"]) == 12


def test_unknown_column_lists_available_columns(tmp_path):
    frame = make_sentiment_frame().rename(columns={"text": "review", "label": "sentiment"})
    with pytest.raises(DataError) as caught:
        prepare(tmp_path, frame, text_column="text", label_column="sentiment")
    message = str(caught.value)
    assert "no column 'text'" in message and "review" in message and "sentiment" in message


def test_all_empty_label_column(tmp_path):
    frame = make_sentiment_frame().assign(label="")
    with pytest.raises(DataError, match="label column 'label' in train.csv is empty"):
        prepare(tmp_path, frame)


def test_single_class(tmp_path):
    frame = make_sentiment_frame().assign(label="positive")
    with pytest.raises(DataError, match="only one class"):
        prepare(tmp_path, frame)


def test_label_only_in_test_file(tmp_path):
    whole = make_sentiment_frame()
    test = pd.concat([whole.iloc[:10], pd.DataFrame([{"text": "an unseen kind of row", "label": "neutral"}])])
    cfg = TrainConfig(train=write_csv(tmp_path / "train.csv", whole.iloc[10:]),
                      test=write_csv(tmp_path / "test.csv", test))
    with pytest.raises(DataError) as caught:
        prepare_data(cfg)
    assert "never seen in training" in str(caught.value) and "neutral" in str(caught.value)


def test_same_column_for_text_and_label(tmp_path):
    with pytest.raises(DataError, match="same column"):
        prepare(tmp_path, label_column="text")


def test_too_few_rows_after_cleaning(tmp_path):
    frame = pd.DataFrame({"text": ["", " ", "x"] * 3, "label": ["a", "b", ""] * 3})
    with pytest.raises(DataError, match="No usable rows"):
        prepare(tmp_path, frame)
