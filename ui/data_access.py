"""Cached calls into `core` for the pages: tables, prepared splits, reports and predictors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from core.config import TrainConfig
from core.launcher import REPO_ROOT
from core.preparation import PreparedData, prepare_data
from core.tables import guess_columns, load_table

SAMPLES = {"banking77": REPO_ROOT / "samples" / "banking77_sample.csv"}


def _stamp(path: str | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).exists() else 0.0


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def _load(path: str, stamp: float) -> pd.DataFrame:
    return load_table(path)


def cached_table(path: str) -> pd.DataFrame:
    """The uploaded table (re-read only when the file changes)."""
    return _load(path, _stamp(path))


def guess(table: pd.DataFrame) -> tuple[str | None, str | None]:
    return guess_columns(table)


@st.cache_data(max_entries=8, show_spinner="Cleaning and splitting…")
def _prepare(recipe: str, stamps: tuple[float, ...]) -> PreparedData:
    return prepare_data(TrainConfig.from_dict(json.loads(recipe)))


def cached_prepare(cfg: TrainConfig) -> PreparedData:
    """Cleaned, split data for a recipe, recomputed only when the recipe or the files change."""
    stamps = tuple(_stamp(p) for p in (cfg.train, cfg.validation, cfg.test))
    return _prepare(json.dumps(cfg.to_dict(), sort_keys=True), stamps)


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def cached_predictor(model_dir: str, stamp: float):
    from core.inference import load_predictor

    return load_predictor(model_dir)


def predictor_for(model_dir: Path):
    """A loaded text classifier for a run's exported model folder."""
    return cached_predictor(str(model_dir), _stamp(str(model_dir / "config.json")))
