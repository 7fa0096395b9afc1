"""Predicting with an exported model folder, as any user of the download would, for every task.

Each task loads with the `transformers.pipeline` its model card shows (see `core.packaging.usage_snippet`):
regression turns the pipeline's squashing off so the score is the number itself, multi-label keeps every
label's sigmoid score, and NER groups sub-word tags into entities with character offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import tasks
from core.catalogue import check_model_folder

PIPELINES: dict[str, tuple[str, dict[str, Any]]] = {
    tasks.CLASSIFICATION: ("text-classification", {"top_k": None}),
    tasks.MULTI_LABEL: ("text-classification", {"top_k": None}),
    tasks.REGRESSION: ("text-classification", {"function_to_apply": "none"}),
    tasks.NER: ("token-classification", {"aggregation_strategy": "simple"}),
    tasks.IMAGE: ("image-classification", {}),
}
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class LabelSet:
    """A multi-label prediction: every label's probability, most likely first, and those that apply."""

    scores: dict[str, float]
    threshold: float
    labels: list[str]


@dataclass(frozen=True)
class Entity:
    """One entity found in a text; `start`/`end` are character offsets into that text (end exclusive)."""

    word: str
    type: str
    start: int
    end: int
    score: float


def model_task(model_dir: str | Path) -> str:
    """The task an exported folder was trained for: its saved recipe, else what its config.json says.

    Folders from other tools have no recipe; their head type (`architectures`, `problem_type`) decides,
    and anything unrecognised is read as single-label classification.
    """
    folder = Path(model_dir)
    recipe = folder / "finetune_recipe.json"
    if recipe.is_file():
        task = json.loads(recipe.read_text(encoding="utf-8")).get("task")
        if task in PIPELINES:
            return task
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if any(name.endswith("ForTokenClassification") for name in config.get("architectures") or []):
        return tasks.NER
    if any(name.endswith("ForImageClassification") for name in config.get("architectures") or []):
        return tasks.IMAGE
    problem = config.get("problem_type")
    if problem == "regression":
        return tasks.REGRESSION
    if problem == "multi_label_classification":
        return tasks.MULTI_LABEL
    return tasks.CLASSIFICATION


def load_predictor(model_dir: str | Path, task: str | None = None):
    """The `transformers.pipeline` that serves an exported model folder on the CPU.

    Args:
        model_dir: A Hugging Face model folder (config.json and safetensors weights).
        task: One of the `core.tasks` ids; None reads it from the folder (see `model_task`).

    Raises:
        ModelError: The folder is missing, has no config or only pickle weights.
    """
    from transformers import pipeline

    check_model_folder(Path(model_dir))
    name, kwargs = PIPELINES[task or model_task(model_dir)]
    return pipeline(name, model=str(model_dir), device="cpu", **kwargs)


def _inputs(texts: list[str], pairs: list[str] | None) -> list:
    """Plain strings, or {text, text_pair} dicts that the tokenizer encodes as one pair."""
    if pairs is None:
        return [str(t) for t in texts]
    return [{"text": str(t), "text_pair": str(p)} for t, p in zip(texts, pairs, strict=True)]


def _ranked(row: list[dict] | dict) -> dict[str, float]:
    row = [row] if isinstance(row, dict) else row
    return {item["label"]: float(item["score"]) for item in sorted(row, key=lambda r: -r["score"])}


def predict_texts(predictor, texts: list[str], pairs: list[str] | None = None) -> list[dict[str, float]]:
    """Class probabilities for each text (or text pair), as {label: probability}, most likely first."""
    outputs = predictor(_inputs(texts, pairs), truncation=True)
    return [_ranked(row) for row in outputs]


def predict_values(predictor, texts: list[str], pairs: list[str] | None = None) -> list[float]:
    """The predicted number for each text (or text pair) of a regression model, in the target's units."""
    outputs = predictor(_inputs(texts, pairs), truncation=True)
    return [float(next(iter(_ranked(row).values()))) for row in outputs]


def label_threshold(predictor) -> float:
    """The probability a label needs to apply: tuned on validation data and saved in the model's config."""
    return float(getattr(predictor.model.config, "finetune_threshold", None) or DEFAULT_THRESHOLD)


def predict_label_sets(predictor, texts: list[str], pairs: list[str] | None = None) -> list[LabelSet]:
    """Every label's probability for each text (or pair), and the labels at or above the model's threshold."""
    threshold = label_threshold(predictor)
    sets = []
    for scores in predict_texts(predictor, texts, pairs):
        sets.append(LabelSet(scores=scores, threshold=threshold,
                             labels=[label for label, p in scores.items() if p >= threshold]))
    return sets


def find_entities(predictor, texts: list[str]) -> list[list[Entity]]:
    """The entities in each text, in reading order.

    `word` is the exact slice of the input (the pipeline's own word may be lower-cased or carry
    sub-word markers, depending on the tokenizer).
    """
    outputs = predictor([str(t) for t in texts])
    found = []
    for text, groups in zip(texts, outputs, strict=True):
        entities = []
        for group in sorted(groups, key=lambda g: g.get("start") or 0):
            start, end = group.get("start"), group.get("end")
            word = str(text)[start:end] if start is not None and end is not None else group["word"]
            entities.append(Entity(word=word, type=str(group.get("entity_group", group.get("entity"))),
                                   start=int(start or 0), end=int(end or 0), score=float(group["score"])))
        found.append(entities)
    return found


def predict_images(predictor, images: list) -> list[dict[str, float]]:
    """Every class's probability for each image (a path or a PIL image), most likely first."""
    from core.image_data import to_rgb

    images = [image if isinstance(image, str) else to_rgb(image) for image in images]
    results = predictor(images, top_k=len(predictor.model.config.id2label))
    return [_ranked(row) for row in results]
