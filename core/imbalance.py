"""Remedies for class imbalance: weighted losses and oversampling of the training split.

"balanced" weights follow scikit-learn's `compute_class_weight` (n_rows / (n_classes * count)); for
multi-label data each label's BCE `pos_weight` is its negatives over its positives (torch's documented use).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch import nn

from core import tasks
from core.evaluation import multi_hot

MAX_POS_WEIGHT = 100.0  # a label seen once in 10,000 rows would otherwise dominate the loss


def class_weights(frame: pd.DataFrame, labels: list[str], task: str, separator: str = ",") -> torch.Tensor:
    """One weight per output: inverse class frequency (single label) or negatives/positives (multi-label)."""
    if task == tasks.MULTI_LABEL:
        targets = multi_hot(frame["label"], labels, separator).astype(float)
        positives = targets.sum(axis=0)
        weights = (len(targets) - positives) / np.maximum(positives, 1)
        return torch.tensor(np.clip(weights, 1.0, MAX_POS_WEIGHT), dtype=torch.float32)
    present = np.array(sorted(set(frame["label"]) & set(labels)))
    balanced = dict(zip(present, compute_class_weight("balanced", classes=present, y=frame["label"].to_numpy()),
                        strict=True))
    return torch.tensor([balanced.get(label, 1.0) for label in labels], dtype=torch.float32)


def weighted_loss(task: str, weights: torch.Tensor, label_smoothing: float = 0.0):
    """A Trainer `compute_loss_func` with the weights (label smoothing kept: the Trainer skips its own)."""
    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        w = weights.to(logits.device)
        if task == tasks.MULTI_LABEL:
            return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=w)
        return nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), weight=w,
                                           label_smoothing=label_smoothing)

    return loss


def oversample(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Repeat rows of smaller classes (seeded draws) until every class has as many rows as the largest."""
    largest = frame["label"].value_counts().max()
    parts = [group if len(group) == largest else
             pd.concat([group, group.sample(largest - len(group), replace=True, random_state=seed)])
             for _, group in frame.groupby("label", sort=True)]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def imbalance_ratio(counts: pd.Series) -> float:
    """Rows of the largest class over rows of the smallest."""
    return float(counts.max() / max(counts.min(), 1)) if len(counts) else 1.0
