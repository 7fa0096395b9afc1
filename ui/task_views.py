"""What the Evaluate step shows for each task: headline metrics against the best baseline, charts, mistakes and
a box to try the model, all read from the run's report.json and exported model."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core import tasks
from core.config import TrainConfig
from core.errors import FineTuneError
from core.inference import Entity, find_entities, predict_label_sets, predict_texts, predict_values
from core.rundir import RunDir
from ui import charts, instruct_views, task_charts
from ui.data_access import predictor_for

# task → (metric key, name, number format, higher is better); the first one is the task's headline.
HEADLINES = {
    tasks.CLASSIFICATION: [("accuracy", "accuracy", ".1%", True), ("f1_macro", "macro F1", ".3f", True)],
    tasks.REGRESSION: [("rmse", "RMSE", ",.3f", False), ("mae", "MAE", ",.3f", False), ("r2", "R²", ".3f", True),
                       ("spearman", "Spearman", ".3f", True)],
    tasks.MULTI_LABEL: [("f1_micro", "micro F1", ".3f", True), ("f1_macro", "macro F1", ".3f", True),
                        ("accuracy", "exact match", ".1%", True)],
    tasks.NER: [("f1", "entity F1", ".3f", True), ("precision", "precision", ".3f", True),
                ("recall", "recall", ".3f", True)],
    tasks.IMAGE: [("accuracy", "accuracy", ".1%", True), ("f1_macro", "macro F1", ".3f", True)],
    tasks.INSTRUCTION: [("loss", "test loss", ".4f", False), ("perplexity", "perplexity", ".3f", False)],
}
BASELINES = {"majority_class": "majority class", "tfidf_logreg": "TF-IDF + logistic regression",
             "train_mean": "training mean", "tfidf_ridge": "TF-IDF + ridge", "memorised_tags": "memorised tags",
             "base_model": "base model (before tuning)"}
ENTITY_COLOURS = ["#FDE68A", "#BFDBFE", "#BBF7D0", "#FBCFE8", "#DDD6FE", "#FED7AA", "#A5F3FC", "#FECACA"]
SENTENCES_SHOWN = 25
NUMBER = st.column_config.NumberColumn(format="%.3f")
TABLE_COLUMNS = {"label": "type", "precision": NUMBER, "recall": NUMBER, "f1": st.column_config.NumberColumn(
    "F1", format="%.3f"), "support": st.column_config.NumberColumn("test rows")}


def report_task(report: dict) -> str:
    """The report's task; runs from before multi-task support are text classification."""
    return report.get("task", tasks.CLASSIFICATION)


def recipe_of(run: RunDir) -> TrainConfig | None:
    """The run's recipe, or None when it is missing or unreadable (the page then assumes the defaults)."""
    try:
        return TrainConfig.load(run.recipe)
    except FineTuneError:
        return None


def example_text(report: dict) -> str:
    """A test text from the report, for placeholders and code snippets."""
    rows = report.get("errors") or report.get("sentences") or []
    if not rows:
        return "a sentence like your training data"
    return str(rows[0].get("text") or " ".join(rows[0].get("tokens", [])))[:80]


def headline_caption(task: str, metrics: dict) -> str:
    """'test RMSE **0.381**, MAE **0.302**': the task's two headline metrics, for captions."""
    parts = [f"{name} **{metrics[key]:{spec}}**" for key, name, spec, _ in HEADLINES[task][:2] if key in metrics]
    return "test " + ", ".join(parts) if parts else "no test metrics"


def best_baseline(baselines: dict, key: str, higher: bool) -> tuple[str, float] | None:
    """The strongest baseline on one metric, as (display name, score): the bar a fine-tuned model must clear."""
    scores = [(BASELINES.get(name, name.replace("_", " ")), m[key]) for name, m in baselines.items() if key in m]
    if not scores:
        return None
    return (max if higher else min)(scores, key=lambda item: item[1])


