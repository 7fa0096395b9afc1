"""core.quality, core.fixes, core.label_errors, core.imbalance and `python -m core inspect`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from core import cli
from core.config import TrainConfig
from core.errors import ConfigError
from core.imbalance import class_weights, oversample, weighted_loss
from core.label_errors import find_label_errors
from core.near_duplicates import near_duplicate_groups, near_only
from core.preparation import prepare_data
from core.quality import CHECKS, build_report
from tests.conftest import make_sentiment_frame


def report_for(tmp_path, frame: pd.DataFrame, task: str = "text-classification", **extra):
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    files = {}
    for split in ("validation", "test"):
        if split in extra:
            files[split] = str(tmp_path / f"{split}.csv")
            extra.pop(split).to_csv(files[split], index=False)
    cfg = TrainConfig(task=task, train=str(path), **files, **extra)
    return build_report(cfg, label_errors=False, token_lengths=False)


def checks(report) -> set[str]:
    return {f.check for f in report.findings}


def test_clean_balanced_data_has_no_errors(tmp_path):
    report = report_for(tmp_path, make_sentiment_frame())
    assert "error" not in {f.severity for f in report.findings}
    assert not {"exact_duplicates", "conflicting_labels", "leakage", "empty_inputs"} & checks(report)
    assert report.by_check("class_balance").message.startswith("Classes are balanced")


def test_duplicates_near_duplicates_conflicts_short_and_empty_rows_are_found(tmp_path):
    frame = make_sentiment_frame(copies=3)
    extra = pd.DataFrame({"text": ["a great and moving film truly number 1", "A great and moving film, truly number 1!",
                                   "a Great and moving film truly number 1", "ok", None],
                          "label": ["positive", "positive", "negative", "positive", "negative"]})
    report = report_for(tmp_path, pd.concat([frame, extra], ignore_index=True))
    assert report.by_check("exact_duplicates").count == 1  # same text and label, up to case
    assert report.by_check("near_duplicates").count == 1  # punctuation only
    assert report.by_check("conflicting_labels").count == 3
    assert report.by_check("short_inputs").count == 1
    assert report.by_check("empty_inputs").count == 1
    assert report.by_check("near_duplicates").action == "drop_near_duplicates"


def test_leakage_across_splits_is_an_error(tmp_path):
    frame = make_sentiment_frame()
    report = report_for(tmp_path, frame, test=frame.head(3))
    finding = report.by_check("leakage")
    assert finding.severity == "error" and finding.count == 3
    assert report.findings[0].severity == "error"  # worst first


def test_imbalance_suggests_class_weights(tmp_path):
    frame = make_sentiment_frame()
    frame = pd.concat([frame[frame.label == "positive"], frame[frame.label == "negative"].head(5)])
    finding = report_for(tmp_path, frame).by_check("class_balance")
    assert finding.severity == "warning" and "12:1" in finding.message and finding.action == "class_weights"


def test_a_label_column_of_ids_and_a_numeric_text_column_are_reported(tmp_path):
    frame = pd.DataFrame({"text": [str(i * 7) for i in range(300)], "label": [f"id{i}" for i in range(300)]})
    report = report_for(tmp_path, frame)
    assert report.by_check("too_many_labels").severity == "error"
    assert report.by_check("numeric_text") is not None


def test_mixed_types_and_an_unreadable_file_do_not_crash(tmp_path):
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([{"text": "a fine film", "label": 1}, {"text": 12, "label": "positive"},
                                {"text": "dull", "label": "negative"}]))
    report = build_report(TrainConfig(train=str(path)), label_errors=False, token_lengths=False)
    assert {f.check for f in report.findings if f.check == "mixed_types"} == {"mixed_types"}
    broken = build_report(TrainConfig(train=str(tmp_path / "missing.csv")))
    assert broken.findings[0].check == "unreadable" and broken.findings[0].severity == "error"
    no_column = report_for(tmp_path, make_sentiment_frame(), label_column="nope")
    assert no_column.findings[0].check == "unreadable" and "nope" in no_column.findings[0].message


def test_regression_reports_target_outliers_not_class_balance(tmp_path):
    frame = pd.DataFrame({"text": [f"review number {i}" for i in range(60)],
                          "label": [float(i % 5) for i in range(59)] + [500.0]})
    report = report_for(tmp_path, frame, task="text-regression")
    assert report.by_check("target_outliers").count == 1
    assert report.by_check("class_balance") is None


def test_ner_reports_invalid_bio(tmp_path):
    path = tmp_path / "ner.jsonl"
    rows = [{"tokens": ["John", "lives", "here"], "ner_tags": ["I-PER", "O", "O"]},
            {"tokens": ["Mary", "Smith"], "ner_tags": ["B-PER", "I-PER"]}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    cfg = TrainConfig(task="token-classification", train=str(path), text_column="tokens", label_column="ner_tags")
    report = build_report(cfg, label_errors=False, token_lengths=False)
    assert report.by_check("invalid_bio").count == 1


def test_every_task_has_checks():
    from core.config import TASKS

    assert set(TASKS) <= set(CHECKS)


def test_near_duplicate_groups_join_small_edits_only():
    keys = pd.Series(["the film was a great joy to watch from start to end",
                      "the film was a great joy to watch from start to the end",
                      "completely different words about a boring dull mess here",
                      "the film was a great joy to watch from start to end"])
    groups = near_duplicate_groups(keys)
    assert groups[0] == groups[1] == groups[3] != groups[2]
    assert near_only(keys, groups).tolist() == [False, True, False, False]  # row 3 is exact, not near


def noisy_frame(flips: int = 6) -> tuple[pd.DataFrame, list[int]]:
    frame = make_sentiment_frame(copies=12)
    flipped = [c * 12 + c for c in range(flips)]  # a different sentence each time
    frame.loc[flipped, "label"] = frame.loc[flipped, "label"].map({"positive": "negative", "negative": "positive"})
    return frame, flipped


def test_label_errors_find_flipped_labels_and_suggest_the_right_one():
    frame, flipped = noisy_frame()
    errors = find_label_errors(frame, seed=0)
    found = set(errors.index) & set(flipped)
    assert len(found) >= 4 and len(errors) <= 2 * len(flipped)
    assert (errors.loc[list(found), "suggested"] != errors.loc[list(found), "label"]).all()
    pd.testing.assert_frame_equal(errors, find_label_errors(frame, seed=0))  # replayable
    assert find_label_errors(frame.head(6), seed=0).empty  # too little data: nothing, no crash


def test_fixes_are_recorded_steps_and_replay_headless(tmp_path):
    frame, _ = noisy_frame()
    frame = pd.concat([frame, pd.DataFrame({"text": ["ok", "fine"], "label": ["positive", "negative"]})])
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    cfg = TrainConfig(train=str(path), fixes=["drop_short_texts", "relabel_label_errors", "drop_conflicting_labels"])
    data = prepare_data(cfg)
    steps = {s["name"]: s for s in data.report["cleaning"]["train"]}
    assert steps["drop_short_texts"]["removed"] >= 1  # "ok" and "fine", unless the split sent one to test
    assert data.frames["train"]["text"].str.split().str.len().min() > 2
    assert steps["relabel_label_errors"]["removed"] == 0 and steps["relabel_label_errors"]["warning"]
    assert [s["name"] for s in data.report["cleaning"]["train"]][-3:] == cfg.fixes
    again = prepare_data(TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))))
    pd.testing.assert_frame_equal(data.frames["train"], again.frames["train"])
    plain = prepare_data(TrainConfig(train=str(path)))
    removed = sum(steps[name]["removed"] for name in cfg.fixes)
    assert len(plain.frames["train"]) == len(data.frames["train"]) + removed


def test_oversampling_balances_the_training_split_only(tmp_path):
    frame = make_sentiment_frame(copies=10)
    frame = pd.concat([frame[frame.label == "positive"], frame[frame.label == "negative"].head(20)])
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    data = prepare_data(TrainConfig(train=str(path), oversample=True))
    counts = data.frames["train"]["label"].value_counts()
    assert counts["positive"] == counts["negative"]
    assert data.report["cleaning"]["train"][-1]["name"] == "oversample"
    assert data.frames["test"]["label"].value_counts()["positive"] > data.frames["test"]["label"].value_counts()[
        "negative"]
    assert oversample(frame, 0).equals(oversample(frame, 0))


def test_balanced_class_weights_change_the_loss():
    frame = pd.DataFrame({"label": ["a"] * 9 + ["b"]})
    weights = class_weights(frame, ["a", "b"], "text-classification")
    assert weights[1] / weights[0] == pytest.approx(9.0)
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    labels = torch.tensor([0, 1])
    plain = torch.nn.functional.cross_entropy(logits, labels)
    weighted = weighted_loss("text-classification", weights)({"logits": logits}, labels)
    assert weighted > plain  # the misclassified rare row counts more
    smooth = weighted_loss("text-classification", weights, 0.1)({"logits": logits}, labels)
    assert smooth != weighted


def test_multi_label_pos_weight_is_negatives_over_positives():
    frame = pd.DataFrame({"label": ["x", "x,y", "x", "x"]})
    weights = class_weights(frame, ["x", "y"], "multi-label-classification")
    assert weights.tolist() == [1.0, 3.0]
    logits = torch.zeros(1, 2)
    loss = weighted_loss("multi-label-classification", weights)({"logits": logits}, torch.tensor([[1.0, 1.0]]))
    assert loss > torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones(1, 2))


def test_balance_options_are_validated():
    with pytest.raises(ConfigError, match="fix"):
        TrainConfig(train="a.csv", fixes=["drop_everything"]).validate()
    with pytest.raises(ConfigError, match="single-label"):
        TrainConfig(train="a.csv", task="text-regression", fixes=["drop_label_errors"]).validate()
    with pytest.raises(ConfigError, match="classification"):
        TrainConfig(train="a.csv", task="text-regression", class_weights="balanced").validate()
    with pytest.raises(ConfigError, match="strength"):
        TrainConfig(train="a.csv", augment_strength=0.0).validate()


def test_inspect_cli_prints_json(tmp_path, capsys):
    frame = make_sentiment_frame()
    path = tmp_path / "train.csv"
    pd.concat([frame, frame.head(2)]).to_csv(path, index=False)
    code = cli.main(["inspect", "--task", "text-classification", "--train", str(path), "--text-column", "text",
                     "--label-column", "label", "--json", "--no-label-errors"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["rows"] == {"train": len(frame) + 2}
    assert {"check": "exact_duplicates", "count": 2} in [{k: f[k] for k in ("check", "count")}
                                                         for f in out["findings"]]
    assert cli.main(["inspect", "--train", str(path), "--no-label-errors"]) == 0
    assert "Quality report" in capsys.readouterr().out


def test_report_runs_in_time_proportional_to_rows(tmp_path):
    frame = pd.DataFrame({"text": [f"row {i} says {np.random.default_rng(i).integers(1e6)}" for i in range(2000)],
                          "label": ["a", "b"] * 1000})
    report = report_for(tmp_path, frame)
    assert report.rows["train"] == 2000 and report.by_check("near_duplicates") is None


def test_repeated_rows_are_scored_once_and_flagged_together():
    frame, flipped = noisy_frame()
    copy = frame.loc[[flipped[1]]]
    frame = pd.concat([frame, copy], ignore_index=True)  # the same wrong row twice
    errors = find_label_errors(frame, seed=0)
    key = frame.loc[flipped[1], "text"]
    assert key in set(errors["text"]) and (errors["text"] == key).sum() == 2


def test_image_report_finds_placeholders_duplicates_and_leaks(tmp_path):
    from PIL import Image

    from tests.image_helpers import make_image_folder

    train = make_image_folder(tmp_path / "train", per_class=6)
    Image.new("RGB", (40, 40), (255, 255, 255)).save(train / "red" / "placeholder.png")
    (train / "blue" / "copy.png").write_bytes((train / "blue" / "0.png").read_bytes())
    test = tmp_path / "test"
    for name in ("red", "blue"):
        (test / name).mkdir(parents=True)
        (test / name / "held.png").write_bytes((train / name / "1.png").read_bytes())
    report = build_report(TrainConfig(task="image-classification", train=str(train), test=str(test)),
                          label_errors=False, token_lengths=False)
    assert {"placeholder_images", "leakage"} <= checks(report)
    assert report.by_check("leakage").count == 2
    assert any("duplicate" in check for check in checks(report))


def test_instruction_report_finds_empty_answers_and_repeats(tmp_path):
    rows = [{"instruction": f"Say {i}", "input": "", "output": str(i)} for i in range(8)]
    rows += [rows[0], {"instruction": "Say nothing", "input": "", "output": " "}]
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = build_report(TrainConfig(task="instruction-tuning", train=str(path), strategy="lora"),
                          label_errors=False, token_lengths=False)
    assert report.by_check("exact_duplicates").count == 1
    assert report.by_check("empty_responses").count == 1
