"""Offline synonym candidates: nearest whole words in the chosen model's own input-embedding table.

No pip package ships a WordNet that works without a download step (nltk and wn fetch their data at run
time), while every model the engine trains already carries a vocabulary and its embeddings. Neighbours
in that table are mostly synonyms, inflections and close relatives ("film" → "movie", "films"), but
like any distributional method they can also be antonyms ("good" → "bad"): the strength setting keeps
replacements rare, and the preview shows them before training.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from core.catalogue import resolve_model
from core.errors import ModelError

logger = logging.getLogger(__name__)

EMBEDDING_KEYS = ("word_embeddings.weight", "embed_tokens.weight", "shared.weight", "wte.weight")
NEIGHBOURS = 5
MIN_LENGTH = 3


class EmbeddingSynonyms:
    """Word → its nearest whole-word neighbours by cosine similarity of input embeddings."""

    def __init__(self, vocabulary: dict[str, int], weight: np.ndarray) -> None:
        words = [w for w in vocabulary if w.isalpha() and w.islower() and len(w) >= MIN_LENGTH]
        vectors = weight[[vocabulary[w] for w in words]].astype(np.float32)
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
        self.lookup = lru_cache(maxsize=50_000)(self._neighbours)

    def _neighbours(self, word: str) -> tuple[str, ...]:
        i = self.index.get(word)
        if i is None:
            return ()
        scores = self.vectors @ self.vectors[i]
        scores[i] = -np.inf
        k = min(NEIGHBOURS, len(scores) - 1)
        best = np.argpartition(-scores, k - 1)[:k] if k > 0 else np.array([], dtype=int)
        return tuple(self.words[j] for j in best[np.argsort(-scores[best])])

    def __call__(self, word: str) -> tuple[str, ...]:
        """Up to five neighbours of the lower-cased word, closest first (none for unknown words)."""
        return self.lookup(word.lower())


@lru_cache(maxsize=2)
def load_synonyms(model: str) -> EmbeddingSynonyms:
    """The synonym source of a catalogue id or model folder (read from its safetensors file, no model built).

    Raises:
        ModelError: The model is not on disk or holds no recognisable input-embedding table.
    """
    from core.modeling import load_tokenizer

    location, _ = resolve_model(model)
    files = sorted(Path(location).glob("*.safetensors")) if Path(location).is_dir() else []
    for file in files:
        tensors = load_file(file)
        key = next((k for k in tensors if k.endswith(EMBEDDING_KEYS)), None)
        if key is not None:
            return EmbeddingSynonyms(load_tokenizer(model).get_vocab(), tensors[key])
    raise ModelError(f"The model '{model}' has no input-embedding table on disk to draw synonyms from.",
                     "Pick a bundled model, or leave synonym replacement off.")