def _metric_help(name: str, spec: str, higher: bool, best: tuple[str, float] | None) -> str:
    direction = "Higher is better." if higher else "Lower is better: a negative difference means smaller errors."
    if best is None:
        return direction
    return f"{direction} The best simple baseline on {name} is {best[0]}, with {best[1]:{spec}}."


def show_headline(report: dict, task: str, count: tuple[str, str]) -> None:
    """One st.metric per headline metric with its margin over the best baseline, then a plain verdict."""
    metrics, baselines = report["metrics"], report.get("baselines", {})
    specs = HEADLINES[task]
    cols = st.columns(len(specs) + 1)
    for col, (key, name, spec, higher) in zip(cols, specs, strict=False):
        best = best_baseline(baselines, key, higher)
        col.metric(name[0].upper() + name[1:], f"{metrics[key]:{spec}}",
                   delta=f"{metrics[key] - best[1]:+{spec}}" if best else None,
                   delta_description="vs best baseline" if best else None,
                   delta_color="normal" if higher else "inverse", help=_metric_help(name, spec, higher, best))
    cols[-1].metric(*count)
    key, name, spec, higher = specs[0]
    best = best_baseline(baselines, key, higher)
    if best is None:
        return
    ahead = metrics[key] > best[1] if higher else metrics[key] < best[1]
    if ahead:
        st.success(f"Your model beats the strongest simple baseline ({best[0]}) on {name}: "
                   f"{metrics[key]:{spec}} against {best[1]:{spec}}.", icon=":material/check_circle:")
    else:
        st.warning(f"The {best[0]} baseline does as well or better on {name} ({best[1]:{spec}} against "
                   f"{metrics[key]:{spec}}): fine-tuning has not paid off yet. Train longer, add data or try a "
                   "larger model, or use the simple model.", icon=":material/warning:")


def model_rows(report: dict) -> list[dict]:
    """The model's metrics and each baseline's, one row each, for the comparison bars."""
    return [{"model": "your model", **report["metrics"]}] + [
        {"model": BASELINES.get(name, name.replace("_", " ")), **m} for name, m in report.get("baselines", {}).items()]


def _pair_header(cfg: TrainConfig | None) -> dict:
    """Tables show a pair's second text under the user's own column name."""
    return {"text_pair": cfg.text_pair_column} if cfg and cfg.text_pair_column else {}


def try_it(report: dict, cfg: TrainConfig | None, run: RunDir, label: str, button: str,
           predict: Callable[[Any, list[str], list[str] | None], list[Any]]) -> tuple[str, Any] | None:
    """The Try-it box: once the button is clicked with text typed, (text, the run's model's prediction), else None.

    The button stays enabled: a text area only sends what was typed on blur or Ctrl+Enter, so a button
    disabled until then would ignore the first click. Two boxes when the model reads text pairs. `predict`
    gets the loaded pipeline, the texts and the second texts (or None); a user-fixable failure is shown.
    """
    example = example_text(report)
    pair_column = cfg.text_pair_column if cfg else None
    if pair_column:
        left, right = st.columns(2)
        text = left.text_area(label, placeholder=f"e.g. {example}")
        pair = right.text_area(f"Second text ({pair_column})", placeholder="the text it is paired with")
    else:
        text, pair = st.text_area(label, placeholder=f"e.g. {example}"), None
    if not st.button(button):
        return None
    if not text.strip() or (pair_column and not pair.strip()):
        st.warning("Type both texts first." if pair_column else "Type a text first.")
        return None
    try:
        return text, predict(predictor_for(run.model), [text], [pair] if pair_column else None)[0]
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        return None


# --- text classification -----------------------------------------------------------------------------------------


