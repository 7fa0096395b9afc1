"""One-click fixes from the quality report, replayed as recorded steps of the recipe (`fixes`).

Each fix runs on the training split after cleaning and splitting, so the headless run, the wizard and the
model card see the same before/after counts. Exact duplicates, leaking rows and label spellings are fixed
by the cleaning options (`drop_duplicates`, `normalize_labels`); the fixes here cover the rest.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from core.cleaning import StepReport, row_key
from core.label_errors import find_label_errors
from core.near_duplicates import near_duplicate_groups

SHORT_WORDS = 2  # texts of at most this many words are "very short"

Fix = Callable[[pd.DataFrame, pd.DataFrame, int], pd.DataFrame]


def short_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows whose text has at most SHORT_WORDS words."""
    return frame["text"].astype(str).str.split().str.len() <= SHORT_WORDS


def conflicting_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows whose normalised input also appears in the split with another label."""
    keys = row_key(frame)
    return keys.map(frame.groupby(keys)["label"].nunique()) > 1


def near_duplicate_rows(frame: pd.DataFrame, held_out: pd.DataFrame) -> pd.Series:
    """Training rows (near or exact) duplicating an earlier training row or any held-out row."""
    keys = pd.concat([row_key(held_out), row_key(frame)], ignore_index=True)
    groups = near_duplicate_groups(keys)
    seen = pd.Series(groups).duplicated().to_numpy()
    return pd.Series(seen[len(held_out):], index=frame.index)


def drop_near_duplicates(frame: pd.DataFrame, held_out: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame[~near_duplicate_rows(frame, held_out)]


def drop_conflicting_labels(frame: pd.DataFrame, held_out: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame[~conflicting_rows(frame)]


def drop_short_texts(frame: pd.DataFrame, held_out: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame[~short_rows(frame)]


def drop_label_errors(frame: pd.DataFrame, held_out: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.drop(index=find_label_errors(frame, seed).index)


def relabel_label_errors(frame: pd.DataFrame, held_out: pd.DataFrame, seed: int) -> pd.DataFrame:
    errors = find_label_errors(frame, seed)
    frame = frame.copy()
    frame.loc[errors.index, "label"] = errors["suggested"]
    return frame


FIXES: dict[str, tuple[Fix, str]] = {
    "drop_near_duplicates": (drop_near_duplicates, "Drop near-duplicate training rows (also of held-out rows)"),
    "drop_conflicting_labels": (drop_conflicting_labels, "Drop rows whose identical text has another label"),
    "drop_short_texts": (drop_short_texts, f"Drop texts of {SHORT_WORDS} words or fewer"),
    "drop_label_errors": (drop_label_errors, "Drop likely label errors"),
    "relabel_label_errors": (relabel_label_errors, "Relabel likely label errors with the predicted label"),
}
LABEL_FIXES = {"drop_label_errors", "relabel_label_errors"}


def apply_fixes(train: pd.DataFrame, held_out: pd.DataFrame, names: list[str],
                seed: int) -> tuple[pd.DataFrame, list[StepReport]]:
    """Apply the recipe's fixes in order; each is reported with rows before/after (and rows changed).

    Args:
        train: The cleaned training split.
        held_out: Validation and test rows (read only, for near-duplicate leakage).
        names: Fix ids from FIXES, in the order the user chose them.
        seed: Fixes the label-error model's folds, so a replay finds the same rows.
    """
    reports = []
    for name in names:
        function, description = FIXES[name]
        before = train
        train = function(train, held_out, seed)
        changed = before.index[~before.index.isin(train.index)] if len(train) < len(before) else \
            before.index[(before["label"] != train["label"].reindex(before.index)).to_numpy()]
        examples = before.loc[changed, "text"].astype(str).str[:100].head(5).tolist()
        warning = f"Relabelled {len(changed)} row(s)." if name == "relabel_label_errors" and len(changed) else ""
        reports.append(StepReport(name, description, len(before), len(train), examples, warning))
    return train.reset_index(drop=True), reports


def oversample_step(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, StepReport]:
    """Oversample smaller classes (see core.imbalance), recorded like a fix."""
    from core.imbalance import oversample

    out = oversample(train, seed)
    return out, StepReport("oversample", "Repeat rows of smaller classes up to the largest class",
                           len(train), len(out), [], "")

