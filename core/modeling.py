"""Loading a pretrained model for a task and deciding which of its parameters train."""

from __future__ import annotations

import logging
import os

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from core import tasks
from core.catalogue import resolve_model
from core.config import TrainConfig
from core.errors import ConfigError, ModelError

logger = logging.getLogger(__name__)

DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout",
                "classifier_dropout", "seq_classif_dropout")


def pick_device(choice: str) -> str:
    """'cuda' when asked for or available under 'auto', else 'cpu'."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("A GPU was requested but none is available.", "Use --device auto or cpu.")
    return "cuda" if choice in {"auto", "cuda"} and torch.cuda.is_available() else "cpu"


def use_bf16(device: str) -> bool:
    """bf16 mixed precision on GPUs that support it (Ampere and newer)."""
    return device == "cuda" and torch.cuda.is_bf16_supported()


def remote_code_allowed(source: str, requested: bool) -> bool:
    """Whether to run a model repository's own code: only when asked, and only for a Hub id (with a warning).

    Local folders and uploads never run code: they load as safetensors into transformers' own classes.
    """
    if not requested:
        return False
    if source != "hub":
        logger.warning("trust_remote_code applies to Hugging Face Hub models only; it is ignored for this %s model.",
                       source)
        return False
    logger.warning("trust_remote_code is on: the Python code in the model's Hub repository will run on this "
                   "machine. Use it only for repositories you trust.")
    return True


def _from_pretrained(loader, location: str, source: str, trust_remote_code: bool = False, **kwargs):
    try:
        return loader.from_pretrained(location, trust_remote_code=remote_code_allowed(source, trust_remote_code),
                                      **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        if source == "hub":
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            raise ModelError(f"The model '{location}' could not be loaded from the Hugging Face Hub"
                             f"{' (offline mode is on)' if offline else ''}: {str(exc).splitlines()[0][:160]}",
                             "Check the id and your internet connection, or pick a bundled model.") from None
        raise ModelError(f"The model at {location} could not be loaded: {str(exc).splitlines()[0][:200]}",
                         "Check that the folder holds a complete Hugging Face model.") from None


def check_model(choice: str) -> str:
    """Load the model's config and tokenizer (downloading them for a Hub id) and describe it in one line.

    Raises:
        ModelError: It cannot be found, downloaded or loaded.
    """
    location, source = resolve_model(choice)
    config = _from_pretrained(AutoConfig, location, source)
    load_tokenizer(choice)
    layers = getattr(config, "num_hidden_layers", "?")
    return f"{config.model_type} model, {layers} layers, hidden size {getattr(config, 'hidden_size', '?')}"


def load_tokenizer(choice: str, trust_remote_code: bool = False):
    """The tokenizer of a catalogue id, folder or Hub id."""
    location, source = resolve_model(choice)
    return _from_pretrained(AutoTokenizer, location, source, trust_remote_code)


PROBLEM_TYPES = {tasks.CLASSIFICATION: "single_label_classification", tasks.REGRESSION: "regression",
                 tasks.MULTI_LABEL: "multi_label_classification"}


def load_classifier(cfg: TrainConfig, labels: list[str]) -> PreTrainedModel:
    """The pretrained model with a new head for the task and `labels`, dropout set as the recipe asks.

    Regression has one output named after the target; NER gets a token-classification head.
    """
    location, source = resolve_model(cfg.model)
    extra = {"problem_type": PROBLEM_TYPES[cfg.task]} if cfg.task in PROBLEM_TYPES else {}
    config = _from_pretrained(AutoConfig, location, source, cfg.trust_remote_code, num_labels=len(labels),
                              id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
                              **extra)
    if cfg.dropout is not None:
        for key in DROPOUT_KEYS:
            if getattr(config, key, None) is not None:
                setattr(config, key, cfg.dropout)
    loader = AutoModelForTokenClassification if cfg.task == tasks.NER else AutoModelForSequenceClassification
    # Weights from a folder load from safetensors only (never pickle); Hub weights prefer it too.
    weights = {"use_safetensors": True} if source != "hub" else {}
    model = _from_pretrained(loader, location, source, cfg.trust_remote_code, config=config, **weights)
    return apply_strategy(model, cfg)


def output_layer(model: nn.Module) -> nn.Linear:
    """The head's final linear layer: the last Linear outside the backbone producing `num_labels` outputs."""
    prefix = getattr(model, "base_model_prefix", "")
    found = [m for name, m in model.named_modules() if isinstance(m, nn.Linear) and not name.startswith(prefix + ".")
             and m.out_features == model.config.num_labels]
    if not found:
        raise ConfigError("This model's head has no final linear layer to rescale.", "Turn off target scaling.")
    return found[-1]


