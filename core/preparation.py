"""From user files to clean, validated, split (text, label) frames, with a report of every decision."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from core import cleaning
from core.config import TrainConfig
from core.errors import DataError
from core.tables import load_table

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


@dataclass
class PreparedData:
    """Clean splits plus the label set and everything that was done to get them."""

    frames: dict[str, pd.DataFrame]
    labels: list[str]
    report: dict = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return self.report.get("warnings", [])


def select_columns(frame: pd.DataFrame, cfg: TrainConfig, name: str) -> pd.DataFrame:
    """Map the user's text and label columns to `text`/`label`, checking they exist and hold data."""
    for role, column in (("text", cfg.text_column), ("label", cfg.label_column)):
        if column not in frame.columns:
            raise DataError(f"{name} has no column '{column}' for the {role}.",
                            f"Pick one of: {', '.join(map(str, frame.columns[:20]))}.")
        if frame[column].isna().all() or frame[column].astype(str).str.strip().eq("").all():
            raise DataError(f"The {role} column '{column}' in {name} is empty.", "Choose a column that holds data.")
    if cfg.text_column == cfg.label_column:
        raise DataError("The text and label columns are the same column.", "Choose two different columns.")
    out = pd.DataFrame({"text": frame[cfg.text_column], "label": frame[cfg.label_column]})
    out["label"] = out["label"].map(_label_to_str)
    return out


def _label_to_str(value: object) -> object:
    """Integers read as floats (1.0) become '1'; missing stays missing."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sort_labels(labels: set[str]) -> list[str]:
    """Numeric labels in numeric order, others alphabetically."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def split_frame(frame: pd.DataFrame, cfg: TrainConfig, need_validation: bool,
                need_test: bool) -> dict[str, pd.DataFrame]:
    """Seeded, stratified split of one frame into the missing held-out parts."""
    shares = {"validation": cfg.validation_size if need_validation else 0.0,
              "test": cfg.test_size if need_test else 0.0}
    parts = {"train": frame}
    for name in ("test", "validation"):
        share = shares[name]
        if not share:
            continue
        rest = parts["train"]
        fraction = share / (1 - (shares["test"] if name == "validation" else 0.0))
        counts = rest["label"].value_counts()
        stratify = rest["label"] if counts.min() >= 2 and len(rest) * fraction >= len(counts) else None
        try:
            train, held = train_test_split(rest, test_size=fraction, random_state=cfg.seed, stratify=stratify)
        except ValueError as exc:
            raise DataError(f"There are too few rows to split off a {name} set ({exc}).",
                            f"Add more rows or upload a separate {name} file.") from None
        parts["train"], parts[name] = train, held
    return {k: v.reset_index(drop=True) for k, v in parts.items()}


def prepare_data(cfg: TrainConfig) -> PreparedData:
    """Load, clean, validate and split the data a recipe names.

    Args:
        cfg: The recipe; its data and cleaning options are used.

    Returns:
        Train/validation/test frames with `text` and `label` columns, and the label list.

    Raises:
        DataError: With the problem and the fix, for any input that cannot be trained on.
    """
    files = {name: getattr(cfg, name) for name in SPLITS if getattr(cfg, name)}
    frames = {name: select_columns(load_table(path), cfg, Path(path).name) for name, path in files.items()}
    report: dict = {"files": files, "rows_loaded": {k: len(v) for k, v in frames.items()}, "cleaning": {}}
    warnings: list[str] = []
    for name, frame in frames.items():
        steps = cleaning.build_steps(drop_empty_rows=cfg.drop_empty, whitespace=cfg.normalize_whitespace,
                                     labels=cfg.normalize_labels, duplicates=cfg.drop_duplicates,
                                     min_examples=cfg.min_examples_per_class if name == "train" else 0)
        frames[name], cleaned = cleaning.clean_frame(frame, steps)
        report["cleaning"][name] = cleaned.to_dict()
        warnings += cleaned.warnings
        if frames[name].empty:
            raise DataError(f"No usable rows are left in the {name} data after cleaning.",
                            "Check that the text and label columns hold values.")
    _check_labels(frames)
    frames.update(split_frame(frames["train"], cfg, "validation" not in frames, "test" not in frames))
    if cfg.drop_duplicates:
        held_out = pd.concat([frames["validation"], frames["test"]])
        frames["train"], leak = cleaning.drop_leaked(frames["train"], held_out)
        report["cleaning"]["train"].append({**leak.__dict__, "removed": leak.removed})
    if cfg.max_train_rows and len(frames["train"]) > cfg.max_train_rows:
        frames["train"] = frames["train"].sample(cfg.max_train_rows, random_state=cfg.seed).reset_index(drop=True)
    labels = sort_labels(set(frames["train"]["label"]))
    _check_held_out_labels(frames, labels)
    report.update(rows={k: len(v) for k, v in frames.items()}, labels=labels, warnings=warnings,
                  class_counts={k: v["label"].value_counts().to_dict() for k, v in frames.items()})
    return PreparedData(frames=frames, labels=labels, report=report)


def _check_labels(frames: dict[str, pd.DataFrame]) -> None:
    labels = frames["train"]["label"].unique()
    if len(labels) < 2:
        only = f" ('{labels[0]}')" if len(labels) else ""
        raise DataError(f"The training data has only one class{only}; a classifier needs at least two.",
                        "Add examples of the other classes, or check the label column.")
    if len(labels) > 5000:
        raise DataError(f"The label column has {len(labels)} distinct values; it looks like free text.",
                        "Choose the column that holds the class of each row.")


def _check_held_out_labels(frames: dict[str, pd.DataFrame], labels: list[str]) -> None:
    known = set(labels)
    for name in ("validation", "test"):
        unseen = sorted(set(frames[name]["label"]) - known)
        if unseen:
            raise DataError(f"The {name} data has label(s) never seen in training: {', '.join(unseen[:5])}.",
                            f"Add training examples of them or remove them from the {name} file.")
