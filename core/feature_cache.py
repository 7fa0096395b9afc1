"""Frozen-backbone training on cached features: the backbone runs once per example, not once per epoch.

Encoder classifiers (BERT, RoBERTa, DistilBERT, ELECTRA, DeBERTa, MPNet...) read only the first token's
final hidden state. With the backbone frozen (and in eval mode) that state never changes, so it is computed
once and fed back through `inputs_embeds`, while a stand-in backbone passes it to the model's own head.
The exported model is the untouched original with its trained head: a standard Hugging Face model.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import DataCollatorWithPadding
from transformers.modeling_outputs import BaseModelOutputWithPooling

logger = logging.getLogger(__name__)

# Model types whose classification head uses only the first token (checked in their modeling files).
FIRST_TOKEN_HEADS = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta", "deberta-v2", "mpnet",
                     "camembert", "albert", "modernbert"}


class CachedBackbone(nn.Module):
    """Stands in for the frozen backbone: returns the cached first-token states passed as `inputs_embeds`."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.pooler = getattr(backbone, "pooler", None)  # shared with the real model, so training updates it
        self.config = backbone.config

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, **kwargs) -> BaseModelOutputWithPooling:
        pooled = self.pooler(inputs_embeds) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=inputs_embeds, pooler_output=pooled)


def supports_cache(model: nn.Module) -> bool:
    """Whether the model's head reads only the first token, so cached features are exact."""
    return (getattr(model.config, "model_type", "") in FIRST_TOKEN_HEADS and not hasattr(model, "peft_config")
            and type(model).__name__.endswith("ForSequenceClassification"))


@torch.inference_mode()
def extract_features(backbone: nn.Module, dataset: Dataset, tokenizer, device: str, batch_size: int = 64) -> np.ndarray:
    """First-token final hidden states of every row, computed in length-sorted batches (little padding)."""
    backbone.eval().to(device)
    collator = DataCollatorWithPadding(tokenizer)
    order = np.argsort(dataset["length"])
    features = np.zeros((len(dataset), backbone.config.hidden_size), dtype=np.float32)
    columns = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in dataset.column_names]
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        rows = dataset.select(index.tolist()).select_columns(columns)
        batch = {k: v.to(device) for k, v in collator(list(rows)).items()}
        hidden = backbone(**batch).last_hidden_state[:, 0]
        features[index] = hidden.float().cpu().numpy()
    return features


def cached_features(backbone: nn.Module, dataset: Dataset, tokenizer, device: str, model_id: str) -> np.ndarray:
    """`extract_features`, memoised on disk by model and exact token ids, so search trials and re-runs on the
    same data skip the backbone entirely."""
    digest = hashlib.sha256(model_id.encode())
    digest.update(str(backbone.config.to_json_string()).encode())
    for ids in dataset["input_ids"]:
        digest.update(np.asarray(ids, dtype=np.int32).tobytes() + b"|")
    return load_or_compute(digest.hexdigest(), lambda: extract_features(backbone, dataset, tokenizer, device))


def load_or_compute(key: str, compute) -> np.ndarray:
    """The array saved under `key` in the workspace's feature cache, or `compute()`'s result, saved there."""
    from core.workspace import workspace_home

    path = workspace_home() / "cache" / "features" / f"{key[:32]}.npy"
    if path.exists():
        logger.info("Reusing cached features %s", path.name)
        return np.load(path)
    features = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, features)
    tmp.replace(path)
    return features


def to_feature_dataset(features: np.ndarray, labels: list[int]) -> Dataset:
    """A dataset of (inputs_embeds of shape (1, hidden), labels) rows, as torch tensors."""
    data = Dataset.from_dict({"inputs_embeds": features[:, None, :], "labels": labels})
    return data.with_format("torch")


@contextmanager
def cached_backbone(model: nn.Module, stand_in: type[nn.Module] = CachedBackbone):
    """Temporarily replace the model's backbone by a `stand_in(backbone)`; the real one is put back afterwards."""
    prefix = model.base_model_prefix
    real = getattr(model, prefix)
    setattr(model, prefix, stand_in(real))
    try:
        yield model
    finally:
        setattr(model, prefix, real)
