"""Seeded, offline word-level text augmentations (EDA, Wei & Zou 2019, plus character noise).

Each operation takes a sentence's words, a random generator, a strength (the share of words it touches;
EDA finds 0.1 a safe default) and the resources it may draw on, and returns new words. They are applied
on the fly during training (see core.augmented_data), so every epoch sees fresh variants; nothing here
enlarges or alters validation or test data. Written here rather than taken from nlpaug: nlpaug's synonym
augmenter needs a WordNet download, its last release is from 2022, and the four EDA operations are a few
lines each.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

DEFAULT_STRENGTH = 0.1


@dataclass
class Resources:
    """What the operations may draw on: frequent training words, and a synonym source (word → candidates)."""

    vocabulary: list[str] = field(default_factory=list)
    synonyms: Callable[[str], tuple[str, ...]] | None = None


Augmenter = Callable[[list[str], random.Random, float, Resources], list[str]]


def _count(words: list[str], strength: float) -> int:
    return max(1, round(strength * len(words)))


def random_swap(words: list[str], rng: random.Random, strength: float, res: Resources) -> list[str]:
    """Swap the positions of a few random word pairs."""
    words = list(words)
    for _ in range(_count(words, strength)):
        if len(words) < 2:
            break
        i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return words


def random_deletion(words: list[str], rng: random.Random, strength: float, res: Resources) -> list[str]:
    """Drop each word with probability `strength`, never all of them."""
    kept = [w for w in words if rng.random() > strength]
    return kept or [rng.choice(words)] if words else words


def random_insertion(words: list[str], rng: random.Random, strength: float, res: Resources) -> list[str]:
    """Insert a few words drawn from the training vocabulary at random places."""
    words = list(words)
    for _ in range(_count(words, strength)):
        if res.vocabulary:
            words.insert(rng.randrange(len(words) + 1), rng.choice(res.vocabulary))
    return words


def synonym_replacement(words: list[str], rng: random.Random, strength: float, res: Resources) -> list[str]:
    """Replace a few words by one of their nearest neighbours in the model's vocabulary (see core.synonyms)."""
    words = list(words)
    if res.synonyms is None:
        return words
    positions = [i for i, w in enumerate(words) if w.isalpha()]
    rng.shuffle(positions)
    replaced = 0
    for i in positions:
        candidates = res.synonyms(words[i])
        if candidates:
            words[i] = rng.choice(candidates)
            replaced += 1
        if replaced >= _count(words, strength):
            break
    return words


def character_noise(words: list[str], rng: random.Random, strength: float, res: Resources) -> list[str]:
    """Typos: in a few words, swap two neighbouring letters, drop one, double one or replace one."""
    words = list(words)
    candidates = [i for i, w in enumerate(words) if len(w) >= 3]
    for i in rng.sample(candidates, min(len(candidates), _count(words, strength))):
        w = words[i]
        k = rng.randrange(len(w) - 1)
        edit = rng.randrange(4)
        if edit == 0:
            w = w[:k] + w[k + 1] + w[k] + w[k + 2:]
        elif edit == 1:
            w = w[:k] + w[k + 1:]
        elif edit == 2:
            w = w[:k] + w[k] + w[k:]
        else:
            w = w[:k] + rng.choice(string.ascii_lowercase) + w[k + 1:]
        words[i] = w
    return words


AUGMENTERS: dict[str, tuple[Augmenter, str]] = {
    "random_swap": (random_swap, "Swap the order of a few words"),
    "random_deletion": (random_deletion, "Delete some words (the strength is the share deleted)"),
    "random_insertion": (random_insertion, "Insert a few words used elsewhere in the training data"),
    "synonym_replacement": (synonym_replacement, "Replace a few words by close words from the model's vocabulary"),
    "character_noise": (character_noise, "Add typos: swapped, dropped, doubled or replaced letters"),
}


def check_names(names: list[str]) -> list[str]:
    """Unknown augmentation names (empty when all are known)."""
    return [n for n in names if n not in AUGMENTERS]


def build_vocabulary(texts: pd.Series, limit: int = 5000) -> list[str]:
    """The most frequent words of the training texts, for insertion."""
    counts = texts.astype(str).str.split().explode().value_counts()
    return counts.head(limit).index.astype(str).tolist()


def augment_text(text: str, names: list[str], rng: random.Random, resources: Resources,
                 strength: float = DEFAULT_STRENGTH) -> str:
    """Apply one randomly chosen augmentation of `names` to `text`."""
    words = str(text).split()
    if not words or not names:
        return text
    function, _ = AUGMENTERS[rng.choice(names)]
    return " ".join(function(words, rng, strength, resources))


def row_rng(seed: int, epoch: int, row: int, copy: int) -> random.Random:
    """The generator for one variant: the same (seed, epoch, row, copy) always gives the same text."""
    return random.Random(f"{seed}-{epoch}-{row}-{copy}")


def preview_augmentations(frame: pd.DataFrame, names: list[str], resources: Resources, rows: int = 5,
                          seed: int = 0, strength: float = DEFAULT_STRENGTH) -> pd.DataFrame:
    """Before/after pairs for a few real rows, one column per augmentation, seeded (a new seed re-rolls)."""
    sample = frame.sample(min(rows, len(frame)), random_state=seed)
    out = pd.DataFrame({"original": sample["text"].astype(str).to_numpy()})
    for name in names:
        out[name] = [augment_text(t, [name], row_rng(seed, 0, i, 1), resources, strength)
                     for i, t in enumerate(out["original"])]
    return out