def show_classification(report: dict, run: RunDir) -> None:
    """Accuracy and macro F1 against the TF-IDF baseline, confusion matrix, per-class table, mistakes, Try it."""
    metrics, baselines = report["metrics"], report["baselines"]
    cols = st.columns(3)
    cols[0].metric("Accuracy", f"{metrics['accuracy']:.1%}",
                   delta=f"{metrics['accuracy'] - baselines['tfidf_logreg']['accuracy']:+.1%} vs TF-IDF baseline")
    cols[1].metric("Macro F1", f"{metrics['f1_macro']:.3f}",
                   delta=f"{metrics['f1_macro'] - baselines['tfidf_logreg']['f1_macro']:+.3f} vs TF-IDF baseline")
    cols[2].metric("Misclassified", f"{report['error_count']:,}")
    rows = [{"model": "your model", **metrics}] + [{"model": name.replace("_", " "), **m}
                                                   for name, m in baselines.items()]
    st.plotly_chart(charts.metric_bars(rows))

    left, right = st.columns([3, 2])
    left.plotly_chart(charts.confusion(report["confusion_matrix"], report["labels"]))
    right.dataframe(pd.DataFrame(report["per_class"]), hide_index=True, column_config={**TABLE_COLUMNS,
                                                                                        "label": "class"})
    st.subheader("Mistakes")
    errors = pd.DataFrame(report["errors"])
    if errors.empty:
        st.success("No mistakes on the test split.")
    else:
        f1, f2 = st.columns(2)
        true_filter = f1.multiselect("True label", report["labels"])
        pred_filter = f2.multiselect("Predicted label", report["labels"])
        shown = errors[errors["label"].isin(true_filter or report["labels"])
                       & errors["predicted"].isin(pred_filter or report["labels"])]
        st.caption("Most confident mistakes first: these are often label errors in the data, worth a look.")
        st.dataframe(shown, hide_index=True, height=300,
                     column_config={"confidence": st.column_config.ProgressColumn(min_value=0, max_value=1)})

    st.subheader("Try it")
    tried = try_it(report, recipe_of(run), run, "Type a text to classify", "Classify", predict_texts)
    if tried:
        scores = tried[1]
        best = next(iter(scores))
        st.markdown(f"Prediction: **{best}** ({scores[best]:.1%})")
        st.plotly_chart(charts.probabilities(scores))


# --- text regression ---------------------------------------------------------------------------------------------


def show_regression(report: dict, run: RunDir) -> None:
    """Errors and fit against the baselines, predicted-vs-true and residual plots, the worst rows, Try it."""
    cfg = recipe_of(run)
    target = cfg.label_column if cfg else "target"
    show_headline(report, tasks.REGRESSION, ("Test rows", f"{report['test_rows']:,}"))
    rows = model_rows(report)
    left, right = st.columns(2)
    left.plotly_chart(task_charts.metric_bars(rows, {"rmse": "RMSE", "mae": "MAE"},
                                              f"Errors in {target} units: lower is better", bounded=False))
    right.plotly_chart(task_charts.fit_bars(rows, {"r2": "R²", "pearson": "Pearson", "spearman": "Spearman"}))
    left, right = st.columns(2)
    left.plotly_chart(task_charts.predicted_vs_true(report["points"], target))
    right.plotly_chart(task_charts.residuals(report["points"]))
    spread = report["residuals"]
    st.caption(f"On average the model is off by {spread['mean']:+,.3f} (its bias; 0 is ideal), errors spread by "
               f"{spread['std']:,.3f}, and 90% of predictions are within ±{spread['abs_p90']:,.3f} of the truth.")

    st.subheader("Largest errors")
    st.dataframe(pd.DataFrame(report["errors"]), hide_index=True, height=300, column_config={
        **_pair_header(cfg), "label": st.column_config.NumberColumn(f"true {target}", format="%.3f"),
        "predicted": st.column_config.NumberColumn(format="%.3f"),
        "error": st.column_config.NumberColumn("error (predicted − true)", format="%+.3f")})

    st.subheader("Try it")
    tried = try_it(report, cfg, run, "Type a text to score", "Predict", predict_values)
    if tried:
        points = report["points"]["label"]
        st.metric(f"Predicted {target}", f"{tried[1]:,.3f}")
        if points:
            st.caption(f"The test targets range from {min(points):,.3f} to {max(points):,.3f}.")


# --- multi-label classification ----------------------------------------------------------------------------------


