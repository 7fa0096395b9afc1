"""Quick, in-process looks at the data for the wizard: token lengths under the chosen model."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.modeling import load_tokenizer

MAX_SAMPLE = 2000


@lru_cache(maxsize=4)
def _tokenizer(model: str):
    return load_tokenizer(model)


def token_lengths(model: str, texts: list[str], seed: int = 0) -> list[int]:
    """Token counts of (a seeded sample of at most 2,000) texts under the model's tokenizer."""
    rng = np.random.default_rng(seed)
    if len(texts) > MAX_SAMPLE:
        texts = [texts[i] for i in rng.choice(len(texts), MAX_SAMPLE, replace=False)]
    encoded = _tokenizer(model)(list(map(str, texts)), add_special_tokens=True, truncation=False)
    return [len(ids) for ids in encoded["input_ids"]]


def truncated_share(lengths: list[int], max_length: int) -> float:
    """Share of texts longer than `max_length` tokens."""
    return float(np.mean(np.asarray(lengths) > max_length)) if lengths else 0.0
