"""The data quality report: every check of a task run over the user's files, as a list of Findings.

Checks are plain functions `check(ctx) -> list[Finding]`, grouped per task in CHECKS; a task another
module adds (images, instruction tuning) plugs in by adding its list there. Row checks see the files as
read (before cleaning), so the report shows what cleaning and the one-click fixes (core.fixes) will do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core import ner, tasks
from core.cleaning import row_key
from core.config import TrainConfig
from core.errors import FineTuneError
from core.findings import Finding
from core.fixes import SHORT_WORDS, conflicting_rows, short_rows
from core.imbalance import imbalance_ratio
from core.near_duplicates import near_duplicate_groups, near_only

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
IMBALANCE_WARNING = 3.0  # largest class / smallest class above this gets a remedy
LONG_CHARACTERS = 5_000
MAX_EXAMPLES = 5


@dataclass
class QualityContext:
    """What every check reads: the recipe, the raw tables and the task's standard frames per split."""

    cfg: TrainConfig
    raw: dict[str, pd.DataFrame]
    frames: dict[str, pd.DataFrame]
    label_errors: bool = True
    token_lengths: bool = True
    skipped: dict[str, list[str]] = field(default_factory=dict)  # per split: files that are not data (images)

    @property
    def train(self) -> pd.DataFrame:
        return self.frames["train"]


@dataclass
class QualityReport:
    """The findings for one recipe's data, worst first, with row counts and timing."""

    task: str
    rows: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"task": self.task, "rows": self.rows, "seconds": round(self.seconds, 2),
                "findings": [f.to_dict() for f in self.findings]}

    def by_check(self, check: str) -> Finding | None:
        return next((f for f in self.findings if f.check == check), None)


Check = Callable[[QualityContext], list[Finding]]


def _examples(values: pd.Series) -> list[str]:
    return values.astype(str).str.split().str.join(" ").str[:120].head(MAX_EXAMPLES).tolist()


def check_empty_and_short(ctx: QualityContext) -> list[Finding]:
    """Rows with no text, and texts of at most SHORT_WORDS words."""
    text = ctx.train["text"]
    empty = text.isna() | text.astype(str).str.strip().eq("")
    short = short_rows(ctx.train) & ~empty
    out = []
    if empty.any():
        out.append(Finding("empty_inputs", "warning", f"{int(empty.sum())} training row(s) have no text.",
                           "They are dropped by the 'drop empty' cleaning option.", int(empty.sum()),
                           [int(i) for i in ctx.train.index[empty][:MAX_EXAMPLES]]))
    if short.any():
        out.append(Finding("short_inputs", "info", f"{int(short.sum())} training text(s) have {SHORT_WORDS} words "
                           "or fewer.", "Drop them if they carry too little to decide the label.",
                           int(short.sum()), _examples(text[short]), action="drop_short_texts"))
    long = text.astype(str).str.len() > LONG_CHARACTERS
    if long.any():
        out.append(Finding("long_inputs", "info", f"{int(long.sum())} training text(s) are longer than "
                           f"{LONG_CHARACTERS:,} characters.", "Only the first max-length tokens are read; split "
                           "long documents if their end matters.", int(long.sum()), _examples(text[long])))
    return out


def check_duplicates(ctx: QualityContext) -> list[Finding]:
    """Exact duplicates (normalised text) and near-duplicates (MinHash LSH) inside the training split."""
    keys = row_key(ctx.train.fillna(""))
    exact = (keys + "\x00" + ctx.train["label"].astype(str)).duplicated()
    out = []
    if exact.any():
        out.append(Finding("exact_duplicates", "warning", f"{int(exact.sum())} training row(s) repeat an earlier "
                           "row's text and label exactly (ignoring case and spacing).", "Keep 'drop duplicates' on.",
                           int(exact.sum()), _examples(ctx.train["text"][exact])))
    near = near_only(keys, near_duplicate_groups(keys))
    if near.any():
        out.append(Finding("near_duplicates", "warning", f"{int(near.sum())} training row(s) are near-duplicates of "
                           "another row (same words up to small edits).", "Drop them so the model does not "
                           "over-weight them.", int(near.sum()), _examples(ctx.train["text"][near]),
                           action="drop_near_duplicates"))
    return out


def check_leakage(ctx: QualityContext) -> list[Finding]:
    """Training texts that also appear in a validation or test file (scores would be inflated)."""
    held = [ctx.frames[s] for s in ("validation", "test") if s in ctx.frames]
    if not held:
        return []
    seen = set(row_key(pd.concat(held).fillna("")))
    leaked = row_key(ctx.train.fillna("")).isin(seen)
    if not leaked.any():
        return []
    return [Finding("leakage", "error", f"{int(leaked.sum())} training row(s) also appear in the validation or "
                    "test file, which would inflate the scores.", "Keep 'drop duplicates' on: it drops them from "
                    "training.", int(leaked.sum()), _examples(ctx.train["text"][leaked]))]