def label_mistakes(errors: list[dict], separator: str) -> pd.DataFrame:
    """The wrong rows with the labels the model missed and the ones it added."""
    frame = pd.DataFrame(errors)
    if frame.empty:
        return frame
    true = frame["label"].map(lambda v: set(tasks.split_labels(v, separator)))
    guess = frame["predicted"].map(lambda v: set(tasks.split_labels(v, separator)))
    frame["missed"] = [separator.join(sorted(t - g)) for t, g in zip(true, guess, strict=True)]
    frame["extra"] = [separator.join(sorted(g - t)) for t, g in zip(true, guess, strict=True)]
    return frame


def show_multilabel(report: dict, run: RunDir) -> None:
    """F1 against the baseline, the tuned threshold, a per-label table, a mistakes browser and Try it."""
    cfg = recipe_of(run)
    separator = cfg.label_separator if cfg else ","
    metrics = report["metrics"]
    show_headline(report, tasks.MULTI_LABEL, ("Rows with a wrong label set", f"{report['error_count']:,}"))
    threshold = metrics.get("threshold", 0.5)
    st.info(f"A label applies when the model gives it a probability of at least **{threshold:.2f}**. This "
            "threshold was tuned on the validation split to get the best micro F1 (the usual default is 0.50); it "
            "is saved in the model's config.json as `finetune_threshold`, and every score here uses it.",
            icon=":material/tune:")
    st.plotly_chart(task_charts.metric_bars(
        model_rows(report), {"f1_micro": "micro F1", "f1_macro": "macro F1", "accuracy": "exact match"},
        "Your model against a simple baseline (test split)"))
    st.dataframe(pd.DataFrame(report["per_class"]), hide_index=True, column_config={
        **TABLE_COLUMNS, "label": "label", "predicted": st.column_config.NumberColumn("predicted rows")})

    st.subheader("Mistakes")
    errors = label_mistakes(report["errors"], separator)
    if errors.empty:
        st.success("Every test row got exactly the right labels.")
    else:
        chosen = set(st.multiselect("Rows involving label", report["labels"]))
        involved = [bool(chosen & {*tasks.split_labels(t, separator), *tasks.split_labels(p, separator)}) or not chosen
                    for t, p in zip(errors["label"], errors["predicted"], strict=True)]
        st.caption("Rows whose predicted label set differs from the true one. Confidence is that of the least "
                   "certain label decision in the row.")
        st.dataframe(errors[involved], hide_index=True, height=300, column_config={
            **_pair_header(cfg), "confidence": st.column_config.ProgressColumn(min_value=0, max_value=1)})

    st.subheader("Try it")
    tried = try_it(report, cfg, run, "Type a text to tag", "Tag", predict_label_sets)
    if tried:
        found = tried[1]
        names = ", ".join(f"**{label}**" for label in found.labels)
        st.markdown(f"Labels that apply: {names}" if found.labels else
                    f"No label reaches the threshold of {found.threshold:.2f}.")
        st.plotly_chart(task_charts.label_probabilities(found.scores, found.threshold))


# --- named entities ----------------------------------------------------------------------------------------------


def type_colours(types: list[str]) -> dict[str, str]:
    """A background colour per entity type, stable for the run (types in the report's order)."""
    return {kind: ENTITY_COLOURS[i % len(ENTITY_COLOURS)] for i, kind in enumerate(types)}


def mark(text: str, kind: str, colours: dict[str, str]) -> str:
    """One highlighted entity with its type, as HTML (text escaped)."""
    colour = colours.get(kind, "#E5E7EB")
    return (f'<mark style="background:{colour};padding:0 .3em;border-radius:.3em">{html.escape(text)} '
            f'<small style="font-weight:600;opacity:.7">{html.escape(kind)}</small></mark>')


def highlight_tokens(tokens: list[str], spans: list[dict], colours: dict[str, str]) -> str:
    """A tokenised sentence as HTML with its entity spans ({type, start, end} in tokens) highlighted."""
    pieces, position = [], 0
    for span in sorted(spans, key=lambda s: s["start"]):
        if span["start"] < position:
            continue  # spans never overlap in BIO tags; skip defensively rather than garble the sentence
        pieces += [html.escape(t) for t in tokens[position:span["start"]]]
        pieces.append(mark(" ".join(tokens[span["start"]:span["end"]]), span["type"], colours))
        position = span["end"]
    pieces += [html.escape(t) for t in tokens[position:]]
    return " ".join(pieces)


