"""What differs between tasks when reading data: columns, label types, label sets and checks.

Every task's prepared frame has a `text` column (for NER, the tokens joined by spaces, for display and
de-duplication) and a `label` column:
- text-classification: the class name (str);
- multi-label-classification: the row's labels, sorted and joined by the recipe's separator ('' = none);
- text-regression: the target (float);
- token-classification: the tags joined by spaces, with the tokens as a list in `tokens`.
Pair tasks add `text_pair`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from core import ner
from core.config import TrainConfig
from core.errors import DataError
from core.tables import load_table

CLASSIFICATION = "text-classification"
MULTI_LABEL = "multi-label-classification"
REGRESSION = "text-regression"
NER = "token-classification"
IMAGE = "image-classification"
INSTRUCTION = "instruction-tuning"
JSON_LIKE = {".json", ".jsonl", ".ndjson", ".parquet", ".pq"}
TOKEN_COLUMNS = ("tokens", "words", "token")
TAG_COLUMNS = ("ner_tags", "tags", "labels", "label", "ner")


def load_split(path: str, cfg: TrainConfig) -> pd.DataFrame:
    """Read one data file the way the task needs it (CoNLL text for NER, tables otherwise)."""
    if cfg.task == NER and Path(path).suffix.lower() not in JSON_LIKE:
        if Path(path).suffix.lower() not in ner.CONLL_SUFFIXES:
            raise DataError(f"{Path(path).name} is not a CoNLL or JSON file.",
                            "For NER, upload CoNLL text (token ... tag per line) or JSON/JSONL with token and tag "
                            "lists.")
        if not Path(path).is_file():
            raise DataError(f"The file {path} does not exist.", "Check the path or upload the file again.")
        return ner.read_conll(path)
    return load_table(path)


def _require(frame: pd.DataFrame, column: str, role: str, name: str) -> None:
    if column not in frame.columns:
        raise DataError(f"{name} has no column '{column}' for the {role}.",
                        f"Pick one of: {', '.join(map(str, frame.columns[:20]))}.")
    values = frame[column]
    if values.isna().all() or values.astype(str).str.strip().eq("").all():
        raise DataError(f"The {role} column '{column}' in {name} is empty.", "Choose a column that holds data.")
    if role in {"text", "second text"} and values.map(lambda v: isinstance(v, dict | list | tuple | np.ndarray)).any():
        raise DataError(f"The {role} column '{column}' in {name} holds nested records or lists, not text.",
                        "Choose a column of plain text, or flatten the data (one text per cell) before uploading.")


def select_columns(frame: pd.DataFrame, cfg: TrainConfig, name: str) -> pd.DataFrame:
    """Map the user's columns to the task's standard columns, converting labels to the task's type."""
    if cfg.task == NER:
        return _select_ner(frame, cfg, name)
    _require(frame, cfg.text_column, "text", name)
    _require(frame, cfg.label_column, "label", name)
    if cfg.text_column == cfg.label_column:
        raise DataError("The text and label columns are the same column.", "Choose two different columns.")
    out = pd.DataFrame({"text": frame[cfg.text_column]})
    if cfg.text_pair_column:
        _require(frame, cfg.text_pair_column, "second text", name)
        if cfg.text_pair_column in {cfg.text_column, cfg.label_column}:
            raise DataError("The second text column must differ from the text and label columns.",
                            "Choose another column, or none.")
        out["text_pair"] = frame[cfg.text_pair_column]
    labels = frame[cfg.label_column]
    if cfg.task == REGRESSION:
        out["label"] = to_numbers(labels, cfg.label_column, name)
    elif cfg.task == MULTI_LABEL:
        out["label"] = labels.map(lambda v: join_labels(split_labels(v, cfg.label_separator), cfg.label_separator))
    else:
        out["label"] = labels.map(label_to_str)
    return out


def _pick(frame: pd.DataFrame, wanted: str, fallbacks: tuple[str, ...]) -> str | None:
    if wanted in frame.columns:
        return wanted
    return next((c for c in fallbacks if c in frame.columns), None)