def check_conflicts(ctx: QualityContext) -> list[Finding]:
    """Identical inputs given different labels."""
    frame = ctx.train.dropna(subset=["text", "label"])
    conflicts = conflicting_rows(frame)
    if not conflicts.any():
        return []
    return [Finding("conflicting_labels", "warning", f"{int(conflicts.sum())} training row(s) share their text "
                    "with a row of another label.", "Drop them, or correct the labels in the file.",
                    int(conflicts.sum()), _examples(frame["text"][conflicts] + " → " +
                                                    frame["label"][conflicts].astype(str)),
                    action="drop_conflicting_labels")]


def check_class_balance(ctx: QualityContext) -> list[Finding]:
    """How unequal the classes are, with a remedy; and a label column that is really free text or ids."""
    labels = ctx.train["label"].dropna().astype(str)
    if ctx.cfg.task == tasks.MULTI_LABEL:
        labels = labels.map(lambda v: tasks.split_labels(v, ctx.cfg.label_separator)).explode().dropna()
    counts = labels.value_counts()
    if counts.empty:
        return []
    if len(counts) > max(200, len(labels) // 2):
        return [Finding("too_many_labels", "error", f"The label column has {len(counts):,} distinct values in "
                        f"{len(labels):,} rows: it looks like text or ids, not classes.",
                        "Choose the column that holds the class names.", len(counts), counts.index[:5].tolist())]
    ratio = imbalance_ratio(counts)
    summary = f"{len(counts)} classes, {counts.max():,} rows in the largest ('{counts.index[0]}') and " \
              f"{counts.min():,} in the smallest ('{counts.index[-1]}')"
    if ratio < IMBALANCE_WARNING:
        return [Finding("class_balance", "info", f"Classes are balanced enough: {summary}.", "", len(counts))]
    return [Finding("class_balance", "warning", f"Classes are imbalanced ({ratio:.0f}:1): {summary}.",
                    "Turn on balanced class weights (or oversampling) under Settings, and judge by macro F1.",
                    len(counts), [f"{k}: {v}" for k, v in counts.tail(MAX_EXAMPLES).items()], action="class_weights")]


def check_label_spellings(ctx: QualityContext) -> list[Finding]:
    """Labels that differ only by case or surrounding spaces."""
    labels = pd.Series(ctx.train["label"].dropna().astype(str).unique())
    keys = labels.str.strip().str.casefold()
    variants = labels[keys.duplicated(keep=False)]
    if variants.empty:
        return []
    return [Finding("label_spellings", "warning", f"{len(variants)} label spellings differ only by case or spaces.",
                    "Keep 'merge label spellings' on.", len(variants), variants.head(MAX_EXAMPLES).tolist())]


def check_label_errors(ctx: QualityContext) -> list[Finding]:
    """Rows whose label disagrees confidently with out-of-fold predictions (see core.label_errors)."""
    if not ctx.label_errors:
        return []
    from core.label_errors import find_label_errors

    errors = find_label_errors(ctx.train.dropna(subset=["text", "label"]), ctx.cfg.seed)
    if errors.empty:
        return []
    examples = [{"row": int(i), "text": str(r.text)[:120], "label": r.label, "suggested": r.suggested,
                 "confidence": float(r.confidence)} for i, r in errors.head(20).iterrows()]
    return [Finding("label_errors", "warning", f"{len(errors)} training row(s) look mislabelled: a quick "
                    "cross-validated model confidently predicts another label.", "Review them; drop or relabel.",
                    len(errors), examples, action="drop_label_errors")]


def check_column_types(ctx: QualityContext) -> list[Finding]:
    """A text column that holds numbers, and columns mixing numbers with text."""
    raw = ctx.raw["train"]
    out = []
    text = raw[ctx.cfg.text_column].dropna() if ctx.cfg.text_column in raw.columns else pd.Series(dtype=object)
    numeric = pd.to_numeric(text, errors="coerce").notna()
    if len(text) and numeric.mean() > 0.5:
        out.append(Finding("numeric_text", "warning", f"{numeric.mean():.0%} of the text column "
                           f"'{ctx.cfg.text_column}' are numbers, not text.", "Check that you picked the text column.",
                           int(numeric.sum()), _examples(text[numeric])))
    for column in [c for c in (ctx.cfg.text_column, ctx.cfg.label_column) if c in raw.columns]:
        kinds = raw[column].dropna().map(lambda v: type(v).__name__).value_counts()
        if len(kinds) > 1:
            out.append(Finding("mixed_types", "info", f"Column '{column}' mixes value types "
                               f"({', '.join(f'{k}: {v}' for k, v in kinds.items())}).",
                               "They are all read as text; check that this is intended.", int(kinds.iloc[1:].sum())))
    return out


def check_token_lengths(ctx: QualityContext) -> list[Finding]:
    """The token-length distribution under the chosen model and the share the max length would cut."""
    if not ctx.token_lengths:
        return []
    from core.inspection import token_lengths, truncated_share

    texts = ctx.train["text"].dropna().astype(str)
    try:
        lengths = token_lengths(ctx.cfg.model, texts.tolist(), ctx.cfg.seed)
    except FineTuneError as exc:
        return [Finding("token_lengths", "info", f"Token lengths need the model's tokenizer: {exc.problem}",
                        exc.fix)]
    share = truncated_share(lengths, ctx.cfg.max_length)
    p50, p95, top = np.percentile(lengths, [50, 95, 100]) if lengths else (0, 0, 0)
    severity = "warning" if share > 0.05 else "info"
    return [Finding("token_lengths", severity, f"Median {p50:.0f}, 95th percentile {p95:.0f}, longest {top:.0f} "
                    f"tokens; {share:.1%} of texts exceed the max length of {ctx.cfg.max_length}.",
                    "Raise the max length under Settings if the cut-off ends matter." if share else "",
                    int(round(share * len(texts))))]


def check_target(ctx: QualityContext) -> list[Finding]:
    """Regression: missing targets, the target's spread and outliers (beyond 3 interquartile ranges)."""
    target = ctx.train["label"]
    out = []
    missing = target.isna()
    if missing.any():
        out.append(Finding("missing_targets", "warning", f"{int(missing.sum())} row(s) have no usable number as "
                           "target.", "They are dropped; fill them in to keep them.", int(missing.sum())))
    values = target.dropna().astype(float)
    if values.empty:
        return out
    q1, q3 = values.quantile([0.25, 0.75])
    spread = max(q3 - q1, 1e-12)
    outliers = (values < q1 - 3 * spread) | (values > q3 + 3 * spread)
    out.append(Finding("target_distribution", "info", f"Target from {values.min():g} to {values.max():g}, median "
                       f"{values.median():g}, middle half {q1:g} – {q3:g}.", "", len(values)))
    if outliers.any():
        out.append(Finding("target_outliers", "warning", f"{int(outliers.sum())} target(s) lie far outside the rest "
                           "(beyond 3 interquartile ranges).", "Check them for typos or unit mistakes.",
                           int(outliers.sum()), values[outliers].head(MAX_EXAMPLES).tolist()))
    return out


def check_bio(ctx: QualityContext) -> list[Finding]:
    """NER: tags that break the BIO scheme (an I- tag that starts an entity)."""
    bad = ctx.train["label"].astype(str).str.split().map(ner.invalid_bio_count)
    if not bad.any():
        return []
    return [Finding("invalid_bio", "warning", f"{int((bad > 0).sum())} sentence(s) have {int(bad.sum())} tag(s) "
                    "that break the BIO scheme.", "They are repaired (the I- that starts an entity becomes B-).",
                    int((bad > 0).sum()), _examples(ctx.train["label"][bad > 0]))]


TEXT_CHECKS: list[Check] = [check_column_types, check_empty_and_short, check_duplicates, check_leakage,
                            check_token_lengths]


def check_images(ctx: QualityContext) -> list[Finding]:
    """Images: unreadable, tiny, placeholder, duplicate and non-RGB files, non-image files, nesting, balance."""
    from core.image_checks import image_findings  # lazy: PIL and hashing only for image data

    return image_findings(ctx.train, ctx.skipped.get("train", []))


def check_image_leakage(ctx: QualityContext) -> list[Finding]:
    """Images: the same file content in training and validation/test data."""
    from core.image_checks import file_digest

    held_out = {file_digest(p) for split in ("validation", "test") if split in ctx.frames
                for p in ctx.frames[split]["image"]} - {""}
    leaked = [p for p in ctx.train["image"] if file_digest(p) in held_out]
    if not leaked:
        return []
    return [Finding("leakage", "warning", f"{len(leaked)} training image(s) also appear in the validation or test "
                    "data, which makes the scores look better than they are.",
                    "Remove them from the training folder.", len(leaked), [Path(p).name for p in leaked[:5]])]


def check_chats(ctx: QualityContext) -> list[Finding]:
    """Instruction tuning: empty answers, repeated chats and chats longer than the max length."""
    from core.instruct import chat_tokenizer, instruction_findings

    tokenizer = chat_tokenizer(ctx.cfg.model) if ctx.token_lengths else None
    return instruction_findings(ctx.train, tokenizer, ctx.cfg.max_length)


# Per-task checks (a check receives the QualityContext; ctx.raw / ctx.frames hold the tables as read).
CHECKS: dict[str, list[Check]] = {
    tasks.CLASSIFICATION: [*TEXT_CHECKS, check_class_balance, check_label_spellings, check_conflicts,
                           check_label_errors],
    tasks.MULTI_LABEL: [*TEXT_CHECKS, check_class_balance, check_conflicts],
    tasks.REGRESSION: [*TEXT_CHECKS, check_target],
    tasks.NER: [check_empty_and_short, check_duplicates, check_leakage, check_token_lengths, check_bio],
    tasks.IMAGE: [check_images, check_image_leakage],
    tasks.INSTRUCTION: [check_chats],
}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def load_frames(cfg: TrainConfig) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], list[Finding],
                                          dict[str, list[str]]]:
    """Raw tables, standard frames and skipped (non-data) files per split; a file that cannot be read becomes a
    finding, not a crash."""
    raw, frames, problems, skipped = {}, {}, [], {}
    for split in SPLITS:
        path = getattr(cfg, split)
        if not path:
            continue
        try:
            raw[split], frames[split], skipped[split] = _load_split(path, cfg)
        except FineTuneError as exc:
            problems.append(Finding("unreadable", "error", f"The {split} data cannot be used: {exc.problem}",
                                    exc.fix))
    return raw, frames, problems, skipped


