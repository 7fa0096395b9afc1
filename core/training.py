"""Turning prepared frames and a recipe into a configured Hugging Face Trainer."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from torch.utils.data import SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    default_data_collator,
)

from core.callbacks import FinalEvaluationCallback, RunDirCallback
from core.config import TrainConfig
from core.evaluation import compute_trainer_metrics
from core.modeling import use_bf16
from core.rundir import RunDir


def tokenize_frame(frame: pd.DataFrame, tokenizer, labels: list[str], max_length: int) -> Dataset:
    """Tokenise (text, label) rows without padding; the collator pads each batch to its own longest row."""
    index = {label: i for i, label in enumerate(labels)}
    dataset = Dataset.from_dict({"text": frame["text"].astype(str).tolist(),
                                 "labels": frame["label"].map(index).astype(int).tolist()})

    def encode(batch: dict) -> dict:
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(encode, batched=True, remove_columns=["text"], desc="Tokenising")


def steps_per_epoch(rows: int, cfg: TrainConfig) -> int:
    """Optimizer updates in one pass over `rows` training examples."""
    return max(1, math.ceil(rows / (cfg.batch_size * cfg.gradient_accumulation)))


def build_training_args(cfg: TrainConfig, run: RunDir, train_rows: int, device: str,
                        cached: bool = False) -> TrainingArguments:
    """TrainingArguments that evaluate and checkpoint in step, keep the best model, and log often."""
    per_epoch = steps_per_epoch(train_rows, cfg)
    eval_every = max(1, per_epoch // cfg.evaluations_per_epoch)
    metric = cfg.early_stopping_metric
    optim_args = {"optim": "sgd", "optim_args": f"momentum={cfg.momentum}"} if cfg.optimizer == "sgd" else {}
    return TrainingArguments(
        output_dir=str(run.checkpoints),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=max(64, cfg.batch_size * 2),
        gradient_accumulation_steps=cfg.gradient_accumulation,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,
        lr_scheduler_type=cfg.scheduler,
        label_smoothing_factor=cfg.label_smoothing,
        eval_strategy="steps",
        eval_steps=eval_every,
        save_strategy="steps",
        save_steps=eval_every,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=f"eval_{metric}",
        greater_is_better=metric != "loss",
        logging_strategy="steps",
        logging_steps=max(1, min(eval_every, per_epoch // 20)),
        # Sorting into batches of similar length removes most padding: the largest CPU speed-up available.
        train_sampling_strategy="random" if cached else "group_by_length",
        seed=cfg.seed,
        use_cpu=device == "cpu",
        bf16=use_bf16(device),
        report_to="none",
        disable_tqdm=not sys.stderr.isatty(),
        dataloader_num_workers=0,
        # A classification loss is a per-process mean that ignores num_items_in_batch; averaging tokens across
        # processes would multiply it (and its gradient) by the number of processes under torchrun/accelerate.
        average_tokens_across_devices=False,
        **optim_args,
    )


class OrderedEvalTrainer(Trainer):
    """A Trainer whose evaluation and prediction keep the dataset's row order.

    transformers 5 applies the training's length-grouped sampler to evaluation too, which returns
    predictions shuffled; callers sort by length themselves (see `predict_logits`) to keep batches tight.
    """

    def _get_eval_sampler(self, eval_dataset):
        return SequentialSampler(eval_dataset) if eval_dataset is not None else None


def sort_by_length(dataset: Dataset) -> tuple[Dataset, np.ndarray]:
    """The dataset sorted by token length (stable) and the permutation used."""
    if "length" not in dataset.column_names:
        return dataset, np.arange(len(dataset))
    order = np.argsort(np.asarray(dataset["length"]), kind="stable")
    return dataset.select(order.tolist()), order


def predict_logits(trainer: Trainer, dataset: Dataset) -> np.ndarray:
    """Model outputs for every row, in the dataset's own order, computed in length-sorted batches."""
    ordered, order = sort_by_length(dataset)
    outputs = trainer.predict(ordered).predictions
    outputs = outputs[0] if isinstance(outputs, tuple) else outputs
    logits = np.empty_like(outputs)
    logits[order] = outputs
    return logits


def build_trainer(cfg: TrainConfig, model, tokenizer, train: Dataset, validation: Dataset, run: RunDir,
                  device: str, cached: bool = False) -> Trainer:
    """A Trainer wired to the run directory, with early stopping and the recipe's optimizer.

    With `cached`, the datasets hold precomputed features (see core.feature_cache) instead of tokens.
    """
    args = build_training_args(cfg, run, len(train), device, cached)
    callbacks = [RunDirCallback(run, cfg.batch_size * cfg.gradient_accumulation), FinalEvaluationCallback()]
    if cfg.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    optimizer = (torch.optim.Adam, {"lr": cfg.learning_rate}) if cfg.optimizer == "adam" else None
    return OrderedEvalTrainer(model=model, args=args, train_dataset=train, eval_dataset=sort_by_length(validation)[0],
                   data_collator=default_data_collator if cached else DataCollatorWithPadding(tokenizer),
                   processing_class=tokenizer,
                   compute_metrics=compute_trainer_metrics, callbacks=callbacks,
                   optimizer_cls_and_kwargs=optimizer)