def _select_ner(frame: pd.DataFrame, cfg: TrainConfig, name: str) -> pd.DataFrame:
    tokens_col = _pick(frame, cfg.text_column, TOKEN_COLUMNS)
    tags_col = _pick(frame, cfg.label_column, TAG_COLUMNS)
    if tokens_col is None or tags_col is None or tokens_col == tags_col:
        raise DataError(f"{name} has no token and tag columns (found: {', '.join(map(str, frame.columns[:10]))}).",
                        "Use JSON/JSONL rows like {\"tokens\": [...], \"ner_tags\": [...]}, or CoNLL text.")
    tokens = frame[tokens_col].map(ner.as_list)
    tags = frame[tags_col].map(ner.as_list)
    rows = []
    for i, (words, labels) in enumerate(zip(tokens, tags, strict=True)):
        if words is None or labels is None:
            words, labels = [], []
        if len(words) != len(labels):
            raise DataError(f"Sentence {i + 1} of {name} has {len(words)} tokens but {len(labels)} tags.",
                            "Give exactly one tag per token.")
        if labels and all(label.lstrip("-").isdigit() for label in labels):
            raise DataError(f"The tags in {name} are numbers, not tag names.",
                            "Write tags as text (B-PER, I-PER, O), or convert ids with your label list first.")
        rows.append({"text": " ".join(words), "tokens": words, "label": " ".join(labels)})
    return pd.DataFrame(rows, columns=["text", "tokens", "label"])


def label_to_str(value: object) -> object:
    """Integers read as floats (1.0) become '1'; missing stays missing."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def split_labels(value: object, separator: str) -> list[str]:
    """The labels of one multi-label cell: split, trimmed, de-duplicated, sorted. JSON lists work too."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    items = value if isinstance(value, list | tuple | np.ndarray) else str(value).split(separator)
    return sorted({label_to_str(v).strip() for v in items if label_to_str(v) and str(label_to_str(v)).strip()})


def join_labels(labels: list[str], separator: str) -> str:
    return separator.join(labels)


def to_numbers(values: pd.Series, column: str, name: str) -> pd.Series:
    """A numeric target; missing, infinite or non-numeric cells become NaN (dropped by cleaning, reported)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    bad = values[numbers.isna() & values.notna() & values.astype(str).str.strip().ne("")]
    if len(bad) > 0.5 * len(values):
        raise DataError(f"The target column '{column}' in {name} mostly holds non-numbers (e.g. "
                        f"'{str(bad.iloc[0])[:40]}').",
                        "For text regression, choose a column of numbers; for categories use classification.")
    return numbers.where(np.isfinite(numbers))


def stratify_key(frame: pd.DataFrame, task: str) -> pd.Series | None:
    """What a split keeps in proportion: the class, the label set, or the target's quintile."""
    if task in {NER, INSTRUCTION}:
        return None
    if task == REGRESSION:
        if frame["label"].nunique() < 5:
            return frame["label"].astype(str)
        return pd.qcut(frame["label"].rank(method="first"), 5, labels=False).astype(str)
    return frame["label"]


def label_list(frames: dict[str, pd.DataFrame], cfg: TrainConfig) -> list[str]:
    """The model's output names in id order."""
    train = frames["train"]["label"]
    if cfg.task == REGRESSION:
        return [cfg.label_column]
    if cfg.task == MULTI_LABEL:
        return sort_labels({x for v in train for x in split_labels(v, cfg.label_separator)})
    if cfg.task == NER:
        return ner.tag_set([v.split() for v in train])
    return sort_labels(set(train))


