"""core.feature_cache: cached first-token features are exact, and reused from disk on the second call."""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

import core.feature_cache as feature_cache
from core.training import tokenize_frame
from tests.conftest import make_sentiment_frame


def test_features_match_the_backbone_and_are_reused(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FINETUNE_HOME", str(tmp_path))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    backbone = AutoModel.from_pretrained(tiny_model_dir).eval()
    frame = make_sentiment_frame(2)
    dataset = tokenize_frame(frame, tokenizer, ["negative", "positive"], 32)
    first = feature_cache.cached_features(backbone, dataset, tokenizer, "cpu", "tiny")
    with torch.inference_mode():
        one = tokenizer(frame["text"].iloc[3], return_tensors="pt")
        expected = backbone(**one).last_hidden_state[0, 0].numpy()
    np.testing.assert_allclose(first[3], expected, atol=1e-5)

    calls = []
    monkeypatch.setattr(feature_cache, "extract_features", lambda *a, **k: calls.append(1))
    again = feature_cache.cached_features(backbone, dataset, tokenizer, "cpu", "tiny")
    assert not calls, "the second call reads the cache instead of running the backbone"
    np.testing.assert_array_equal(first, again)
    other = tokenize_frame(frame.head(5), tokenizer, ["negative", "positive"], 32)
    feature_cache.cached_features(backbone, other, tokenizer, "cpu", "tiny")
    assert calls, "different rows are a different cache entry"
