"""core.training speed settings: fused AdamW by default, other optimizers untouched."""

from __future__ import annotations

import pytest
import torch

from core.config import TrainConfig
from core.modeling import load_classifier, load_tokenizer
from core.rundir import RunDir
from core.training import build_trainer, tokenize_frame
from tests.conftest import make_sentiment_frame


@pytest.mark.parametrize(("optimizer", "kind", "fused"), [("adamw", torch.optim.AdamW, True),
                                                          ("adam", torch.optim.Adam, None),
                                                          ("sgd", torch.optim.SGD, None)])
def test_the_default_adamw_is_the_fused_kernel(tiny_model_dir, tmp_path, optimizer, kind, fused):
    cfg = TrainConfig(train="x.csv", model=str(tiny_model_dir), optimizer=optimizer, batch_size=8, device="cpu",
                      max_length=32).resolved()
    labels = ["negative", "positive"]
    data = tokenize_frame(make_sentiment_frame(1), load_tokenizer(cfg.model), labels, 32)
    trainer = build_trainer(cfg, load_classifier(cfg, labels), load_tokenizer(cfg.model), data, data,
                            RunDir(tmp_path / "run"), "cpu", labels=labels)
    created = trainer.create_optimizer()
    assert type(created) is kind or isinstance(getattr(created, "optimizer", None), kind)
    inner = getattr(created, "optimizer", created)
    assert inner.defaults.get("fused") == fused
