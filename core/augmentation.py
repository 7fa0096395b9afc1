"""Seeded, offline text augmentations (EDA, Wei & Zou 2019) applied to training rows only."""

from __future__ import annotations

import random
from collections.abc import Callable

import pandas as pd

# Share of a sentence's words each operation touches; EDA's paper finds 0.1 a safe default.
ALPHA = 0.1

Augmenter = Callable[[list[str], random.Random, list[str]], list[str]]


def random_swap(words: list[str], rng: random.Random, vocabulary: list[str]) -> list[str]:
    """Swap the positions of a few random word pairs."""
    words = list(words)
    for _ in range(max(1, int(ALPHA * len(words)))):
        if len(words) < 2:
            break
        i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return words


def random_deletion(words: list[str], rng: random.Random, vocabulary: list[str]) -> list[str]:
    """Drop each word with probability ALPHA, never all of them."""
    kept = [w for w in words if rng.random() > ALPHA]
    return kept or [rng.choice(words)] if words else words


def random_insertion(words: list[str], rng: random.Random, vocabulary: list[str]) -> list[str]:
    """Insert a few words drawn from the training vocabulary at random places."""
    words = list(words)
    for _ in range(max(1, int(ALPHA * len(words)))):
        if vocabulary:
            words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
    return words


AUGMENTERS: dict[str, tuple[Augmenter, str]] = {
    "random_swap": (random_swap, "Swap the order of a few words"),
    "random_deletion": (random_deletion, "Delete about one word in ten"),
    "random_insertion": (random_insertion, "Insert a few words used elsewhere in the training data"),
}


def check_names(names: list[str]) -> list[str]:
    """Unknown augmentation names (empty when all are known)."""
    return [n for n in names if n not in AUGMENTERS]


def build_vocabulary(texts: pd.Series, limit: int = 5000) -> list[str]:
    """The most frequent words of the training texts, for insertion."""
    counts = texts.astype(str).str.split().explode().value_counts()
    return counts.head(limit).index.astype(str).tolist()


def augment_text(text: str, names: list[str], rng: random.Random, vocabulary: list[str]) -> str:
    """Apply one randomly chosen augmentation of `names` to `text`."""
    words = str(text).split()
    if not words or not names:
        return text
    function, _ = AUGMENTERS[rng.choice(names)]
    return " ".join(function(words, rng, vocabulary))


def augment_frame(frame: pd.DataFrame, names: list[str], copies: int, seed: int) -> pd.DataFrame:
    """The training frame plus `copies` augmented variants of every row (labels unchanged).

    Args:
        frame: Training rows with `text` and `label`.
        names: Augmentation names from AUGMENTERS.
        copies: Variants per row; 0 returns the frame unchanged.
        seed: Makes the variants reproducible.
    """
    if copies <= 0 or not names:
        return frame
    rng = random.Random(seed)
    vocabulary = build_vocabulary(frame["text"])
    extra = [frame.assign(text=[augment_text(t, names, rng, vocabulary) for t in frame["text"]])
             for _ in range(copies)]
    return pd.concat([frame, *extra], ignore_index=True)


def preview_augmentations(frame: pd.DataFrame, names: list[str], rows: int = 5, seed: int = 0) -> pd.DataFrame:
    """Before/after pairs for a few real rows, one column per augmentation, seeded."""
    sample = frame.sample(min(rows, len(frame)), random_state=seed)
    vocabulary = build_vocabulary(frame["text"])
    out = pd.DataFrame({"original": sample["text"].astype(str).to_numpy()})
    for name in names:
        rng = random.Random(seed)
        out[name] = [augment_text(t, [name], rng, vocabulary) for t in out["original"]]
    return out
