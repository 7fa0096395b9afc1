"""Plotly figures for the wizard, built from the plain data that `core` returns."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

TEMPLATE = "plotly_white"
TITLES = {"loss": "Loss", "accuracy": "Validation accuracy", "learning_rate": "Learning rate",
          "f1_macro": "Validation macro F1", "f1_micro": "Validation micro F1", "f1": "Validation entity F1",
          "rmse": "Validation RMSE", "mae": "Validation MAE", "r2": "Validation R²", "pearson": "Validation Pearson r",
          "spearman": "Validation Spearman ρ", "precision": "Validation precision", "recall": "Validation recall"}
BOUNDED = {f"{prefix}{name}" for prefix in ("", "eval_")
           for name in ("accuracy", "f1_macro", "f1_micro", "f1", "precision", "recall")}


def style(fig: go.Figure, height: int = 320) -> go.Figure:
    fig.update_layout(template=TEMPLATE, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0})
    return fig


def class_balance(counts: dict[str, int], title: str = "Examples per class (training split)") -> go.Figure:
    """Bar chart of examples per class (or label, or entity type), largest first."""
    frame = pd.DataFrame({"label": list(map(str, counts)), "examples": list(counts.values())})
    frame = frame.sort_values("examples", ascending=False)
    return style(px.bar(frame, x="label", y="examples", title=title))


def target_histogram(values: list[float]) -> go.Figure:
    """Distribution of a regression target."""
    return style(px.histogram(x=values, nbins=40, title="Target values (training split)", labels={"x": "target"}))


def token_histogram(lengths: list[int], max_length: int) -> go.Figure:
    """Histogram of token lengths with the max-length cut-off marked."""
    fig = px.histogram(x=lengths, nbins=50, title="Text length in tokens", labels={"x": "tokens"})
    fig.add_vline(x=max_length, line_dash="dash", line_color="#DC2626",
                  annotation_text=f"max length {max_length}")
    return style(fig)


def training_curves(records: list[dict], metric: str = "loss") -> go.Figure:
    """Training and validation curves of one metric over steps."""
    frame = pd.DataFrame(records)
    fig = go.Figure()
    if frame.empty:
        return style(fig.update_layout(title="Waiting for the first measurements…"))
    train_key, eval_key = metric, f"eval_{metric}"
    for key, name in ((train_key, "training"), (eval_key, "validation")):
        if key in frame:
            rows = frame.dropna(subset=[key])
            fig.add_trace(go.Scatter(x=rows["step"], y=rows[key], mode="lines+markers", name=name))
    fig.update_layout(title=TITLES.get(metric, metric), xaxis_title="step")
    if metric in BOUNDED:
        fig.update_yaxes(range=[0, 1.02])
    if metric == "learning_rate":
        fig.update_yaxes(tickformat=".0e")
    return style(fig)


def compare_runs(curves: dict[str, list[dict]], key: str) -> go.Figure:
    """One line per run for a metric key (e.g. eval_accuracy), over epochs."""
    fig = go.Figure()
    for name, records in curves.items():
        frame = pd.DataFrame(records)
        if key in frame:
            rows = frame.dropna(subset=[key])
            fig.add_trace(go.Scatter(x=rows["epoch"], y=rows[key], mode="lines+markers", name=name))
    fig.update_layout(title=key.replace("eval_", "validation ").replace("_", " "), xaxis_title="epoch")
    if key in BOUNDED:
        fig.update_yaxes(range=[0, 1.02])
    return style(fig, 360)


def confusion(matrix: list[list[int]], labels: list[str]) -> go.Figure:
    """Interactive confusion matrix (rows: true class, columns: predicted)."""
    fig = px.imshow(matrix, x=labels, y=labels, text_auto=True, color_continuous_scale="Blues",
                    labels={"x": "predicted", "y": "true", "color": "rows"}, aspect="auto")
    fig.update_layout(title="Confusion matrix (test split)")
    return style(fig, max(360, 28 * len(labels)))


def metric_bars(rows: list[dict]) -> go.Figure:
    """Accuracy and macro-F1 of the model next to the baselines."""
    frame = pd.DataFrame(rows).rename(columns={"accuracy": "accuracy", "f1_macro": "macro F1"})
    frame = frame.melt(id_vars="model", value_vars=["accuracy", "macro F1"], var_name="metric", value_name="score")
    fig = px.bar(frame, x="model", y="score", color="metric", barmode="group", text_auto=".3f",
                 title="Your model against simple baselines (test split)", labels={"model": ""})
    return style(fig.update_yaxes(range=[0, 1]))


def probabilities(scores: dict[str, float]) -> go.Figure:
    """Horizontal bars of class probabilities for one input."""
    frame = pd.DataFrame({"label": list(scores), "probability": list(scores.values())})
    frame = frame.sort_values("probability").tail(10)
    fig = px.bar(frame, x="probability", y="label", orientation="h", text_auto=".2f")
    return style(fig.update_xaxes(range=[0, 1]), 60 + 30 * len(frame))


def search_history(trials: pd.DataFrame, maximize: bool) -> go.Figure:
    """Each finished trial's validation score, and the best so far."""
    done = trials.dropna(subset=["value"]).sort_values("trial")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=done["trial"], y=done["value"], mode="markers", name="trial"))
    best = done["value"].cummax() if maximize else done["value"].cummin()
    fig.add_trace(go.Scatter(x=done["trial"], y=best, mode="lines", name="best so far"))
    fig.update_layout(title="Optimisation history", xaxis_title="trial", yaxis_title="validation score")
    return style(fig)


def parallel_params(trials: pd.DataFrame) -> go.Figure:
    """Parallel coordinates of the numeric parameters of finished trials, coloured by score."""
    done = trials.dropna(subset=["value"])
    columns = [c for c in done.columns if c not in {"trial", "state", "duration_s"}
               and pd.api.types.is_numeric_dtype(done[c])]
    if done.empty or len(columns) < 2:
        return style(go.Figure().update_layout(title="Parameters (after the first finished trials)"))
    fig = px.parallel_coordinates(done, dimensions=columns, color="value", color_continuous_scale="Viridis")
    return style(fig.update_layout(title="Parameters of each trial"))


def importances(values: dict[str, float]) -> go.Figure:
    """How much each parameter mattered (Optuna's fANOVA importances)."""
    frame = pd.DataFrame({"parameter": list(values), "importance": list(values.values())}).sort_values("importance")
    fig = px.bar(frame, x="importance", y="parameter", orientation="h", title="Which parameters mattered")
    return style(fig, 80 + 35 * len(frame))
