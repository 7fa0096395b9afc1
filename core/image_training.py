"""Fine-tuning an image classifier: pixel datasets decoded on the fly, and linear probes on cached features.

`core.runner` hands image recipes to `train_images`, which mirrors its text path: the same Trainer
(`core.training.build_trainer`), callbacks, checkpoints, early stopping, report and export. With the frozen
strategy and a pooled-feature head (MobileNet, ResNet, ConvNeXt...), the backbone runs once per image and the
head trains on the cached pooled features: a linear probe that takes seconds instead of minutes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from contextlib import contextmanager

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndNoAttention

from core import feature_cache
from core.catalogue import resolve_model
from core.config import TrainConfig
from core.distributed import is_main_process
from core.image_augmentation import augment_image, build_augmenter
from core.image_data import load_image, prepare_image_data
from core.modeling import _from_pretrained, apply_strategy
from core.rundir import RunDir, write_json_atomic
from core.training import build_trainer, predict_with_labels

logger = logging.getLogger(__name__)

# Model types whose classification head reads only the backbone's pooled output (checked in their modeling files).
POOLED_HEADS = {"mobilenet_v1", "mobilenet_v2", "resnet", "convnext", "convnextv2", "efficientnet", "regnet",
                "mobilevit", "mobilevitv2", "levit", "bit"}


def load_image_processor(choice: str, image_size: int | None = None):
    """The image processor (resize, crop, normalise) of a catalogue id, folder or Hub id.

    With `image_size`, it resizes and crops to that side instead, keeping the model's resize-to-crop ratio
    (256/224 for ImageNet models); the exported processor then does the same, so predictions match training.
    """
    location, source = resolve_model(choice)
    processor = _from_pretrained(AutoImageProcessor, location, source)
    if image_size:
        size, crop = dict(getattr(processor, "size", None) or {}), getattr(processor, "crop_size", None)
        if "shortest_edge" in size and crop:
            ratio = size["shortest_edge"] / crop["height"]
            processor.size = {"shortest_edge": round(image_size * ratio)}
            processor.crop_size = {"height": image_size, "width": image_size}
        else:
            processor.size = {"height": image_size, "width": image_size}
    return processor


def load_image_classifier(cfg: TrainConfig, labels: list[str]):
    """The pretrained image model with a new head for `labels`, frozen as the strategy asks."""
    location, source = resolve_model(cfg.model)
    config = _from_pretrained(AutoConfig, location, source, num_labels=len(labels),
                              id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    if cfg.dropout is not None and hasattr(config, "classifier_dropout_prob"):
        config.classifier_dropout_prob = cfg.dropout
    # The pretrained head has the old classes: a new one of the right size starts from scratch.
    model = _from_pretrained(AutoModelForImageClassification, location, source, config=config,
                             ignore_mismatched_sizes=True)
    return apply_strategy(model, cfg)


def resize_size(processor) -> int:
    """The side the processor resizes to (a random crop of this size keeps its centre crop meaningful)."""
    size = getattr(processor, "size", None) or {}
    return int(size.get("shortest_edge") or size.get("height") or 224)


def pixel_dataset(frame, labels: list[str], processor, augmenter=None) -> Dataset:
    """(image path, label id) rows that decode, augment (train only) and preprocess each image when read."""
    index = {name: i for i, name in enumerate(labels)}
    data = Dataset.from_dict({"image": frame["image"].tolist(), "labels": frame["label"].map(index).tolist()})

    def transform(batch: dict) -> dict:
        images = [load_image(path) for path in batch["image"]]
        if augmenter is not None:
            images = [augment_image(augmenter, image) for image in images]
        return {"pixel_values": processor(images, return_tensors="pt")["pixel_values"],
                "labels": torch.tensor(batch["labels"])}

    return data.with_transform(transform)


class PooledFeatures(nn.Module):
    """Stands in for a frozen image backbone: the cached pooled features arrive as `pixel_values`."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.config = backbone.config

    def forward(self, pixel_values=None, output_hidden_states=None, return_dict=None, **kwargs):
        return BaseModelOutputWithPoolingAndNoAttention(last_hidden_state=pixel_values, pooler_output=pixel_values)