def sort_labels(labels: set[str]) -> list[str]:
    """Numeric labels in numeric order, others alphabetically."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def check_train_labels(frames: dict[str, pd.DataFrame], cfg: TrainConfig) -> None:
    """Refuse training data the task cannot learn from, saying why."""
    train = frames["train"]["label"]
    if cfg.task == REGRESSION:
        if train.nunique() < 2:
            raise DataError(f"Every training target is the same ({train.iloc[0]}); there is nothing to learn.",
                            "Check the target column.")
        return
    if cfg.task == MULTI_LABEL:
        names = {x for v in train for x in split_labels(v, cfg.label_separator)}
        if not names:
            raise DataError("No row has any label.", f"Check the label column and the separator "
                                                     f"('{cfg.label_separator}').")
        if len(names) > 5000:
            raise DataError(f"The label column has {len(names)} distinct labels; check the separator.",
                            "Choose the character that separates labels within a cell.")
        return
    if cfg.task == NER:
        if not ner.entity_types([t for v in train for t in v.split()]):
            raise DataError("The training data has no entities: every tag is 'O'.",
                            "Tag the entities (B-TYPE for the first token, I-TYPE for the rest).")
        return
    labels = train.unique()
    if len(labels) < 2:
        only = f" ('{labels[0]}')" if len(labels) else ""
        raise DataError(f"The training data has only one class{only}; a classifier needs at least two.",
                        "Add examples of the other classes, or check the label column.")
    if len(labels) > 5000:
        raise DataError(f"The label column has {len(labels)} distinct values; it looks like free text.",
                        "Choose the column that holds the class of each row.")


def check_held_out_labels(frames: dict[str, pd.DataFrame], labels: list[str], cfg: TrainConfig) -> None:
    """Held-out data may not use labels the model never saw in training."""
    if cfg.task == REGRESSION:
        return
    known = set(labels)
    for name in ("validation", "test"):
        values = frames[name]["label"]
        if cfg.task == MULTI_LABEL:
            seen = {x for v in values for x in split_labels(v, cfg.label_separator)}
        elif cfg.task == NER:
            seen = {t for v in values for t in v.split()}
        else:
            seen = set(values)
        unseen = sorted(seen - known)
        if unseen:
            raise DataError(f"The {name} data has label(s) never seen in training: {', '.join(unseen[:5])}.",
                            f"Add training examples of them or remove them from the {name} file.")


def label_summary(frame: pd.DataFrame, cfg: TrainConfig) -> dict:
    """Counts per class, per label, per entity type, or the target's distribution, for charts and reports."""
    if cfg.task == REGRESSION:
        values = frame["label"].astype(float)
        return {"mean": float(values.mean()), "std": float(values.std(ddof=0)), "min": float(values.min()),
                "max": float(values.max()), "median": float(values.median())}
    if cfg.task == MULTI_LABEL:
        counts = pd.Series([x for v in frame["label"] for x in split_labels(v, cfg.label_separator)]).value_counts()
        return {**{str(k): int(v) for k, v in counts.items()},
                "(no label)": int((frame["label"] == "").sum())} if len(frame) else {}
    if cfg.task == NER:
        spans = [s["type"] for tokens, tags in zip(frame["tokens"], frame["label"], strict=True)
                 for s in ner.entities(tokens, tags.split())]
        return {str(k): int(v) for k, v in pd.Series(spans, dtype=object).value_counts().items()}
    return {str(k): int(v) for k, v in frame["label"].value_counts().items()}


def target_scaler(train: pd.DataFrame, cfg: TrainConfig) -> tuple[float, float]:
    """(mean, std) that standardise the regression target, or (0, 1) when scaling is off."""
    if cfg.task != REGRESSION or not cfg.scale_target:
        return 0.0, 1.0
    values = train["label"].astype(float)
    std = float(values.std(ddof=0))
    return float(values.mean()), std if std > 0 and math.isfinite(std) else 1.0


PAIR_NAMES = (("sentence1", "sentence2"), ("question", "answer"), ("premise", "hypothesis"), ("text_a", "text_b"),
              ("query", "passage"), ("question1", "question2"), ("text", "text_pair"))


def guess_roles(frame: pd.DataFrame, task: str) -> dict[str, str | None]:
    """Best guesses for the task's columns: {'text', 'text_pair', 'label'} (None where nothing fits)."""
    from core.tables import describe_columns, guess_columns

    if task == NER:
        return {"text": _pick(frame, "", TOKEN_COLUMNS), "text_pair": None, "label": _pick(frame, "", TAG_COLUMNS)}
    described = describe_columns(frame)
    text, label = guess_columns(frame, described)
    lower = {str(c).lower(): c for c in frame.columns}
    pair = next(((lower[a], lower[b]) for a, b in PAIR_NAMES if a in lower and b in lower), None)
    if pair:
        text = pair[0]
    if task == REGRESSION:
        numeric = [c["column"] for c in described if c["kind"] == "number" and c["distinct"] > 2]
        named = [c for c in numeric if str(c).lower() in {"score", "target", "rating", "value", "label", "y"}]
        label = (named or numeric or [label])[0]
    return {"text": text, "text_pair": pair[1] if pair else None, "label": label}
