"""The quality report and one-click fixes on the Data step, and the Augment step's preview, under AppTest."""

from __future__ import annotations

import pandas as pd

from tests.conftest import make_sentiment_frame
from tests.test_pages import by_label, metric_values, open_page, ready_wizard, saved_wizard, texts


def dirty_csv(tmp_path):
    frame = make_sentiment_frame()
    extra = pd.DataFrame({"text": ["ok", "a great and moving film, truly number 1!", "a dull and boring mess number 0"],
                          "label": ["positive", "positive", "positive"]})
    path = tmp_path / "dirty.csv"
    pd.concat([frame, extra]).to_csv(path, index=False)
    return path


def test_data_page_shows_findings_and_a_fix_click_is_recorded_with_counts(home, tmp_path):
    at = open_page("data", ready_wizard(dirty_csv(tmp_path)))
    shown = texts(at.warning) + texts(at.info)
    assert "Conflicting labels" in shown and "Near duplicates" in shown and "Short inputs" in shown
    by_label(at.button, "Drop rows whose identical text has another label").click().run()
    assert not at.exception
    assert saved_wizard(home)["config"]["fixes"] == ["drop_conflicting_labels"]
    steps = at.dataframe[-1].value if "step" in at.dataframe[-1].value.columns else \
        next(d.value for d in at.dataframe if "step" in d.value.columns)
    row = steps[steps["step"] == "Drop rows whose identical text has another label"].iloc[0]
    assert row["before"] - row["after"] == row["removed"] >= 1
    assert "recorded in the recipe" in texts(at.caption)
    by_label(at.button, "Undo all one-click fixes").click().run()
    assert saved_wizard(home)["config"]["fixes"] == []


def test_imbalance_finding_turns_on_class_weights(home, tmp_path):
    frame = make_sentiment_frame()
    frame = pd.concat([frame[frame.label == "positive"], frame[frame.label == "negative"].head(8)])
    path = tmp_path / "skewed.csv"
    frame.to_csv(path, index=False)
    at = open_page("data", ready_wizard(path))
    assert "imbalanced" in texts(at.warning)
    by_label(at.button, "Use balanced class weights").click().run()
    assert not at.exception
    assert saved_wizard(home)["config"]["class_weights"] == "balanced"


def test_augment_page_diffs_reroll_and_effective_size(home):
    at = open_page("augment", ready_wizard())
    by_label(at.multiselect, "Augmentations").select("random_deletion").run()
    by_label(at.number_input, "Augmented variants per training row and epoch").set_value(2).run()
    assert not at.exception
    metrics = metric_values(at)
    rows = int(metrics["Training rows"].replace(",", ""))
    assert metrics["Examples the model trains on per epoch"] == f"{3 * rows:,}"
    before = texts(at.markdown)
    assert ":red[~~" in before  # a deleted word is struck through
    by_label(at.button, "Re-roll").click().run()
    assert not at.exception and texts(at.markdown) != before
    assert saved_wizard(home)["config"]["augment_copies"] == 2