def highlight_text(text: str, entities: list[Entity], colours: dict[str, str]) -> str:
    """Typed text as HTML with the entities a model found (character offsets) highlighted."""
    pieces, position = [], 0
    for entity in sorted(entities, key=lambda e: e.start):
        if entity.start < position:
            continue
        pieces += [html.escape(text[position:entity.start]), mark(text[entity.start:entity.end], entity.type, colours)]
        position = entity.end
    pieces.append(html.escape(text[position:]))
    return "".join(pieces)


def pick_sentences(sentences: list[dict], only_mistakes: bool, types: list[str]) -> list[dict]:
    """The report's sentences with a mistake (when asked) and an entity of one of `types` (when given)."""
    wanted = set(types)
    return [s for s in sentences if (s["mistakes"] > 0 or not only_mistakes)
            and (not wanted or wanted & {e["type"] for e in s["true"] + s["predicted"]})]


def sentences_html(sentences: list[dict], colours: dict[str, str]) -> str:
    """Each sentence twice, true entities above the predicted ones, as one HTML block."""
    blocks = []
    for s in sentences:
        verdict = f"{s['mistakes']} mistake(s)" if s["mistakes"] else "all right"
        blocks.append(f'<div style="margin:0 0 .9em 0;line-height:1.9"><div><b>true</b> · '
                      f"{highlight_tokens(s['tokens'], s['true'], colours)}</div><div><b>predicted</b> · "
                      f"{highlight_tokens(s['tokens'], s['predicted'], colours)} "
                      f'<small style="opacity:.6">({verdict})</small></div></div>')
    return "".join(blocks)


def show_ner(report: dict, run: RunDir) -> None:
    """Entity F1 against the baseline, a per-type table, sentences with entities highlighted, Try it."""
    colours = type_colours(report.get("entity_types", []))
    show_headline(report, tasks.NER, ("Sentences with mistakes", f"{report['error_count']:,}"))
    st.plotly_chart(task_charts.metric_bars(
        model_rows(report), {"precision": "precision", "recall": "recall", "f1": "entity F1",
                             "accuracy": "token accuracy"}, "Your model against a simple baseline (test split)"))
    st.caption("An entity counts only when its type and both boundaries are right (strict seqeval scoring).")
    st.dataframe(pd.DataFrame(report["per_class"]), hide_index=True, column_config=TABLE_COLUMNS)

    st.subheader("Sentences")
    left, right = st.columns(2)
    only_mistakes = left.checkbox("Only sentences with mistakes", value=True)
    types = right.multiselect("Entity type", report.get("entity_types", []))
    shown = pick_sentences(report.get("sentences", []), only_mistakes, types)
    st.caption(f"{len(shown):,} sentence(s) match; the first {min(len(shown), SENTENCES_SHOWN)} are shown, most "
               "mistakes first.")
    if shown:
        st.html(sentences_html(shown[:SENTENCES_SHOWN], colours))

    st.subheader("Try it")
    tried = try_it(report, None, run, "Type a sentence", "Find entities",
                   lambda predictor, texts, _pairs: find_entities(predictor, texts))
    if tried:
        text, found = tried
        st.caption(f"Found {len(found)} entit{'y' if len(found) == 1 else 'ies'}.")
        if found:
            st.html(highlight_text(text, found, colours))
            st.dataframe(pd.DataFrame([vars(e) for e in found]), hide_index=True,
                         column_config={"score": st.column_config.ProgressColumn(min_value=0, max_value=1)})


VIEWS = {tasks.CLASSIFICATION: show_classification, tasks.REGRESSION: show_regression,
         tasks.MULTI_LABEL: show_multilabel, tasks.NER: show_ner, tasks.INSTRUCTION: instruct_views.show_instruction}
