"""From user files to clean, validated, split (text, label) frames, with a report of every decision."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from core import cleaning, fixes, tasks
from core.config import TrainConfig
from core.errors import DataError

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

# Below this, a validation and a test split cannot both hold a row; real data sets are far larger.
MIN_TRAIN_ROWS = 8


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
        key = tasks.stratify_key(rest, cfg.task)
        counts = key.value_counts() if key is not None else None
        stratify = key if counts is not None and counts.min() >= 2 and len(rest) * fraction >= len(counts) else None
        try:
            train, held = train_test_split(rest, test_size=fraction, random_state=cfg.seed, stratify=stratify)
        except ValueError as exc:
            raise DataError(f"There are too few rows to split off a {name} set ({exc}).",
                            f"Add more rows or upload a separate {name} file.") from None
        parts["train"], parts[name] = train, held
    return {k: v.reset_index(drop=True) for k, v in parts.items()}


def apply_recorded_fixes(frames: dict[str, pd.DataFrame], cfg: TrainConfig, record: list[dict]) -> pd.DataFrame:
    """The training split after the recipe's one-click fixes and oversampling, each appended to `record`."""
    held_out = pd.concat([frames["validation"], frames["test"]])
    train, steps = fixes.apply_fixes(frames["train"], held_out, cfg.fixes, cfg.seed)
    if cfg.oversample:
        train, step = fixes.oversample_step(train, cfg.seed)
        steps.append(step)
    record += [{**s.__dict__, "removed": s.removed} for s in steps]
    if train.empty:
        raise DataError("No training rows are left after the fixes.", "Remove some fixes from the recipe.")
    return train


def prepare_data(cfg: TrainConfig) -> PreparedData:
    """Load, clean, validate and split the data a recipe names.

    Args:
        cfg: The recipe; its data and cleaning options are used.

    Returns:
        Train/validation/test frames with `text` and `label` columns, and the label list.

    Raises:
        DataError: With the problem and the fix, for any input that cannot be trained on.
    """
    if cfg.task == tasks.INSTRUCTION:  # chats, not (text, label) rows
        from core.instruct import prepare_chats

        return prepare_chats(cfg)
    files = {name: getattr(cfg, name) for name in SPLITS if getattr(cfg, name)}
    frames = {name: tasks.select_columns(tasks.load_split(path, cfg), cfg, Path(path).name)
              for name, path in files.items()}
    report: dict = {"files": files, "rows_loaded": {k: len(v) for k, v in frames.items()}, "cleaning": {}}
    if len(frames["train"]) < MIN_TRAIN_ROWS:
        raise DataError(f"{Path(files['train']).name} has only {len(frames['train'])} example row(s); fine-tuning "
                        f"needs at least {MIN_TRAIN_ROWS} to split off validation and test rows.",
                        "Add more examples (a few dozen per class learn well).")
    warnings: list[str] = []
    if cfg.task == tasks.REGRESSION:
        for name, frame in frames.items():
            missing = int(frame["label"].isna().sum())
            if missing:
                warnings.append(f"{missing} row(s) of the {name} data have no usable number in '{cfg.label_column}' "
                                "(empty, not a number, or infinite); they are dropped.")
    for name, frame in frames.items():
        single = cfg.task == tasks.CLASSIFICATION
        steps = cleaning.build_steps(drop_empty_rows=cfg.drop_empty, whitespace=cfg.normalize_whitespace,
                                     labels=cfg.normalize_labels and single, duplicates=cfg.drop_duplicates,
                                     min_examples=cfg.min_examples_per_class if name == "train" and single else 0,
                                     label_required=cfg.task != tasks.MULTI_LABEL, tags=cfg.task == tasks.NER)
        frames[name], cleaned = cleaning.clean_frame(frame, steps)
        report["cleaning"][name] = cleaned.to_dict()
        warnings += cleaned.warnings
        if frames[name].empty:
            why = f" ({cleaned.warnings[-1].rstrip('.')})" if cleaned.warnings else ""
            raise DataError(f"No usable rows are left in the {name} data after cleaning{why}.",
                            "Check that the text and label columns hold values and that each class repeats.")
    tasks.check_train_labels(frames, cfg)
    frames.update(split_frame(frames["train"], cfg, "validation" not in frames, "test" not in frames))
    if cfg.drop_duplicates:
        held_out = pd.concat([frames["validation"], frames["test"]])
        frames["train"], leak = cleaning.drop_leaked(frames["train"], held_out)
        report["cleaning"]["train"].append({**leak.__dict__, "removed": leak.removed})
    frames["train"] = apply_recorded_fixes(frames, cfg, report["cleaning"]["train"])
    if cfg.max_train_rows and len(frames["train"]) > cfg.max_train_rows:
        frames["train"] = frames["train"].sample(cfg.max_train_rows, random_state=cfg.seed).reset_index(drop=True)
    labels = tasks.label_list(frames, cfg)
    tasks.check_held_out_labels(frames, labels, cfg)
    report.update(rows={k: len(v) for k, v in frames.items()}, labels=labels, warnings=warnings, task=cfg.task,
                  class_counts={k: tasks.label_summary(v, cfg) for k, v in frames.items()})
    return PreparedData(frames=frames, labels=labels, report=report)