@torch.no_grad()
def bake_target_scale(model: PreTrainedModel, mean: float, std: float) -> None:
    """Fold a standardised target back into the head (y = std·out + mean), so the saved model predicts in the
    target's own units with any plain `transformers` pipeline."""
    if (mean, std) == (0.0, 1.0):
        return
    layer = output_layer(model)
    layer.weight.mul_(std)
    if layer.bias is not None:
        layer.bias.mul_(std).add_(mean)


def _layer_stack(backbone: nn.Module) -> nn.ModuleList:
    """The longest ModuleList in the backbone: its stack of transformer layers."""
    lists = [m for m in backbone.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ConfigError("This model has no layer stack to unfreeze.", "Use the full or frozen strategy.")
    return max(lists, key=len)


def apply_strategy(model: PreTrainedModel, cfg: TrainConfig) -> nn.Module:
    """Freeze or wrap the model so that only the parameters of the chosen strategy train."""
    if cfg.strategy == "full":
        return model
    if cfg.strategy == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        if cfg.task == tasks.IMAGE:  # peft knows no default targets for vision models, and its SEQ_CLS wants text
            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              **image_lora_targets(model))
        else:
            kind = TaskType.TOKEN_CLS if cfg.task == tasks.NER else TaskType.SEQ_CLS
            lora = LoraConfig(task_type=kind, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                              lora_dropout=cfg.lora_dropout)
        try:
            return get_peft_model(model, lora)
        except ValueError as exc:
            raise ConfigError(f"LoRA cannot wrap this model: {exc}", "Use the full or top_layers strategy.") from None
    backbone = model.base_model
    for param in backbone.parameters():
        param.requires_grad = False
    # The pooler feeds the new head directly; it was trained for a different objective, so it adapts too.
    for name, param in backbone.named_parameters():
        if "pooler" in name:
            param.requires_grad = True
    if cfg.strategy == "top_layers":
        layers = _layer_stack(backbone)
        for layer in layers[-cfg.trainable_layers:]:
            for param in layer.parameters():
                param.requires_grad = True
    return model


def image_lora_targets(model: PreTrainedModel) -> dict[str, list[str]]:
    """LoRA targets of an image classifier: its backbone's linear layers and dense (ungrouped) convolutions.

    That covers ViT-style attention and MLP projections and the 1x1 and full convolutions of CNNs (MobileNet,
    ResNet, ConvNeXt); depthwise convolutions are left frozen (a rank-r update of a per-channel filter saves
    nothing). The new head trains in full (`modules_to_save`): it is every top-level module beside the backbone.
    """
    backbone = model.base_model
    targets = [f"{model.base_model_prefix}.{name}" for name, module in backbone.named_modules()
               if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1)]
    head = [name for name, module in model.named_children()
            if module is not backbone and any(True for _ in module.parameters())]
    if not targets:
        raise ConfigError("LoRA found no linear or convolution layer to adapt in this model.",
                          "Use the full or frozen strategy.")
    return {"target_modules": targets, "modules_to_save": head}


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def merge_for_export(model: nn.Module) -> PreTrainedModel:
    """A plain transformers model: LoRA adapters merged into the weights, other models unchanged."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model
