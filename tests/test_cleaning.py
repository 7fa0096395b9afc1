"""core.cleaning: each step on its own, the pipeline's report, and train/test leakage removal."""

from __future__ import annotations

import pandas as pd

from core import cleaning


def frame(rows: list[tuple[object, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["text", "label"])


def test_drop_empty_removes_blank_or_missing_text_and_label():
    data = frame([("good", "pos"), ("", "pos"), ("   ", "neg"), (None, "neg"), ("ok", None), ("ok", " "),
                  ("fine", "neg")])
    out, examples, warning = cleaning.drop_empty(data)
    assert out["text"].tolist() == ["good", "fine"]
    assert len(examples) == 5 and warning == ""


def test_normalize_whitespace_trims_and_collapses_but_keeps_rows():
    data = frame([("  a \t b\n\nc  ", "pos"), ("clean", "neg")])
    out, examples, _ = cleaning.normalize_whitespace(data)
    assert out["text"].tolist() == ["a b c", "clean"]
    assert len(examples) == 1  # only the changed row is shown


def test_normalize_labels_merges_into_majority_spelling():
    data = frame([("a", "positive"), ("b", "positive"), ("c", "Positive"), ("d", " positive "),
                  ("e", "NEGATIVE"), ("f", "NEGATIVE"), ("g", "negative")])
    out, variants, _ = cleaning.normalize_labels(data)
    assert out["label"].tolist() == ["positive"] * 4 + ["NEGATIVE"] * 3
    assert "Positive → positive" in variants and "negative → NEGATIVE" in variants


def test_drop_duplicates_keeps_first_and_compares_normalised_text():
    data = frame([("Great film", "pos"), ("great   film ", "pos"), ("great film", "neg"), ("other", "pos")])
    out, examples, _ = cleaning.drop_duplicates(data)
    # Same text with a different label is a conflict, not a duplicate: both stay.
    assert out["text"].tolist() == ["Great film", "great film", "other"]
    assert out["label"].tolist() == ["pos", "neg", "pos"]
    assert examples == ["great   film "]


def test_rare_label_filter_drops_and_warns():
    data = frame([("a", "x"), ("b", "x"), ("c", "x"), ("d", "y"), ("e", "y"), ("f", "z")])
    out, names, warning = cleaning.make_rare_label_filter(3)(data)
    assert sorted(out["label"].unique()) == ["x"]
    assert sorted(names) == ["y (2)", "z (1)"]
    assert "Dropped 2 label(s)" in warning and "y (2)" in warning and "z (1)" in warning


def test_rare_label_filter_silent_when_every_label_is_common():
    data = frame([("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")])
    out, names, warning = cleaning.make_rare_label_filter(2)(data)
    assert len(out) == 4 and names == [] and warning == ""


def test_build_steps_follows_the_recipe():
    assert [n for n, _ in cleaning.build_steps(min_examples=2)] == [
        "drop_empty", "normalize_whitespace", "normalize_labels", "drop_duplicates", "drop_rare_labels"]
    assert [n for n, _ in cleaning.build_steps(whitespace=False, duplicates=False, min_examples=1)] == [
        "drop_empty", "normalize_labels"]


def test_clean_frame_reports_counts_before_and_after():
    data = frame([("good  film", "pos"), ("good film", "Pos"), ("", "neg"), ("bad film", "neg"), ("awful", "neg"),
                  ("rare one", "odd"), ("fine", "pos")])
    out, report = cleaning.clean_frame(data, cleaning.build_steps(min_examples=2))
    counts = [(s.name, s.rows_before, s.rows_after) for s in report.steps]
    assert counts == [("drop_empty", 7, 6), ("normalize_whitespace", 6, 6), ("normalize_labels", 6, 6),
                      ("drop_duplicates", 6, 5), ("drop_rare_labels", 5, 4)]
    assert list(out.index) == [0, 1, 2, 3]
    assert out.to_dict(orient="records") == [
        {"text": "good film", "label": "pos"}, {"text": "bad film", "label": "neg"},
        {"text": "awful", "label": "neg"}, {"text": "fine", "label": "pos"}]
    assert len(report.warnings) == 1 and "odd (1)" in report.warnings[0]
    as_dict = report.to_dict()
    assert [d["removed"] for d in as_dict] == [1, 0, 0, 1, 1]
    assert all(d["description"] for d in as_dict)


def test_drop_leaked_removes_training_rows_seen_in_held_out_data():
    train = frame([("A great film", "pos"), ("a dull film", "neg"), ("unique row", "pos")])
    held_out = frame([("a  GREAT film ", "pos"), ("never in train", "neg")])
    out, report = cleaning.drop_leaked(train, held_out)
    assert out["text"].tolist() == ["a dull film", "unique row"]
    assert (report.name, report.rows_before, report.rows_after, report.removed) == ("drop_leaked", 3, 2, 1)
    assert report.examples == ["A great film"]
