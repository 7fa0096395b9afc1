"""The training set with on-the-fly augmentation: fresh, seeded variants every epoch, originals kept.

Row `i` of an epoch is original row `i % n` when `i < n`, else its variant number `i // n`, augmented with
a generator seeded by (seed, epoch, row, variant): a run is reproducible, yet each epoch sees new text.
Only the training set is wrapped; validation and test stay the tokenised originals.
"""

from __future__ import annotations

import pandas as pd
from datasets import Dataset
from torch.utils.data import Dataset as TorchDataset
from transformers import TrainerCallback

from core.augmentation import Resources, augment_text, build_vocabulary, row_rng

DROPPED = {"length"}  # the sampler reads lengths from `lengths`; the model must not receive them


class AugmentedDataset(TorchDataset):
    """Originals plus `copies` augmented variants per row, re-drawn each epoch (set by `AugmentationEpoch`)."""

    def __init__(self, frame: pd.DataFrame, base: Dataset, tokenizer, max_length: int, names: list[str],
                 copies: int, strength: float, seed: int, resources: Resources) -> None:
        self.texts = frame["text"].astype(str).tolist()
        self.pairs = frame["text_pair"].astype(str).tolist() if "text_pair" in frame.columns else None
        self.base, self.tokenizer, self.max_length = base, tokenizer, max_length
        self.names, self.copies, self.strength, self.seed, self.resources = names, copies, strength, seed, resources
        self.epoch = 0
        base_lengths = base["length"] if "length" in base.column_names else [len(t.split()) for t in self.texts]
        self.lengths = list(base_lengths) * (copies + 1)

    def __len__(self) -> int:
        return len(self.texts) * (self.copies + 1)

    def variant(self, index: int) -> tuple[str, str | None]:
        """The (text, pair) that row `index` of the current epoch trains on."""
        row, copy = index % len(self.texts), index // len(self.texts)
        text, pair = self.texts[row], self.pairs[row] if self.pairs else None
        if copy == 0:
            return text, pair
        rng = row_rng(self.seed, self.epoch, row, copy)
        text = augment_text(text, self.names, rng, self.resources, self.strength)
        if pair is not None:
            pair = augment_text(pair, self.names, rng, self.resources, self.strength)
        return text, pair

    def __getitem__(self, index: int) -> dict:
        row = index % len(self.texts)
        item = {k: v for k, v in self.base[row].items() if k not in DROPPED}
        if index >= len(self.texts):
            text, pair = self.variant(index)
            item.update(self.tokenizer(text, pair, truncation=True, max_length=self.max_length))
        return item


class AugmentationEpoch(TrainerCallback):
    """Tells the augmented training set which epoch is starting, so its variants change per epoch."""

    def __init__(self, dataset: AugmentedDataset) -> None:
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.epoch = round(state.epoch or 0)


def build_augmented(frame: pd.DataFrame, base: Dataset, tokenizer, cfg, synonyms=None) -> AugmentedDataset:
    """The training set a recipe asks for (`augment`, `augment_copies`, `augment_strength`, `seed`)."""
    resources = Resources(vocabulary=build_vocabulary(frame["text"]), synonyms=synonyms)
    return AugmentedDataset(frame, base, tokenizer, cfg.max_length, cfg.augment, cfg.augment_copies,
                            cfg.augment_strength, cfg.seed, resources)


def effective_rows(train_rows: int, names: list[str], copies: int) -> int:
    """Examples the model trains on per epoch: the originals plus their fresh variants."""
    return train_rows * (1 + (copies if names else 0))
