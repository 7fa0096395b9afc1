"""Named-entity recognition: CoNLL reading, BIO repair, sub-word label alignment and entity-level scores.

Entity-level precision/recall/F1 come from `seqeval` (the conlleval reimplementation the field reports),
in its strict IOB2 mode, so a predicted entity counts only when its type and both boundaries are right.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataError
from core.tables import decode_bytes

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips: continuation sub-tokens and special tokens
OUTSIDE = "O"
CONLL_SUFFIXES = {".conll", ".conllu", ".iob", ".iob2", ".bio", ".txt", ".tsv"}


def read_conll(path: str | Path) -> pd.DataFrame:
    """Sentences from a CoNLL-style file: token first and tag last on each line, blank lines between sentences.

    `-DOCSTART-` lines are skipped; columns in between (POS, chunk) are ignored; tabs or spaces separate.

    Returns:
        A frame with `tokens` and `tags` (lists of str), one row per sentence.

    Raises:
        DataError: A line has a single column, or the file holds no sentence.
    """
    path = Path(path)
    text = decode_bytes(path.read_bytes(), path.name)
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("-DOCSTART-"):
            continue
        if not stripped:
            if tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
            continue
        parts = stripped.split("\t") if "\t" in stripped else stripped.split()
        if len(parts) < 2:
            raise DataError(f"{path.name} line {number} has no tag: '{stripped[:60]}'.",
                            "Each line needs a token first and its tag last (e.g. 'London B-LOC'), "
                            "with a blank line between sentences.")
        tokens.append(parts[0].strip())
        tags.append(parts[-1].strip())
    if tokens:
        sentences.append((tokens, tags))
    if not sentences:
        raise DataError(f"{path.name} holds no sentences.", "Use one 'token tag' pair per line, blank line between "
                                                            "sentences.")
    return pd.DataFrame({"tokens": [s[0] for s in sentences], "tags": [s[1] for s in sentences]})


def as_list(value: object) -> list[str] | None:
    """A token or tag sequence from JSON lists, Parquet arrays or a space-separated string."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value.split()
    try:
        return [str(v) for v in value]
    except TypeError:
        return None


def split_tag(tag: str) -> tuple[str, str]:
    """('B', 'PER') from 'B-PER'; ('O', '') for outside; IOB1/IOE prefixes are read as B/I."""
    if tag == OUTSIDE or not tag:
        return OUTSIDE, ""
    prefix, _, kind = tag.partition("-")
    if not kind:  # a bare type such as 'PER' (IO scheme)
        return "I", prefix
    prefix = prefix.upper()
    return ("B" if prefix in {"B", "S", "U"} else "I"), kind


def repair_bio(tags: list[str]) -> tuple[list[str], int]:
    """IOB2 tags from any BIO-like sequence: an I- that does not continue an entity of its type becomes B-.

    Returns:
        The repaired tags and how many were changed.
    """
    repaired, changed, previous = [], 0, ""
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix == OUTSIDE:
            new = OUTSIDE
            previous = ""
        else:
            new = f"I-{kind}" if prefix == "I" and previous == kind else f"B-{kind}"
            previous = kind
        changed += new != tag
        repaired.append(new)
    return repaired, changed


def invalid_bio_count(tags: list[str]) -> int:
    """How many tags a strict IOB2 reader would reject (what `repair_bio` fixes)."""
    return repair_bio(tags)[1]


def tag_set(tag_lists: list[list[str]]) -> list[str]:
    """All tags in id order: 'O' first, then B-/I- of each entity type alphabetically (both always present)."""
    kinds = sorted({split_tag(tag)[1] for tags in tag_lists for tag in tags} - {""})
    return [OUTSIDE] + [f"{prefix}-{kind}" for kind in kinds for prefix in ("B", "I")]


def entity_types(labels: list[str]) -> list[str]:
    return sorted({split_tag(tag)[1] for tag in labels} - {""})


def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Label ids per sub-word token: the first piece of each word gets the word's label, the rest are ignored.

    Args:
        word_ids: From a fast tokenizer's `word_ids()`: the word each token came from, None for special tokens.
        word_labels: One label id per word.
    """
    aligned, previous = [], None
    for word in word_ids:
        if word is None or word == previous:
            aligned.append(IGNORE_INDEX)
        else:
            aligned.append(word_labels[word])
        previous = word
    return aligned


def decode_predictions(logits: np.ndarray, label_ids: np.ndarray, labels: list[str]) -> tuple[list, list]:
    """(true, predicted) tag sequences over the labelled positions (first sub-tokens) of each row."""
    predicted = logits.argmax(axis=-1)
    true_tags, pred_tags = [], []
    for row_pred, row_true in zip(predicted, label_ids, strict=True):
        keep = row_true != IGNORE_INDEX
        true_tags.append([labels[i] for i in row_true[keep]])
        pred_tags.append([labels[i] for i in row_pred[keep]])
    return true_tags, pred_tags


def entity_metrics(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, float]:
    """Entity-level micro precision/recall/F1 (seqeval, strict IOB2) and token accuracy."""
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    pred_tags = [repair_bio(tags)[0] for tags in pred_tags]  # a model may emit I- after O: read it as B-
    args = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {"precision": float(precision_score(true_tags, pred_tags, **args)),
            "recall": float(recall_score(true_tags, pred_tags, **args)),
            "f1": float(f1_score(true_tags, pred_tags, **args)),
            "accuracy": float(accuracy_score(true_tags, pred_tags))}


def per_type_table(true_tags: list[list[str]], pred_tags: list[list[str]]) -> list[dict]:
    """Precision, recall, F1 and support of each entity type (seqeval's classification report)."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    pred_tags = [repair_bio(tags)[0] for tags in pred_tags]
    report = classification_report(true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True,
                                   zero_division=0)
    return [{"label": name, "precision": float(v["precision"]), "recall": float(v["recall"]),
             "f1": float(v["f1-score"]), "support": int(v["support"])}
            for name, v in report.items() if not name.endswith(" avg")]


def entities(tokens: list[str], tags: list[str]) -> list[dict]:
    """Entity spans as {type, start, end (exclusive, in tokens), text}."""
    spans, current = [], None
    for i, tag in enumerate(repair_bio(tags)[0]):
        prefix, kind = split_tag(tag)
        if prefix == "I" and current is not None:
            current["end"] = i + 1
            continue
        if current is not None:
            spans.append(current)
            current = None
        if prefix == "B":
            current = {"type": kind, "start": i, "end": i + 1}
    if current is not None:
        spans.append(current)
    for span in spans:
        span["text"] = " ".join(tokens[span["start"]:span["end"]])
    return spans


class MemorisingTagger:
    """The classic NER baseline: each token gets the tag it had most often in training ('O' if unseen)."""

    def fit(self, token_lists: list[list[str]], tag_lists: list[list[str]]) -> MemorisingTagger:
        counts: dict[str, Counter] = defaultdict(Counter)
        for tokens, tags in zip(token_lists, tag_lists, strict=True):
            for token, tag in zip(tokens, tags, strict=True):
                counts[token.lower()][split_tag(tag)[1] or OUTSIDE] += 1
        self.kinds = {token: c.most_common(1)[0][0] for token, c in counts.items()}
        return self

    def predict(self, token_lists: list[list[str]]) -> list[list[str]]:
        out = []
        for tokens in token_lists:
            kinds = [self.kinds.get(t.lower(), OUTSIDE) for t in tokens]
            out.append([OUTSIDE if k == OUTSIDE else (f"I-{k}" if i and kinds[i - 1] == k else f"B-{k}")
                        for i, k in enumerate(kinds)])
        return out