def _load_split(path: str, cfg: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(table as read, the task's standard frame, files skipped) of one split."""
    if cfg.task == tasks.IMAGE:
        from core.image_data import load_image_split

        frame, skipped = load_image_split(path, cfg)
        return frame, frame, skipped
    if cfg.task == tasks.INSTRUCTION:
        from core.instruct import detect_columns, to_chats
        from core.tables import load_table

        table = load_table(path)
        return table, to_chats(table, list(cfg.instruction_columns) or detect_columns(table), Path(path).name), []
    table = tasks.load_split(path, cfg)
    return table, tasks.select_columns(table, cfg, Path(path).name), []


def run_checks(ctx: QualityContext) -> list[Finding]:
    """Every check of the task; a check that fails on odd data reports that instead of stopping the others."""
    findings = []
    for check in CHECKS.get(ctx.cfg.task, TEXT_CHECKS):
        try:
            findings += check(ctx)
        except FineTuneError as exc:
            findings.append(Finding(check.__name__.removeprefix("check_"), "error", exc.problem, exc.fix))
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("Quality check %s failed: %s", check.__name__, exc)
            findings.append(Finding(check.__name__.removeprefix("check_"), "info",
                                    f"This check could not run on the data ({type(exc).__name__}: {exc}).",
                                    "Look at the rows for malformed values."))
    return findings


def build_report(cfg: TrainConfig, label_errors: bool = True, token_lengths: bool = True) -> QualityReport:
    """The quality report for the data a recipe names (its task, files, columns, model and max length).

    Args:
        cfg: The recipe; only its data, task, model, max length and seed are read.
        label_errors: Also look for likely label errors (a few seconds of cross-validation).
        token_lengths: Also measure token lengths (needs the model's tokenizer on disk).

    Returns:
        The findings, errors first; unreadable files and failed checks are findings too.
    """
    started = time.perf_counter()
    raw, frames, findings, skipped = load_frames(cfg)
    if not cfg.train:
        findings.append(Finding("unreadable", "error", "No training file was given.", "Pass --train FILE."))
    if "train" in frames:
        ctx = QualityContext(cfg, raw, frames, label_errors, token_lengths, skipped)
        findings += run_checks(ctx)
    findings.sort(key=lambda f: SEVERITY_ORDER.get(f.severity, 3))
    return QualityReport(cfg.task, {k: len(v) for k, v in frames.items()}, findings, time.perf_counter() - started)


def format_report(report: QualityReport) -> str:
    """The report as plain text for the terminal, one finding per paragraph."""
    lines = [f"Quality report ({report.task}): " + ", ".join(f"{k} {v:,} rows" for k, v in report.rows.items())
             + f"; {report.seconds:.1f} s"]
    for f in report.findings:
        lines.append(f"[{f.severity.upper()}] {f.check}: {f.message}" + (f" Fix: {f.fix}" if f.fix else "")
                     + (f" (one-click fix: {f.action})" if f.action else ""))
        lines += [f"    e.g. {e}" for e in f.examples[:3]]
    return "\n".join(lines)
