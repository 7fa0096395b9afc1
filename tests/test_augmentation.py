"""core.augmentation and core.augmented_data: seeded operations, on-the-fly variants per epoch, the preview."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from core.augmentation import AUGMENTERS, Resources, augment_text, check_names, preview_augmentations
from tests.conftest import make_sentiment_frame

WORDS = ("the quick brown fox jumps over a lazy dog while seven bright stars shine above an old quiet harbour town "
         "where fishermen mend their nets and children chase gulls along the narrow stone pier before the evening "
         "bell rings twice").split()
VOCABULARY = ["zebra", "piano", "orbit"]
SYNONYMS = {"fox": ("wolf", "vixen"), "dog": ("hound", "pup"), "stars": ("suns",), "town": ("village", "city"),
            "old": ("ancient", "aged"), "quiet": ("calm", "still"), "bright": ("shiny",), "narrow": ("thin",)}
RES = Resources(VOCABULARY, lambda w: SYNONYMS.get(w, ()))


@pytest.mark.parametrize("name", sorted(AUGMENTERS))
def test_augmenter_is_seeded_and_changes_a_long_sentence(name):
    function, description = AUGMENTERS[name]
    assert description
    words = list(WORDS)
    first = function(words, random.Random(7), 0.1, RES)
    assert words == WORDS  # the input list is never modified in place
    assert first == function(WORDS, random.Random(7), 0.1, RES)
    changed = [function(WORDS, random.Random(seed), 0.1, RES) != WORDS for seed in range(10)]
    assert sum(changed) >= 8  # deletion is random per word, so a rare seed may keep every word
    outputs = {tuple(function(WORDS, random.Random(seed), 0.1, RES)) for seed in range(10)}
    assert len(outputs) > 1  # the seed matters


def test_swap_keeps_the_words():
    out = AUGMENTERS["random_swap"][0](WORDS, random.Random(0), 0.1, RES)
    assert Counter(out) == Counter(WORDS) and out != WORDS


def test_deletion_never_deletes_everything():
    for seed in range(20):
        assert AUGMENTERS["random_deletion"][0](["only"], random.Random(seed), 0.5, RES) == ["only"]


def test_insertion_adds_vocabulary_words():
    out = AUGMENTERS["random_insertion"][0](WORDS, random.Random(0), 0.1, RES)
    extra = Counter(out) - Counter(WORDS)
    assert sum(extra.values()) == len(out) - len(WORDS) >= 1
    assert set(extra) <= set(VOCABULARY)


def test_augment_text_leaves_empty_text_alone():
    assert augment_text("", ["random_swap"], random.Random(0), RES) == ""
    assert augment_text("two words", [], random.Random(0), RES) == "two words"


def test_check_names():
    assert check_names(["random_swap", "typo", "character_noise", "x"]) == ["typo", "x"]


def test_preview_has_one_column_per_augmentation():
    frame = make_sentiment_frame(copies=2)
    names = ["random_swap", "random_deletion", "random_insertion"]
    preview = preview_augmentations(frame, names, RES, rows=4, seed=1)
    assert list(preview.columns) == ["original", *names]
    assert len(preview) == 4
    assert set(preview["original"]) <= set(frame["text"])
    pd.testing.assert_frame_equal(preview, preview_augmentations(frame, names, RES, rows=4, seed=1))
    assert len(preview_augmentations(frame.head(2), names, RES, rows=5)) == 2
    assert not preview[names].eq(preview["original"], axis=0).all().all()
    rerolled = preview_augmentations(frame, names, RES, rows=4, seed=2)
    assert not rerolled.equals(preview)  # a new seed re-rolls rows and variants


def test_strength_scales_how_much_changes():
    def changed(strength: float) -> int:
        out = AUGMENTERS["character_noise"][0](WORDS, random.Random(3), strength, RES)
        return sum(a != b for a, b in zip(out, WORDS, strict=True))

    assert changed(0.05) < changed(0.3)


def test_synonym_replacement_uses_the_source_and_nothing_else():
    out = AUGMENTERS["synonym_replacement"][0](WORDS, random.Random(0), 0.5, RES)
    replaced = {(a, b) for a, b in zip(WORDS, out, strict=True) if a != b}
    assert replaced and all(b in SYNONYMS[a] for a, b in replaced)
    assert AUGMENTERS["synonym_replacement"][0](WORDS, random.Random(0), 0.5, Resources(VOCABULARY)) == WORDS


def test_character_noise_only_edits_letters_inside_words():
    out = AUGMENTERS["character_noise"][0](WORDS, random.Random(1), 0.2, RES)
    assert len(out) == len(WORDS) and out != WORDS
    for a, b in zip(WORDS, out, strict=True):
        assert abs(len(a) - len(b)) <= 1


def test_embedding_synonyms_are_nearest_whole_words():
    import numpy as np

    from core.synonyms import EmbeddingSynonyms

    vocabulary = {"film": 0, "movie": 1, "car": 2, "##s": 3, "[CLS]": 4, "xy": 5}
    weight = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    synonyms = EmbeddingSynonyms(vocabulary, weight)
    assert synonyms.words == ["film", "movie", "car"]  # sub-words, specials and 2-letter words are left out
    assert synonyms("Film")[0] == "movie"
    assert synonyms("unknown") == ()


# On-the-fly augmentation of the training set (core.augmented_data)

def _augmented(tiny_model_dir, copies=2, seed=0):
    from transformers import AutoTokenizer

    from core.augmented_data import build_augmented
    from core.config import TrainConfig
    from core.training import tokenize_frame

    frame = make_sentiment_frame(copies=1)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = tokenize_frame(frame, tokenizer, ["negative", "positive"], 32)
    cfg = TrainConfig(train="x.csv", augment=["random_swap", "random_deletion"], augment_copies=copies, seed=seed,
                      max_length=32)
    return frame, base, build_augmented(frame, base, tokenizer, cfg)


def test_augmented_set_keeps_originals_labels_and_is_seeded(tiny_model_dir):
    frame, base, data = _augmented(tiny_model_dir)
    n = len(frame)
    assert len(data) == 3 * n and len(data.lengths) == 3 * n
    for i in range(n):
        assert data[i]["input_ids"] == base[i]["input_ids"]  # originals untouched
    assert [data[i]["labels"] for i in range(3 * n)] == list(base["labels"]) * 3  # labels preserved
    assert all("length" not in data[i] for i in range(3))
    variants = [data.variant(i)[0] for i in range(n, 3 * n)]
    assert sum(v != t for v, t in zip(variants, frame["text"].tolist() * 2, strict=True)) > n
    _, _, again = _augmented(tiny_model_dir)
    assert [again.variant(i)[0] for i in range(n, 3 * n)] == variants


def test_augmented_set_draws_new_variants_each_epoch(tiny_model_dir):
    from core.augmented_data import AugmentationEpoch

    frame, _, data = _augmented(tiny_model_dir, copies=1)
    first = [data.variant(i)[0] for i in range(len(frame), 2 * len(frame))]

    class State:
        epoch = 1.0

    AugmentationEpoch(data).on_epoch_begin(None, State(), None)
    assert data.epoch == 1
    second = [data.variant(i)[0] for i in range(len(frame), 2 * len(frame))]
    assert first != second
    data.epoch = 0
    assert [data.variant(i)[0] for i in range(len(frame), 2 * len(frame))] == first
