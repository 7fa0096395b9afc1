"""core.augmentation: seeded EDA operations, training-frame expansion and the before/after preview."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from core.augmentation import AUGMENTERS, augment_frame, augment_text, check_names, preview_augmentations
from tests.conftest import make_sentiment_frame

WORDS = ("the quick brown fox jumps over a lazy dog while seven bright stars shine above an old quiet harbour town "
         "where fishermen mend their nets and children chase gulls along the narrow stone pier before the evening "
         "bell rings twice").split()
VOCABULARY = ["zebra", "piano", "orbit"]


@pytest.mark.parametrize("name", sorted(AUGMENTERS))
def test_augmenter_is_seeded_and_changes_a_long_sentence(name):
    function, description = AUGMENTERS[name]
    assert description
    words = list(WORDS)
    first = function(words, random.Random(7), VOCABULARY)
    assert words == WORDS  # the input list is never modified in place
    assert first == function(WORDS, random.Random(7), VOCABULARY)
    changed = [function(WORDS, random.Random(seed), VOCABULARY) != WORDS for seed in range(10)]
    assert sum(changed) >= 8  # deletion is random per word, so a rare seed may keep every word
    outputs = {tuple(function(WORDS, random.Random(seed), VOCABULARY)) for seed in range(10)}
    assert len(outputs) > 1  # the seed matters


def test_swap_keeps_the_words():
    out = AUGMENTERS["random_swap"][0](WORDS, random.Random(0), VOCABULARY)
    assert Counter(out) == Counter(WORDS) and out != WORDS


def test_deletion_never_deletes_everything():
    for seed in range(20):
        assert AUGMENTERS["random_deletion"][0](["only"], random.Random(seed), VOCABULARY) == ["only"]


def test_insertion_adds_vocabulary_words():
    out = AUGMENTERS["random_insertion"][0](WORDS, random.Random(0), VOCABULARY)
    extra = Counter(out) - Counter(WORDS)
    assert sum(extra.values()) == len(out) - len(WORDS) >= 1
    assert set(extra) <= set(VOCABULARY)


def test_augment_text_leaves_empty_text_alone():
    assert augment_text("", ["random_swap"], random.Random(0), VOCABULARY) == ""
    assert augment_text("two words", [], random.Random(0), VOCABULARY) == "two words"


def test_check_names():
    assert check_names(["random_swap", "typo", "random_deletion", "x"]) == ["typo", "x"]


def test_augment_frame_adds_copies_per_row_and_keeps_labels():
    frame = make_sentiment_frame(copies=2)  # 24 rows
    out = augment_frame(frame, ["random_swap", "random_insertion"], copies=3, seed=0)
    assert len(out) == len(frame) * 4
    pd.testing.assert_frame_equal(out.iloc[: len(frame)], frame)  # originals first, untouched
    for k in range(1, 4):
        block = out.iloc[k * len(frame): (k + 1) * len(frame)]
        assert block["label"].tolist() == frame["label"].tolist()
    assert (out["text"].iloc[len(frame):].to_numpy() != pd.concat([frame] * 3)["text"].to_numpy()).mean() > 0.9
    again = augment_frame(frame, ["random_swap", "random_insertion"], copies=3, seed=0)
    pd.testing.assert_frame_equal(out, again)


def test_augment_frame_off():
    frame = make_sentiment_frame(copies=1)
    assert augment_frame(frame, ["random_swap"], copies=0, seed=0) is frame
    assert augment_frame(frame, [], copies=2, seed=0) is frame


def test_preview_has_one_column_per_augmentation():
    frame = make_sentiment_frame(copies=2)
    names = ["random_swap", "random_deletion", "random_insertion"]
    preview = preview_augmentations(frame, names, rows=4, seed=1)
    assert list(preview.columns) == ["original", *names]
    assert len(preview) == 4
    assert set(preview["original"]) <= set(frame["text"])
    pd.testing.assert_frame_equal(preview, preview_augmentations(frame, names, rows=4, seed=1))
    assert len(preview_augmentations(frame.head(2), names, rows=5)) == 2