def supports_image_cache(model: nn.Module) -> bool:
    """Whether the head reads only the pooled output, so cached pooled features are exact."""
    return model.config.model_type in POOLED_HEADS and not hasattr(model, "peft_config")


@torch.inference_mode()
def extract_pooled(backbone: nn.Module, dataset: Dataset, device: str, batch_size: int = 32) -> np.ndarray:
    """The backbone's pooled output for every image (eval mode: BatchNorm uses its running statistics)."""
    backbone.eval().to(device)
    parts = []
    for start in range(0, len(dataset), batch_size):
        pixels = dataset[start:start + batch_size]["pixel_values"].to(device)
        parts.append(backbone(pixel_values=pixels).pooler_output.float().cpu().numpy())
    return np.concatenate(parts)


def pooled_features(backbone: nn.Module, dataset: Dataset, paths: list[str], device: str, model_id: str,
                    processor) -> np.ndarray:
    """`extract_pooled`, memoised on disk by model, preprocessing and each file's path, size and time."""
    digest = hashlib.sha256(f"{model_id}|{backbone.config.to_json_string()}|{processor.to_json_string()}".encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return feature_cache.load_or_compute("img" + digest.hexdigest(),
                                         lambda: extract_pooled(backbone, dataset, device))


def uses_feature_cache(cfg: TrainConfig, model: nn.Module) -> bool:
    """Whether this run trains its head on cached pooled features."""
    return cfg.strategy == "frozen" and supports_image_cache(model)


@contextmanager
def image_training_view(cfg: TrainConfig, model, sets: dict, data, processor, device: str, run: RunDir):
    """The datasets to train on: cached pooled features for a frozen backbone, else the pixels."""
    if not uses_feature_cache(cfg, model):
        yield sets, False
        return
    run.write_status("running", phase="computing image features once (frozen backbone)")
    backbone = getattr(model, model.base_model_prefix)
    index = {name: i for i, name in enumerate(data.labels)}
    views = {}
    for name, ds in sets.items():
        frame = data.frames[name]
        features = pooled_features(backbone, ds, frame["image"].tolist(), device, cfg.model, processor)
        views[name] = Dataset.from_dict({"pixel_values": features,
                                         "labels": frame["label"].map(index).tolist()}).with_format("torch")
    with feature_cache.cached_backbone(model, PooledFeatures):
        yield views, True


def train_images(cfg: TrainConfig, run: RunDir, resume: bool, callbacks: list, validation_only: bool) -> dict:
    """Train, evaluate and export an image classifier into `run` (called by `core.runner.train_run`)."""
    from core.runner import _finish, _finish_trial, begin_training, report_model, run_trainer  # shared steps

    started = time.time()
    data = prepare_image_data(cfg)
    for warning in data.warnings:
        logger.warning(warning)
    if is_main_process():
        write_json_atomic(run.data_report, data.report)
    cfg, device = begin_training(cfg, run, len(data.frames["train"]))
    processor = load_image_processor(cfg.model, cfg.image_size)
    model = load_image_classifier(cfg, data.labels)
    report_model(cfg, model, device, run, "reading images")
    augment = bool(cfg.image_augment) and cfg.image_augment_strength > 0
    if augment and uses_feature_cache(cfg, model):
        logger.warning("Augmentations are not applied with a frozen backbone: each image's features are computed "
                       "once. Use the full strategy to train on augmented images.")
        augment = False
    augmenter = build_augmenter(cfg.image_augment, cfg.image_augment_strength, resize_size(processor), cfg.seed) \
        if augment else None
    sets = {name: pixel_dataset(frame, data.labels, processor, augmenter if name == "train" else None)
            for name, frame in data.frames.items()}
    with image_training_view(cfg, model, sets, data, processor, device, run) as (views, cached):
        trainer = build_trainer(cfg, model, processor, views["train"], views["validation"], run, device,
                                cached=cached, labels=data.labels)
        run_trainer(trainer, run, callbacks, resume)
        if validation_only:
            return _finish_trial(cfg, run, trainer, started)
        run.write_status("running", phase="evaluating on the test split")
        outputs = predict_with_labels(trainer, views["test"])
    return _finish(cfg, run, data, trainer, processor, outputs, started, (0.0, 1.0), 0.5)
