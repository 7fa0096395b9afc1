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
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    default_data_collator,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

from core import ner, tasks
from core.callbacks import FinalEvaluationCallback, RunDirCallback
from core.config import TrainConfig, greater_is_better
from core.evaluation import metrics_function, multi_hot
from core.modeling import use_bf16
from core.rundir import RunDir


def tokenize_frame(frame: pd.DataFrame, tokenizer, labels: list[str], max_length: int,
                   task: str = tasks.CLASSIFICATION, separator: str = ",",
                   scaler: tuple[float, float] = (0.0, 1.0)) -> Dataset:
    """Tokenise rows without padding (the collator pads each batch to its own longest row), with task labels.

    Args:
        frame: Prepared rows (see core.tasks for the columns of each task).
        labels: Output names in id order.
        max_length: Truncation length in tokens (pairs are truncated longest-first).
        task: Decides the label encoding: class id, multi-hot vector, standardised number or per-token tag ids.
        separator: Between the labels of a multi-label row.
        scaler: (mean, std) that standardise a regression target.
    """
    if task == tasks.NER:
        return _tokenize_words(frame, tokenizer, labels, max_length)
    columns = {"text": frame["text"].astype(str).tolist()}
    if "text_pair" in frame.columns:
        columns["text_pair"] = frame["text_pair"].astype(str).tolist()
    index = {label: i for i, label in enumerate(labels)}
    if task == tasks.REGRESSION:
        mean, std = scaler
        columns["labels"] = ((frame["label"].astype(float) - mean) / std).tolist()
    elif task == tasks.MULTI_LABEL:
        columns["labels"] = multi_hot(frame["label"], labels, separator).astype(float).tolist()
    else:
        columns["labels"] = frame["label"].map(index).astype(int).tolist()
    dataset = Dataset.from_dict(columns)

    def encode(batch: dict) -> dict:
        encoded = tokenizer(batch["text"], batch.get("text_pair"), truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(encode, batched=True, remove_columns=[c for c in ("text", "text_pair") if c in columns],
                       desc="Tokenising")


def _tokenize_words(frame: pd.DataFrame, tokenizer, labels: list[str], max_length: int) -> Dataset:
    """Pre-split words → sub-word tokens, the first piece of each word carrying its tag id (see ner.align_labels)."""
    index = {label: i for i, label in enumerate(labels)}
    dataset = Dataset.from_dict({"tokens": [list(map(str, t)) for t in frame["tokens"]],
                                 "tags": [[index[t] for t in v.split()] for v in frame["label"]]})

    def encode(batch: dict) -> dict:
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        encoded["labels"] = [ner.align_labels(encoded.word_ids(i), tags) for i, tags in enumerate(batch["tags"])]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(encode, batched=True, remove_columns=["tokens", "tags"], desc="Tokenising")


def steps_per_epoch(rows: int, cfg: TrainConfig) -> int:
    """Optimizer updates in one pass over `rows` training examples."""
    return max(1, math.ceil(rows / (cfg.batch_size * cfg.gradient_accumulation)))


# Validation passes may cost up to this share of the training compute. A forward pass over a row costs about a
# third of a training step over it (backward is twice the forward), so one pass over V validation rows costs as
# much as training on V / 3 rows.
VALIDATION_BUDGET = 0.15


def evaluation_interval(rows: int, cfg: TrainConfig, validation_rows: int = 0) -> int:
    """Optimizer steps between validation passes.

    `cfg.evaluations_per_epoch` passes per epoch at most, fewer when the validation set is large next to the
    training set, so that validating costs at most VALIDATION_BUDGET of the training (e.g. 2,000 SST-2 rows with
    its 872 validation rows: one pass per epoch, not two, saving ~5 s or 6% of the run); always at least one
    per epoch.
    Rounded up, so that the last pass of an epoch falls on its last step instead of one step before it
    (where the forced final evaluation would repeat it at once).
    """
    passes = cfg.evaluations_per_epoch
    if validation_rows:
        passes = max(1, min(passes, math.floor(VALIDATION_BUDGET * 3 * rows / validation_rows)))
    return max(1, math.ceil(steps_per_epoch(rows, cfg) / passes))


def evaluation_count(rows: int, cfg: TrainConfig, validation_rows: int = 0) -> int:
    """Validation passes in a whole run: one per interval, plus the forced one at the last step if it is not one."""
    total = math.ceil(steps_per_epoch(rows, cfg) * cfg.epochs)
    every = evaluation_interval(rows, cfg, validation_rows)
    return total // every + (total % every != 0)


def build_training_args(cfg: TrainConfig, run: RunDir, train_rows: int, device: str,
                        cached: bool = False, validation_rows: int = 0) -> TrainingArguments:
    """TrainingArguments that evaluate and checkpoint in step, keep the best model, and log often."""
    per_epoch = steps_per_epoch(train_rows, cfg)
    eval_every = evaluation_interval(train_rows, cfg, validation_rows)
    metric = cfg.best_metric
    optim_args = {"optim": "sgd", "optim_args": f"momentum={cfg.momentum}"} if cfg.optimizer == "sgd" else {}
    if cfg.optimizer == "adamw":
        # One fused kernel over all parameters instead of a loop of small ops per tensor: ~30% of a CPU step of
        # the bundled model (bench/techniques.py), and the recommended AdamW on GPUs.
        optim_args = {"optim": "adamw_torch_fused"}
    images = cfg.task == tasks.IMAGE
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
        greater_is_better=greater_is_better(metric),
        logging_strategy="steps",
        logging_steps=max(1, min(eval_every, per_epoch // 20)),
        logging_first_step=True,  # the first loss on the charts after one step, not after several
        # Sorting into batches of similar length removes most padding: the largest CPU speed-up available.
        train_sampling_strategy="random" if cached or images else "group_by_length",
        # Image rows hold file paths that their on-the-fly transform reads; the Trainer must not drop that column.
        remove_unused_columns=not images,
        seed=cfg.seed,
        use_cpu=device == "cpu",
        bf16=use_bf16(device),
        report_to="none",
        disable_tqdm=not sys.stderr.isatty(),
        dataloader_num_workers=0,
        # Every parameter that trains is used in each forward pass (frozen ones do not require grad), so DDP can
        # skip its per-step search for unused parameters.
        ddp_find_unused_parameters=False,
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

    def _get_train_sampler(self, train_dataset=None):
        # An on-the-fly augmented set (core.augmented_data) knows its lengths; without them the sampler would
        # tokenise every variant once just to measure it.
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "lengths"):
            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                        lengths=dataset.lengths)
        return super()._get_train_sampler(train_dataset)


def sort_by_length(dataset: Dataset) -> tuple[Dataset, np.ndarray]:
    """The dataset sorted by token length (stable) and the permutation used."""
    if "length" not in dataset.column_names:
        return dataset, np.arange(len(dataset))
    order = np.argsort(np.asarray(dataset["length"]), kind="stable")
    return dataset.select(order.tolist()), order


def predict_logits(trainer: Trainer, dataset: Dataset) -> np.ndarray:
    """Model outputs for every row, in the dataset's own order, computed in length-sorted batches."""
    return predict_with_labels(trainer, dataset)[0]


def predict_with_labels(trainer: Trainer, dataset: Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """(outputs, label ids) for every row in the dataset's own order; token outputs are padded with -100."""
    ordered, order = sort_by_length(dataset)
    result = trainer.predict(ordered)
    outputs = result.predictions[0] if isinstance(result.predictions, tuple) else result.predictions

    def unsort(values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        out = np.empty_like(values)
        out[order] = values
        return out

    return unsort(outputs), unsort(result.label_ids)


def collator(task: str, tokenizer, cached: bool):
    """Dynamic padding per batch; token labels are padded with the ignore index."""
    if cached or task == tasks.IMAGE:  # features or pixels: fixed-size tensors, nothing to pad
        return default_data_collator
    if task == tasks.NER:
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=ner.IGNORE_INDEX)
    return DataCollatorWithPadding(tokenizer)


def trainer_callbacks(cfg: TrainConfig, run: RunDir) -> list:
    """The run-directory reporter, the final evaluation and (when on) early stopping, for every task's Trainer."""
    callbacks = [RunDirCallback(run, cfg.batch_size * cfg.gradient_accumulation), FinalEvaluationCallback()]
    if cfg.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    return callbacks


def build_trainer(cfg: TrainConfig, model, tokenizer, train: Dataset, validation: Dataset, run: RunDir,
                  device: str, cached: bool = False, labels: list[str] | None = None,
                  scaler: tuple[float, float] = (0.0, 1.0), compute_loss_func=None) -> Trainer:
    """A Trainer wired to the run directory, with early stopping and the recipe's optimizer.

    With `cached`, the datasets hold precomputed features (see core.feature_cache) instead of tokens;
    `compute_loss_func` replaces the model's loss (class weights, see core.imbalance).
    """
    args = build_training_args(cfg, run, len(train), device, cached, validation_rows=len(validation))
    callbacks = trainer_callbacks(cfg, run)
    optimizer = (torch.optim.Adam, {"lr": cfg.learning_rate}) if cfg.optimizer == "adam" else None
    return OrderedEvalTrainer(model=model, args=args, train_dataset=train, eval_dataset=sort_by_length(validation)[0],
                   data_collator=collator(cfg.task, tokenizer, cached), processing_class=tokenizer,
                   compute_metrics=metrics_function(cfg.task, labels or [], scaler), callbacks=callbacks,
                   optimizer_cls_and_kwargs=optimizer, compute_loss_func=compute_loss_func)
