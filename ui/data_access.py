"""Cached calls into `core` for the pages: tables, prepared splits, reports and predictors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from core.config import TrainConfig
from core.launcher import REPO_ROOT
from core.preparation import PreparedData, prepare_data
from core.tasks import guess_roles, load_split

SAMPLES = {"banking77": REPO_ROOT / "samples" / "banking77_sample.csv",
           "wnut17": REPO_ROOT / "samples" / "wnut17_sample.jsonl",
           "wnut17_types": REPO_ROOT / "samples" / "wnut17_types_sample.csv"}
# The sample offered on the Data step of each task (none for regression: see samples/README.md).
SAMPLE_FOR_TASK = {
    "text-classification": {"name": "banking77", "about": "360 banking questions in 6 intents (BANKING77, CC BY 4.0).",
                            "columns": {"text_column": "text", "label_column": "label", "text_pair_column": None}},
    "token-classification": {"name": "wnut17", "about": "400 tweets tagged with 6 entity types (WNUT-17, CC BY 4.0).",
                             "columns": {"text_column": "tokens", "label_column": "ner_tags"}},
    "multi-label-classification": {"name": "wnut17_types",
                                   "about": "400 tweets labelled with the entity types they mention (WNUT-17, "
                                            "CC BY 4.0).",
                                   "columns": {"text_column": "text", "label_column": "entity_types",
                                               "label_separator": ";", "text_pair_column": None}},
}


def _stamp(path: str | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).exists() else 0.0


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def _load(path: str, stamp: float, task: str) -> pd.DataFrame:
    return load_split(path, TrainConfig(task=task, train=path))


def cached_table(path: str, task: str = "text-classification") -> pd.DataFrame:
    """The uploaded table as the task reads it (CoNLL for NER), re-read only when the file changes."""
    return _load(path, _stamp(path), task)


def guess(table: pd.DataFrame, task: str = "text-classification") -> dict[str, str | None]:
    """Likely columns for the task's roles: text, text_pair, label."""
    return guess_roles(table, task)


@st.cache_data(max_entries=8, show_spinner="Cleaning and splitting…")
def _prepare(recipe: str, stamps: tuple[float, ...]) -> PreparedData:
    cfg = TrainConfig.from_dict(json.loads(recipe))
    if cfg.task == "image-classification":
        from core.image_data import prepare_image_data

        return prepare_image_data(cfg)
    return prepare_data(cfg)


def cached_prepare(cfg: TrainConfig) -> PreparedData:
    """Cleaned, split data for a recipe, recomputed only when the recipe or the files change."""
    stamps = tuple(_stamp(p) for p in (cfg.train, cfg.validation, cfg.test))
    return _prepare(json.dumps(cfg.to_dict(), sort_keys=True), stamps)


def prepared_or_stop(wiz: dict) -> PreparedData:
    """The wizard's prepared data; on a data error, shows it, marks the columns unconfirmed and stops the page.
    The first successful preparation marks them confirmed (and reruns, so the step list shows it)."""
    from core.errors import FineTuneError
    from ui import state

    try:
        prepared = cached_prepare(state.config())
    except FineTuneError as exc:
        state.update(data={**wiz["data"], "columns_ok": False})
        st.error(f"**{exc.kind}:** {exc}")
        st.stop()
    if not wiz["data"].get("columns_ok"):
        state.update(data={**wiz["data"], "columns_ok": True})
        st.rerun()
    return prepared


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def cached_predictor(model_dir: str, stamp: float):
    from core.inference import load_predictor

    return load_predictor(model_dir)


def predictor_for(model_dir: Path):
    """The pipeline for a run's exported model folder (chosen by the task it was trained for)."""
    return cached_predictor(str(model_dir), _stamp(str(model_dir / "config.json")))


QUALITY_FIELDS = ("task", "train", "validation", "test", "text_column", "label_column", "text_pair_column",
                  "label_separator", "model", "max_length", "seed")


@st.cache_data(max_entries=8, show_spinner="Checking data quality…")
def _quality(recipe: str, stamps: tuple[float, ...]) -> dict:
    from core.quality import build_report

    return build_report(TrainConfig(**json.loads(recipe))).to_dict()


def cached_quality(cfg: TrainConfig) -> dict:
    """The quality report (as plain data) for a recipe's data, recomputed only when the data settings change."""
    stamps = tuple(_stamp(p) for p in (cfg.train, cfg.validation, cfg.test))
    return _quality(json.dumps({k: getattr(cfg, k) for k in QUALITY_FIELDS}, sort_keys=True), stamps)


@st.cache_resource(max_entries=2, show_spinner="Reading the model's vocabulary…")
def cached_synonyms(model: str):
    """The synonym source of a model (see core.synonyms), shared by every session."""
    from core.synonyms import load_synonyms

    return load_synonyms(model)


@st.cache_resource(max_entries=1, show_spinner="Loading the chat model…")
def _chat_model(model_dir: str, stamp: float):
    from core.chat import load_chat_model

    return load_chat_model(model_dir)


def cached_chat_model(model_dir: Path):
    """(model, tokenizer) of a run's exported chat model, loaded once per export."""
    return _chat_model(str(model_dir), _stamp(str(model_dir / "config.json")))
