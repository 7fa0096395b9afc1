"""The Task and Data steps for regression, multi-label and NER under AppTest."""

from __future__ import annotations

import pandas as pd

from tests.test_pages import blank_wizard, by_label, metric_values, open_page, saved_wizard, texts


def wizard_for(task: str, **changes) -> dict:
    from ui.state import blank_state

    wizard = blank_wizard(task=task)
    wizard["config"] = {**blank_state()["config"], "task": task, **changes}
    return wizard


def test_task_step_offers_every_text_task_and_switching_resets_columns(home):
    at = open_page("task")
    radio = by_label(at.radio, "Task")
    offered = {option for option in radio.options if "coming soon" not in option}
    assert {"Text classification", "Multi-label classification", "Text regression", "Named entities (NER)"} <= offered
    radio.set_value("token-classification").run()
    assert not at.exception
    assert "B-TYPE" in texts(at.info)
    saved = saved_wizard(home)
    assert saved["task"] == saved["config"]["task"] == "token-classification"
    assert saved["config"]["early_stopping_metric"] == "auto"


def test_ner_sample_loads_with_token_and_tag_columns_and_entity_counts(home):
    at = open_page("data", wizard_for("token-classification"))
    by_label(at.button, "Use a sample dataset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert (by_label(at.selectbox, "Tokens column").value, by_label(at.selectbox, "Tags column").value) == (
        "tokens", "ner_tags")
    assert metric_values(at)["Entity types"] == "6"
    assert int(metric_values(at)["Training sentences"].replace(",", "")) > 250
    assert saved_wizard(home)["data"]["columns_ok"] is True


def test_ner_conll_upload_is_read_and_bad_bio_is_repaired_with_a_warning(home, tmp_path):
    lines = []
    for i in range(40):
        lines += [f"Ada{i} I-PER", "visits O", f"Paris{i % 4} B-LOC", ""]
    path = tmp_path / "train.conll"
    path.write_text("\n".join(lines))
    wizard = wizard_for("token-classification")
    wizard["data"] = {"train": str(path), "source_name": path.name, "columns_ok": False}
    at = open_page("data", wizard)
    assert not at.exception, [e.value for e in at.exception]
    assert "Repaired 40 tag(s)" in texts(at.warning)
    assert metric_values(at)["Entity types"] == "2"


def test_regression_pairs_are_guessed_and_the_target_range_shown(home, tmp_path):
    path = tmp_path / "sts.csv"
    pd.DataFrame({"sentence1": [f"a man plays {i}" for i in range(60)],
                  "sentence2": [f"a woman sings {i}" for i in range(60)],
                  "score": [i % 6 * 1.0 for i in range(60)], "genre": ["news"] * 60}).to_csv(path, index=False)
    wizard = wizard_for("text-regression")
    wizard["data"] = {"train": str(path), "source_name": path.name, "columns_ok": False}
    at = open_page("data", wizard)
    assert not at.exception, [e.value for e in at.exception]
    assert by_label(at.selectbox, "Second text (optional)").value == "sentence2"
    assert by_label(at.selectbox, "Target column (numbers)").value == "score"
    assert metric_values(at)["Target range"] == "0 – 5"
    config = saved_wizard(home)["config"]
    assert (config["text_column"], config["text_pair_column"], config["label_column"]) == (
        "sentence1", "sentence2", "score")
    assert "pairs are longer" in texts(at.caption)


def test_regression_on_a_text_target_says_to_use_classification(home, tmp_path):
    path = tmp_path / "words.csv"
    pd.DataFrame({"text": [f"t {i}" for i in range(30)], "score": ["high", "low"] * 15}).to_csv(path, index=False)
    wizard = wizard_for("text-regression", label_column="score")
    wizard["data"] = {"train": str(path), "source_name": path.name, "columns_ok": False}
    at = open_page("data", wizard)
    assert "non-numbers" in texts(at.error)


def test_multi_label_sample_uses_its_separator_and_counts_labels(home):
    at = open_page("data", wizard_for("multi-label-classification"))
    by_label(at.button, "Use a sample dataset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert by_label(at.text_input, "Separator between labels").value == ";"
    assert metric_values(at)["Labels"] == "6"
    assert "rows have none" in texts(at.caption)
    by_label(at.text_input, "Separator between labels").set_value("|").run()
    assert metric_values(at)["Labels"] != "6"  # each cell is now read as one label set


def test_augment_step_explains_that_ner_is_not_augmented(home):
    wizard = wizard_for("token-classification")
    wizard["data"] = {"train": "samples/wnut17_sample.jsonl", "source_name": "x", "columns_ok": True}
    at = open_page("augment", wizard)
    assert "off for named entities" in texts(at.info)
    assert not at.multiselect


def test_label_spelling_merge_is_offered_for_single_label_classification_only(home):
    at = open_page("data", wizard_for("token-classification"))
    by_label(at.button, "Use a sample dataset").click().run()
    assert "Normalize labels" not in [c.label for c in at.checkbox]
    at = open_page("data", wizard_for("text-classification"))
    by_label(at.button, "Use a sample dataset").click().run()
    assert "Normalize labels" in [c.label for c in at.checkbox]
