"""Widgets generated from the recipe schema, so every option has its help text and one mapping to config."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.config import TASK_METRICS, describe_options
from ui import state

OPTIONS = {o["name"]: o for o in describe_options()}
LABELS = {"learning_rate": "Learning rate", "epochs": "Epochs", "batch_size": "Batch size",
          "max_length": "Max length (tokens)", "strategy": "Fine-tuning strategy", "optimizer": "Optimizer",
          "lora_r": "LoRA rank", "lora_alpha": "LoRA alpha", "lora_dropout": "LoRA dropout",
          "trainable_layers": "Layers to train (top)", "momentum": "SGD momentum",
          "early_stopping_patience": "Early-stopping patience", "early_stopping_metric": "Best-model metric",
          "evaluations_per_epoch": "Validations per epoch", "lora_target_modules": "LoRA target layers",
          "export_adapter": "Also export the LoRA adapter alone"}
CHOICES = {"full": "Full fine-tuning", "frozen": "Frozen backbone, new head", "top_layers": "Top layers only",
           "lora": "LoRA adapters", "adamw": "AdamW", "adam": "Adam", "sgd": "SGD with momentum",
           "auto": "automatic (GPU if any)",
           "cpu": "CPU", "cuda": "GPU (CUDA)", "linear": "linear decay", "cosine": "cosine decay",
           "constant": "constant", "constant_with_warmup": "constant after warm-up"}
METRIC_NAMES = {"f1_macro": "macro F1", "f1_micro": "micro F1", "accuracy": "accuracy", "loss": "validation loss",
                "rmse": "RMSE (lower is better)", "mae": "MAE (lower is better)", "r2": "R²", "pearson": "Pearson r",
                "spearman": "Spearman ρ", "f1": "entity F1", "precision": "entity precision",
                "recall": "entity recall", "perplexity": "validation perplexity",
                "auto": "automatic (the task's headline metric)"}
CHOICES.update({k: v for k, v in METRIC_NAMES.items() if k != "auto"})


def metric_choices(task: str) -> list[str]:
    """The validation metrics that apply to a task, headline first."""
    return list(TASK_METRICS.get(task, TASK_METRICS["text-classification"]))


# Options that only matter for one strategy or optimizer: shown, but disabled otherwise.
APPLIES_WHEN = {"trainable_layers": ("strategy", {"top_layers"}), "lora_r": ("strategy", {"lora"}),
                "lora_alpha": ("strategy", {"lora"}), "lora_dropout": ("strategy", {"lora"}),
                "momentum": ("optimizer", {"sgd"}), "lora_target_modules": ("strategy", {"lora"}),
                "export_adapter": ("strategy", {"lora"})}
# Options that only exist for one task: the Settings step hides them for the others.
TASK_ONLY = {"lora_target_modules": "instruction-tuning", "export_adapter": "instruction-tuning",
             "instruction_columns": "instruction-tuning"}
# Strategies that apply per task (the others are refused by TrainConfig.validate).
TASK_STRATEGIES = {"instruction-tuning": ["lora", "full"]}


def options_for_task(names: list[str], task: str) -> list[str]:
    """The options of a group that apply to `task`."""
    return [name for name in names if TASK_ONLY.get(name, task) == task]


def label_of(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def option_checkbox(name: str) -> None:
    """A checkbox bound to a boolean recipe option."""
    current = bool(state.wizard()["config"][name])
    value = st.checkbox(label_of(name), value=current, help=OPTIONS[name]["help"], key=state.option_key(name))
    if value != current:
        state.update_config(**{name: value})


def option_widget(name: str, disabled: bool = False) -> None:
    """The right input for one recipe option (select, number or checkbox), saved on change."""
    option = OPTIONS[name]
    config = state.wizard()["config"]
    current = config[name]
    if name in APPLIES_WHEN:
        key, values = APPLIES_WHEN[name]
        disabled = disabled or config[key] not in values
    kind = option["type"].replace(" | None", "")
    common: dict[str, Any] = {"help": option["help"], "key": state.option_key(name), "disabled": disabled}
    if kind == "bool":
        return option_checkbox(name)
    if name == "early_stopping_metric":
        choices = ["auto", *metric_choices(config["task"])]
        value = st.selectbox(label_of(name), choices, index=choices.index(current) if current in choices else 0,
                             format_func=lambda c: METRIC_NAMES.get(c, c), **common)
    elif "choices" in option:
        choices = TASK_STRATEGIES.get(config["task"], list(option["choices"])) if name == "strategy" \
            else list(option["choices"])
        value = st.selectbox(label_of(name), choices, index=choices.index(current),
                             format_func=lambda c: CHOICES.get(c, c), **common)
    elif kind == "int":
        value = st.number_input(label_of(name), value=current, step=1, min_value=0, placeholder="auto", **common)
        value = None if value is None else int(value)
    elif kind == "float":
        # Presets and older wizard files store whole numbers (epochs: 1); Streamlit refuses int value + float step.
        current = None if current is None else float(current)
        value = st.number_input(label_of(name), value=current, format="%g", step=_step(current),
                                placeholder="auto", **common)
    elif kind.startswith("list"):
        text = st.text_input(label_of(name), value=", ".join(current), **common)
        value = [part.strip() for part in text.split(",") if part.strip()]
    else:
        value = st.text_input(label_of(name), value=current or "", **common) or None
    if value != current:
        state.update_config(**{name: value})


def _step(value: float | None) -> float:
    # A tenth of the current value: fine enough for learning rates, coarse enough for ratios.
    return float(value) / 10 if value and 0 < value < 1 else (1.0 if value else 0.01)


def models_for_new_task(task: str, config: dict[str, Any]) -> dict[str, Any]:
    """Recipe changes a task switch (or a preset) needs: a catalogue model made for the task (a classifier cannot
    chat), and LoRA for instruction tuning (the presets' full fine-tuning is meant for small encoders; Settings can
    still choose it)."""
    from core.catalogue import default_model

    changes: dict[str, Any] = {}
    if (model := default_model(task, config["model"])) != config["model"]:
        changes["model"] = model
    if task == "instruction-tuning" and config["strategy"] != "lora":
        changes["strategy"] = "lora"
    return changes
