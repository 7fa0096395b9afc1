"""The one recipe schema: every engine option, its default, help text and validation.

The same `metadata={"help": ...}` feeds the CLI `--help`, the wizard's tooltips and the saved recipe,
as in transformers' `run_classification.py` dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError

RECIPE_VERSION = 1

TASKS = ("text-classification", "multi-label-classification", "text-regression", "token-classification",
         "image-classification", "instruction-tuning")
STRATEGIES = ("full", "frozen", "top_layers", "lora")
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
DEVICES = ("auto", "cpu", "cuda")
CLASS_WEIGHTS = ("none", "balanced")
# Validation metrics per task: the first is the task's default ("auto") for early stopping and search.
TASK_METRICS = {
    "text-classification": ("f1_macro", "accuracy", "loss"),
    "multi-label-classification": ("f1_micro", "f1_macro", "accuracy", "loss"),
    "text-regression": ("rmse", "spearman", "pearson", "mae", "r2", "loss"),
    "token-classification": ("f1", "precision", "recall", "accuracy", "loss"),
    "image-classification": ("accuracy", "f1_macro", "loss"),
    "instruction-tuning": ("loss", "perplexity"),
}
METRICS = ("auto", *dict.fromkeys(m for names in TASK_METRICS.values() for m in names))
LOWER_IS_BETTER = {"loss", "rmse", "mae", "perplexity"}

# Learning rates that work per strategy when the user leaves it on "auto": a new head alone
# needs a much larger step than the whole network (ULMFiT, Howard & Ruder 2018; peft docs for LoRA).
DEFAULT_LEARNING_RATES = {"full": 1e-4, "top_layers": 2e-4, "lora": 5e-4, "frozen": 2e-3}


def _opt(default: Any, help: str, group: str, **extra: Any) -> Any:
    """A dataclass field whose metadata drives the CLI and the UI."""
    meta = {"help": help, "group": group, **extra}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """A complete, reproducible fine-tuning recipe."""

    task: str = _opt("text-classification", "What the model learns to predict.", "task", choices=TASKS)
    train: str = _opt("", "Training data file (CSV, TSV, JSON, JSONL, Parquet or Excel).", "data")
    validation: str | None = _opt(None, "Optional validation file; otherwise split from the training file.", "data")
    test: str | None = _opt(None, "Optional test file; otherwise split from the training file.", "data")
    text_column: str = _opt("text", "Column holding the input text (for NER: the list of tokens).", "data")
    label_column: str = _opt("label", "Column holding the label, the labels, the number or the tags to predict.",
                             "data")
    text_pair_column: str | None = _opt(None, "Optional second text column: each example is a pair of texts "
                                        "(e.g. question and answer, two sentences to compare).", "data")
    label_separator: str = _opt(",", "Multi-label: the character between the labels of one row.", "data")
    scale_target: bool = _opt(True, "Regression: train on a standardised target (undone in the exported model).",
                              "data")
    validation_size: float = _opt(0.1, "Share of rows held out for validation when no file is given.", "data")
    test_size: float = _opt(0.1, "Share of rows held out for the final test when no file is given.", "data")
    max_train_rows: int | None = _opt(None, "Use at most this many training rows (a seeded sample).", "data")
    drop_empty: bool = _opt(True, "Drop rows whose text or label is empty.", "cleaning")
    normalize_whitespace: bool = _opt(True, "Trim and collapse runs of spaces, tabs and newlines.", "cleaning")
    drop_duplicates: bool = _opt(True, "Drop exact duplicate texts and texts that leak into the test data.", "cleaning")
    normalize_labels: bool = _opt(True, "Merge label spellings that differ only in case or spaces.", "cleaning")
    min_examples_per_class: int = _opt(2, "Drop labels with fewer examples than this (with a warning).", "cleaning")
    fixes: list[str] = _opt([], "One-click fixes from the quality report, applied in order to the training split "
                            "and recorded with before/after counts (see core.fixes).", "cleaning")
    class_weights: str = _opt("none", "Weight the loss by inverse class frequency ('balanced') so rare classes "
                              "count as much as common ones.", "balance", choices=CLASS_WEIGHTS)
    oversample: bool = _opt(False, "Repeat training rows of smaller classes until every class is as large as the "
                            "largest (training split only).", "balance")
    augment: list[str] = _opt([], "Text augmentations applied to training rows only.", "augmentation")
    augment_copies: int = _opt(0, "Augmented variants of every training row per epoch, drawn afresh each epoch "
                               "(0 = off).", "augmentation")
    augment_strength: float = _opt(0.1, "Share of a text's words each augmentation touches (0.05 light, 0.3 strong).",
                                   "augmentation")
    image_augment: list[str] = _opt([], "Images: random flips, rotation, crop, colour jitter or blur applied to "
                                    "training images on the fly (flip, rotate, crop, color, blur).", "augmentation")
    image_augment_strength: float = _opt(0.5, "Images: how strong the random augmentations are, 0 to 1.",
                                         "augmentation")
    model: str = _opt("all-minilm-l6-v2", "Catalogue id, local folder or Hugging Face Hub id.", "model")
    trust_remote_code: bool = _opt(False, "Hub models only: run the Python code the model's repository ships. "
                                          "That code can do anything on this machine; turn on only for authors "
                                          "you trust.", "model")
    strategy: str = _opt("full", "Which parameters train: all, only a new head, top layers, or LoRA adapters.",
                         "strategy", choices=STRATEGIES)
    trainable_layers: int = _opt(2, "With top_layers: how many of the last encoder layers train.", "strategy")
    lora_r: int = _opt(8, "With LoRA: rank of the adapter matrices.", "strategy")
    lora_alpha: int = _opt(16, "With LoRA: scaling of the adapter update.", "strategy")
    lora_dropout: float = _opt(0.1, "With LoRA: dropout on the adapter input.", "strategy")
    lora_target_modules: list[str] = _opt(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                          "Instruction tuning with LoRA: the layers that get adapters (the attention "
                                          "and MLP projections; 'all-linear' for every linear layer).", "strategy")
    instruction_columns: list[str] = _opt([], "Instruction tuning: the columns instruction, input, output (Alpaca), "
                                          "or prompt, response, or one column of chat messages; empty detects them.",
                                          "data")
    export_adapter: bool = _opt(True, "Instruction tuning with LoRA: also save the adapter alone (a few MB) next "
                                "to the merged model.", "strategy")
    optimizer: str = _opt("adamw", "Optimizer: AdamW (decoupled decay), Adam, or SGD with momentum.",
                          "optimization", choices=OPTIMIZERS)
    learning_rate: float | None = _opt(None, "Step size; empty picks a tested value for the strategy.", "optimization")
    momentum: float = _opt(0.9, "With SGD: momentum.", "optimization")
    epochs: float = _opt(3.0, "Passes over the training data.", "optimization")
    batch_size: int | None = _opt(None, "Examples per training step; empty picks 32, or less for small data.",
                                  "optimization")
    gradient_accumulation: int = _opt(1, "Steps whose gradients add up before one update.", "optimization")
    warmup_ratio: float = _opt(0.1, "Share of steps spent ramping the learning rate up from zero.", "optimization")
    scheduler: str = _opt("linear", "How the learning rate changes after warm-up.", "optimization",
                          choices=SCHEDULERS)
    weight_decay: float = _opt(0.01, "Pulls weights towards zero to reduce overfitting.", "regularization")
    dropout: float | None = _opt(None, "Dropout inside the model; empty keeps the model's own.", "regularization")
    label_smoothing: float = _opt(0.0, "Softens the targets; helps with noisy labels.", "regularization")
    early_stopping_patience: int = _opt(3, "Stop after this many evaluations without improvement (0 = off).",
                                        "regularization")
    early_stopping_metric: str = _opt("auto", "Validation metric that picks the best checkpoint (auto: the "
                                      "task's headline metric).",
                                      "regularization", choices=METRICS)
    evaluations_per_epoch: int = _opt(
        2, "Validation passes per epoch at most (more points on the charts); fewer when the validation set is large "
           "next to the training set, so that validating costs at most 15% of the training.", "training")
    max_length: int = _opt(128, "Longest input in tokens; longer texts are truncated.", "training")
    seed: int = _opt(42, "Random seed for the split, the sampling and the initialisation.", "training")
    device: str = _opt("auto", "Where to train: a GPU when present, else the CPU.", "training", choices=DEVICES)
    image_size: int | None = _opt(None, "Images: side in pixels the model sees (empty keeps the model's own, 224 "
                                  "for MobileNetV2); smaller is much faster on a CPU.", "training")
    # Experiment tracking (optional integrations; nothing is needed to train without them).
    mlflow: bool = _opt(False, "Also log the run to MLflow (needs mlflow or mlflow-skinny).", "tracking")
    mlflow_tracking_uri: str | None = _opt(None, "MLflow tracking URI (http(s)://… or sqlite:///…); empty uses "
                                                 "mlflow.db in the workspace.", "tracking")
    mlflow_experiment: str = _opt("finetune-studio", "MLflow experiment the run is logged under.", "tracking")
    tensorboard: bool = _opt(False, "Also write TensorBoard logs to the run's tensorboard/ folder.", "tracking")

    def validate(self) -> None:
        """Raise ConfigError on the first setting that cannot work."""
        _check(self.task in TASKS, f"Unknown task '{self.task}'.", f"Choose one of {', '.join(TASKS)}.")
        _check(bool(self.train), "No training file was given.", "Pass --train FILE.")
        _check(self.strategy in STRATEGIES, f"Unknown strategy '{self.strategy}'.", f"Use {'/'.join(STRATEGIES)}.")
        _check(self.optimizer in OPTIMIZERS, f"Unknown optimizer '{self.optimizer}'.", f"Use {'/'.join(OPTIMIZERS)}.")
        _check(self.scheduler in SCHEDULERS, f"Unknown scheduler '{self.scheduler}'.", f"Use {'/'.join(SCHEDULERS)}.")
        _check(self.device in DEVICES, f"Unknown device '{self.device}'.", f"Use {'/'.join(DEVICES)}.")
        allowed = ("auto", *TASK_METRICS[self.task])
        _check(self.early_stopping_metric in allowed,
               f"The metric '{self.early_stopping_metric}' does not apply to {self.task}.", f"Use {'/'.join(allowed)}.")
        _check(self.label_separator != "", "The label separator is empty.", "Use a character such as ',' or ';'.")
        _check(self.text_pair_column is None or self.task in {"text-classification", "multi-label-classification",
                                                              "text-regression"},
               "Text pairs apply to classification and regression only.", "Clear the second text column.")
        _check(self.epochs > 0, "Epochs must be positive.", "Set --epochs to 1 or more.")
        _check((self.batch_size is None or self.batch_size >= 1) and self.gradient_accumulation >= 1,
               "Batch size must be at least 1.",
               "Set --batch-size to a positive whole number.")
        _check(self.learning_rate is None or 0 < self.learning_rate < 1, "The learning rate must be between 0 and 1.",
               "Try 1e-4 for full fine-tuning or 2e-3 for a frozen backbone.")
        _check(8 <= self.max_length <= 8192, "Max length must be between 8 and 8192 tokens.", "Try 128.")
        _check(0 <= self.validation_size < 0.5 and 0 <= self.test_size < 0.5,
               "Validation and test shares must each be below 0.5.", "Try 0.1 each.")
        _check(0 <= self.warmup_ratio < 1, "Warm-up ratio must be in [0, 1).", "Try 0.1.")
        _check(self.dropout is None or 0 <= self.dropout < 1, "Dropout must be in [0, 1).", "Try 0.1.")
        _check(0 <= self.label_smoothing < 1, "Label smoothing must be in [0, 1).", "Try 0.1.")
        from core.augmentation import AUGMENTERS, check_names

        unknown = check_names(self.augment)
        _check(not unknown, f"Unknown augmentation(s): {', '.join(unknown)}.", f"Use {', '.join(AUGMENTERS)}.")
        _check(self.augment_copies >= 0, "Augmented copies cannot be negative.", "Use 0 to turn it off.")
        _check(0 < self.augment_strength <= 0.5, "Augmentation strength must be above 0 and at most 0.5.", "Try 0.1.")
        self._validate_balance()
        _check(self.task != "token-classification" or not (self.augment and self.augment_copies),
               "Word-level augmentation would break the word-to-tag alignment of NER data.",
               "Turn augmentation off (no augmentations or 0 copies) for named entities.")
        _check(self.image_size is None or 16 <= self.image_size <= 1024, "The image size must be between 16 and "
               "1024 pixels.", "Try 224, or 128 for speed.")
        from core.image_augmentation import check_image_names

        unknown = check_image_names(self.image_augment)
        _check(not unknown and 0 <= self.image_augment_strength <= 1, f"Unknown image augmentation(s) {unknown} or a "
               "strength outside [0, 1].", "Use flip, rotate, crop, color, blur and a strength between 0 and 1.")
        _check(self.task != "instruction-tuning" or self.strategy in {"lora", "full"},
               f"The {self.strategy} strategy does not apply to instruction tuning.", "Use --strategy lora or full.")
        _check(self.task != "instruction-tuning" or not (self.augment and self.augment_copies),
               "Text augmentation would change the answers the model learns to give.",
               "Turn augmentation off (no augmentations or 0 copies) for instruction tuning.")
        _check(len(self.instruction_columns) <= 3, "Give at most three instruction columns.",
               "Use instruction, input, output; or prompt, response; or one messages column.")
        _check(self.evaluations_per_epoch >= 1, "Evaluate at least once per epoch.", "Set it to 1 or more.")
        _check(self.trainable_layers >= 1 and self.lora_r >= 1, "Layer count and LoRA rank must be at least 1.",
               "Try 2 layers or rank 8.")

    def _validate_balance(self) -> None:
        from core.fixes import FIXES, LABEL_FIXES

        unknown = [f for f in self.fixes if f not in FIXES]
        _check(not unknown, f"Unknown fix(es): {', '.join(unknown)}.", f"Use {', '.join(FIXES)}.")
        _check(self.task == "text-classification" or not set(self.fixes) & LABEL_FIXES,
               "Label-error fixes apply to single-label classification only.", "Remove them from the fixes.")
        _check(self.class_weights in CLASS_WEIGHTS, f"Unknown class weights '{self.class_weights}'.",
               f"Use {'/'.join(CLASS_WEIGHTS)}.")
        _check(self.class_weights == "none" or self.task in {"text-classification", "multi-label-classification"},
               "Class weights apply to classification tasks only.", "Set class weights to none.")
        _check(not self.oversample or self.task == "text-classification",
               "Oversampling applies to single-label classification only.", "Turn oversampling off.")

    @property
    def best_metric(self) -> str:
        """The validation metric that picks the best checkpoint ('auto' resolved for the task)."""
        metric = self.early_stopping_metric
        return headline_metric(self.task) if metric == "auto" else metric

    def resolved(self) -> TrainConfig:
        """A copy with every 'auto' choice replaced by the concrete value it stands for."""
        lr = self.learning_rate or DEFAULT_LEARNING_RATES[self.strategy]
        return dataclasses.replace(self, learning_rate=lr, early_stopping_metric=self.best_metric)

    def resolved_for_data(self, train_rows: int) -> TrainConfig:
        """A copy with an 'auto' batch size chosen for the amount of training data.

        Small datasets need enough optimizer steps to learn anything: aim for at least ~30 steps per epoch,
        with batches of 8 to 32 (powers of two).
        """
        if self.batch_size is not None:
            return self
        size = 32
        while size > 8 and train_rows / size < 30:
            size //= 2
        return dataclasses.replace(self, batch_size=size)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON-ready data."""
        return {"recipe_version": RECIPE_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from recipe data, rejecting unknown keys with a clear message."""
        data = {k: v for k, v in data.items() if k != "recipe_version"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        _check(not unknown, f"The recipe has unknown settings: {', '.join(unknown)}.",
               "Remove them or check their spelling.")
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write the recipe as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a recipe file written by `save` (or by hand)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"The recipe file {path} does not exist.", "Check the path.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"The recipe file {path} is not valid JSON ({exc}).", "Fix or re-export it.") from None
        _check(isinstance(data, dict), f"The recipe file {path} must hold a JSON object.", "Re-export it.")
        return cls.from_dict(data)


def describe_options() -> list[dict[str, Any]]:
    """Every option with its name, type, default, help, group and choices, for the CLI and the UI."""
    rows = []
    for f in dataclasses.fields(TrainConfig):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        rows.append({"name": f.name, "type": f.type, "default": default, **f.metadata})
    return rows


def option_help(name: str) -> str:
    """The one-line help of option `name`."""
    return next(f.metadata["help"] for f in dataclasses.fields(TrainConfig) if f.name == name)


def headline_metric(task: str) -> str:
    """The metric a task is judged by first (what 'auto' resolves to)."""
    return TASK_METRICS.get(task, TASK_METRICS["text-classification"])[0]


def greater_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` (with or without an eval_/validation_ prefix) is better."""
    return metric.removeprefix("eval_").removeprefix("validation_") not in LOWER_IS_BETTER


def _check(ok: bool, problem: str, fix: str) -> None:
    if not ok:
        raise ConfigError(problem, fix)


def load_tasks() -> list[dict[str, Any]]:
    """Task definitions (title, explanation, example data) from tasks.json, for the wizard."""
    return json.loads(Path(__file__).with_name("tasks.json").read_text(encoding="utf-8"))


def load_presets() -> dict[str, dict[str, Any]]:
    """Beginner presets (name → about, settings) from presets.json."""
    return json.loads(Path(__file__).with_name("presets.json").read_text(encoding="utf-8"))
