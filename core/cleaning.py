"""Cleaning steps as pure functions over a (text, label) frame, each recorded with before/after counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd

WHITESPACE = re.compile(r"\s+")


@dataclass
class StepReport:
    """What one cleaning step did."""

    name: str
    description: str
    rows_before: int
    rows_after: int
    examples: list[str] = field(default_factory=list)
    warning: str = ""

    @property
    def removed(self) -> int:
        return self.rows_before - self.rows_after


@dataclass
class CleaningReport:
    """The ordered steps applied to one table, for the UI, the logs and the model card."""

    steps: list[StepReport] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [s.warning for s in self.steps if s.warning]

    def to_dict(self) -> list[dict]:
        return [{**asdict(s), "removed": s.removed} for s in self.steps]


Step = Callable[[pd.DataFrame], tuple[pd.DataFrame, list[str], str]]


def normalize_text(text: str) -> str:
    """Text as compared for duplicates: trimmed, whitespace collapsed, lower-cased."""
    return WHITESPACE.sub(" ", str(text)).strip().lower()


def row_key(frame: pd.DataFrame) -> pd.Series:
    """What makes two inputs the same: the normalised text, and the normalised second text of a pair."""
    key = frame["text"].map(normalize_text)
    if "text_pair" in frame.columns:
        key = key + "\x00" + frame["text_pair"].map(normalize_text)
    return key


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype(str).str.strip() == "")


def drop_empty(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """Remove rows whose text (either text of a pair) or label is missing or blank."""
    empty = _blank(frame["text"]) | _blank(frame["label"])
    if "text_pair" in frame.columns:
        empty |= _blank(frame["text_pair"])
    return frame[~empty], [str(t)[:100] for t in frame.loc[empty, "text"].head(5)], ""


def drop_empty_text(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """Remove rows with no text (multi-label rows may rightly have no label)."""
    empty = _blank(frame["text"])
    if "text_pair" in frame.columns:
        empty |= _blank(frame["text_pair"])
    return frame[~empty], [str(t)[:100] for t in frame.loc[empty, "text"].head(5)], ""


def repair_tags(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """Rewrite NER tags as valid IOB2 (an I- that starts an entity becomes B-); no row is removed."""
    from core.ner import repair_bio

    repaired = [repair_bio(tags.split()) for tags in frame["label"]]
    changed = sum(n for _, n in repaired)
    examples = [f"{' '.join(t)} → {' '.join(r)}"[:120] for t, (r, n) in
                zip(frame["label"].str.split(), repaired, strict=True) if n][:5]
    warning = (f"Repaired {changed} tag(s) that broke the BIO scheme (an I- tag starting an entity became B-)."
               if changed else "")
    return frame.assign(label=[" ".join(r) for r, _ in repaired]), examples, warning


def normalize_whitespace(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """Trim texts and collapse whitespace runs (rows are kept, only their text changes)."""
    cleaned = frame["text"].astype(str).map(lambda t: WHITESPACE.sub(" ", t).strip())
    changed = frame.loc[cleaned != frame["text"].astype(str), "text"].head(5).tolist()
    if "text_pair" in frame.columns:
        frame = frame.assign(text_pair=frame["text_pair"].astype(str).map(lambda t: WHITESPACE.sub(" ", t).strip()))
    return frame.assign(text=cleaned), [repr(t)[:100] for t in changed], ""


def normalize_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """Merge label spellings that differ only by case or surrounding spaces into the most frequent one."""
    labels = frame["label"].astype(str).str.strip()
    keys = labels.str.casefold()
    canonical = labels.groupby(keys).agg(lambda s: s.value_counts().index[0])
    merged = keys.map(canonical)
    variants = sorted({f"{a} → {b}" for a, b in zip(frame["label"].astype(str), merged, strict=True) if a != b})
    return frame.assign(label=merged), variants[:10], ""


def drop_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """Keep the first of several rows with the same normalised text and label."""
    keys = row_key(frame) + "\x00" + frame["label"].astype(str)
    duplicated = keys.duplicated()
    return frame[~duplicated], frame.loc[duplicated, "text"].head(5).astype(str).tolist(), ""


def make_rare_label_filter(min_examples: int) -> Step:
    """A step that drops labels with fewer than `min_examples` rows, with a warning naming them."""

    def drop_rare_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
        counts = frame["label"].value_counts()
        rare = counts[counts < min_examples]
        if rare.empty:
            return frame, [], ""
        names = [f"{label} ({n})" for label, n in rare.items()]
        warning = (f"Dropped {len(rare)} label(s) with fewer than {min_examples} examples: "
                   f"{', '.join(names[:10])}{' …' if len(names) > 10 else ''}. Add examples to keep them.")
        return frame[~frame["label"].isin(rare.index)], names[:10], warning

    return drop_rare_labels


def drop_leaked(frame: pd.DataFrame, held_out: pd.DataFrame) -> tuple[pd.DataFrame, StepReport]:
    """Remove training rows whose normalised text also appears in held-out data (train/test leakage)."""
    seen = set(row_key(held_out))
    leaked = row_key(frame).isin(seen)
    report = StepReport("drop_leaked", "Drop training rows that also appear in validation or test data",
                        len(frame), int((~leaked).sum()), frame.loc[leaked, "text"].head(5).astype(str).tolist())
    return frame[~leaked], report


STEP_DESCRIPTIONS = {
    "drop_empty": "Drop rows with empty text or label",
    "drop_empty_text": "Drop rows with empty text",
    "repair_tags": "Repair tags that break the BIO scheme",
    "normalize_whitespace": "Trim and collapse whitespace",
    "normalize_labels": "Merge label spellings that differ in case or spaces",
    "drop_duplicates": "Drop exact duplicate rows (same text and label)",
    "drop_rare_labels": "Drop labels with too few examples",
}


def build_steps(*, drop_empty_rows: bool = True, whitespace: bool = True, labels: bool = True,
                duplicates: bool = True, min_examples: int = 0, label_required: bool = True,
                tags: bool = False) -> list[tuple[str, Step]]:
    """The cleaning pipeline the recipe asks for, in a fixed order."""
    steps: list[tuple[str, Step]] = []
    if drop_empty_rows:
        steps.append(("drop_empty", drop_empty) if label_required else ("drop_empty_text", drop_empty_text))
    if tags:
        steps.append(("repair_tags", repair_tags))
    if whitespace:
        steps.append(("normalize_whitespace", normalize_whitespace))
    if labels:
        steps.append(("normalize_labels", normalize_labels))
    if duplicates:
        steps.append(("drop_duplicates", drop_duplicates))
    if min_examples > 1:
        steps.append(("drop_rare_labels", make_rare_label_filter(min_examples)))
    return steps


def clean_frame(frame: pd.DataFrame, steps: list[tuple[str, Step]]) -> tuple[pd.DataFrame, CleaningReport]:
    """Apply cleaning steps in order and record each one's effect.

    Args:
        frame: Rows with at least `text` and `label` columns.
        steps: (name, function) pairs from `build_steps`.

    Returns:
        The cleaned frame (index reset) and the report.
    """
    report = CleaningReport()
    for name, step in steps:
        before = len(frame)
        frame, examples, warning = step(frame)
        report.steps.append(StepReport(name, STEP_DESCRIPTIONS[name], before, len(frame), examples, warning))
    return frame.reset_index(drop=True), report
