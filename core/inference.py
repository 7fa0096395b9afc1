"""Predicting with an exported model folder, as any user of the download would."""

from __future__ import annotations

from pathlib import Path

from core.catalogue import check_model_folder


def load_predictor(model_dir: str | Path):
    """A `transformers.pipeline("text-classification")` over an exported model folder."""
    from transformers import pipeline

    check_model_folder(Path(model_dir))
    return pipeline("text-classification", model=str(model_dir), top_k=None, device="cpu")


def predict_texts(predictor, texts: list[str]) -> list[dict[str, float]]:
    """Class probabilities for each text, as {label: probability}, most likely first."""
    outputs = predictor([str(t) for t in texts], truncation=True)
    return [{item["label"]: float(item["score"]) for item in sorted(row, key=lambda r: -r["score"])}
            for row in outputs]
