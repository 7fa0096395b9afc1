"""Plotly figures for the regression, multi-label and NER results, built from the plain data `core` returns."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ui.charts import style  # one look for every chart of the wizard

APPLIES, DOES_NOT = "#2563EB", "#CBD5E1"


def metric_bars(rows: list[dict], names: dict[str, str], title: str, bounded: bool = True) -> go.Figure:
    """Grouped bars of some metrics (key → display name) for the model and each baseline.

    Args:
        rows: One dict per model with `model` and the metric keys.
        names: The metrics to draw, in order.
        title: The chart title (say whether higher or lower is better).
        bounded: Scores in [0, 1] (F1, accuracy) get a fixed axis so small differences do not look big.
    """
    frame = pd.DataFrame(rows).rename(columns=names)
    frame = frame.melt(id_vars="model", value_vars=list(names.values()), var_name="metric", value_name="score")
    fig = px.bar(frame, x="model", y="score", color="metric", barmode="group", text_auto=".3f", title=title,
                 labels={"model": ""})
    if bounded:
        fig.update_yaxes(range=[0, 1])
    return style(fig).update_layout(legend_title_text="")


def fit_bars(rows: list[dict], names: dict[str, str]) -> go.Figure:
    """R² and correlations (1 is perfect); the axis stops at -1 so one awful model cannot flatten the others."""
    fig = metric_bars(rows, names, "Fit: higher is better (1 = perfect)", bounded=False)
    lowest = min((r[k] for r in rows for k in names if k in r), default=0.0)
    return fig.update_yaxes(range=[max(-1.0, min(0.0, lowest)) - 0.05, 1.05])


def predicted_vs_true(points: dict[str, list[float]], target: str) -> go.Figure:
    """Each test row's prediction against its true value, with the y = x line of a perfect model."""
    frame = pd.DataFrame({"true": points["label"], "predicted": points["predicted"]})
    fig = px.scatter(frame, x="true", y="predicted", opacity=0.6, title=f"Predicted against true {target}")
    if not frame.empty:
        low, high = float(frame.min().min()), float(frame.max().max())
        fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect (y = x)",
                                 line={"dash": "dash", "color": "#DC2626"}))
    return style(fig, 380)


def residuals(points: dict[str, list[float]]) -> go.Figure:
    """Histogram of prediction errors (predicted − true), zero marked: a narrow hump centred on 0 is good."""
    errors = [p - t for p, t in zip(points["predicted"], points["label"], strict=True)]
    fig = px.histogram(x=errors, nbins=40, title="Errors (predicted − true)", labels={"x": "error"})
    fig.add_vline(x=0, line_dash="dash", line_color="#DC2626")
    return style(fig.update_layout(showlegend=False), 380)


def label_probabilities(scores: dict[str, float], threshold: float) -> go.Figure:
    """Each label's probability for one input with the threshold marked; the labels that apply are coloured."""
    frame = pd.DataFrame({"label": list(scores), "probability": list(scores.values())}).sort_values("probability")
    frame = frame.tail(20)
    colours = [APPLIES if p >= threshold else DOES_NOT for p in frame["probability"]]
    fig = go.Figure(go.Bar(x=frame["probability"], y=frame["label"], orientation="h", marker_color=colours,
                           text=[f"{p:.2f}" for p in frame["probability"]], textposition="auto"))
    fig.add_vline(x=threshold, line_dash="dash", line_color="#DC2626", annotation_text=f"threshold {threshold:.2f}",
                  annotation_position="top")
    fig.update_xaxes(range=[0, 1], title="probability")
    return style(fig, 110 + 30 * len(frame)).update_layout(margin={"t": 40})
