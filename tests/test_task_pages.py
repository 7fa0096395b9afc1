"""The Evaluate and Download pages for regression, multi-label and NER runs of the tiny model (AppTest)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from streamlit.proto.Metric_pb2 import Metric

from core import tasks
from core.inference import Entity
from tests.test_inference import SEPARATOR, trained_task_run
from tests.test_pages import by_label, metric_values, open_page, ready_wizard, texts

RUN_NAMES = {tasks.REGRESSION: "tiny-regression", tasks.MULTI_LABEL: "tiny-tags", tasks.NER: "tiny-ner"}


@pytest.fixture
def place_run(home, tmp_path_factory, tiny_model_dir):
    """place_run(task) → (wizard pointing at a finished run of `task` in this test's workspace, its report)."""

    def place(task: str) -> tuple[dict, dict]:
        run = trained_task_run(task, tmp_path_factory, tiny_model_dir)
        shutil.copytree(run, home / "runs" / RUN_NAMES[task], ignore=shutil.ignore_patterns("checkpoints"))
        data = next(p for p in run.parent.iterdir() if p.suffix in {".csv", ".jsonl"})
        report = json.loads((run / "report.json").read_text(encoding="utf-8"))
        return ready_wizard(data, active_run=RUN_NAMES[task]), report

    return place


def figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def html_blocks(at) -> str:
    return "\n".join(element.proto.body for element in at.get("html"))


# --- regression --------------------------------------------------------------------------------------------------


def test_regression_evaluation_compares_errors_with_baselines_and_plots_the_fit(place_run):
    wizard, report = place_run(tasks.REGRESSION)
    at = open_page("evaluate", wizard)
    metrics = metric_values(at)
    assert {"RMSE", "MAE", "R²", "Spearman", "Test rows"} <= set(metrics)
    assert metrics["RMSE"] == f"{report['metrics']['rmse']:,.3f}"
    rmse = by_label(at.metric, "RMSE")
    gap = report["metrics"]["rmse"] - min(baseline["rmse"] for baseline in report["baselines"].values())
    assert "baseline" in rmse.proto.delta_description
    assert Metric.MetricColor.Name(rmse.proto.color) == ("GREEN" if gap < 0 else "RED"), "lower RMSE is better"
    assert at.success or at.warning, "a plain verdict against the strongest baseline"
    traces = [trace for figure in figures(at) for trace in figure["data"]]
    assert any(t.get("name") == "perfect (y = x)" for t in traces), "predicted-vs-true has the y = x line"
    assert any(t["type"] == "histogram" for t in traces), "a residuals histogram"
    assert len(at.dataframe[0].value) == report["test_rows"], "every test row, worst error first"


def test_regression_try_it_scores_a_text_pair(place_run):
    at = open_page("evaluate", place_run(tasks.REGRESSION)[0])
    by_label(at.text_area, "Type a text to score").input("a great and moving film")
    by_label(at.button, "Predict").click().run()
    assert "Type both texts first." in texts(at.warning) and "Predicted score" not in metric_values(at)
    by_label(at.text_area, "Second text (critic)").input("critic 1")
    by_label(at.button, "Predict").click().run()
    assert not at.exception
    assert re.fullmatch(r"-?[\d,]+\.\d{3}", metric_values(at)["Predicted score"])


# --- multi-label -------------------------------------------------------------------------------------------------


def test_multilabel_evaluation_explains_the_threshold_and_filters_mistakes(place_run):
    wizard, report = place_run(tasks.MULTI_LABEL)
    at = open_page("evaluate", wizard)
    assert {"Micro F1", "Macro F1", "Exact match", "Rows with a wrong label set"} <= set(metric_values(at))
    assert f"at least **{report['metrics']['threshold']:.2f}**" in texts(at.info)
    per_label = at.dataframe[0].value
    assert per_label["label"].tolist() == report["labels"] and "predicted" in per_label.columns
    if report["errors"]:
        by_label(at.multiselect, "Rows involving label").select("film").run()
        shown = at.dataframe[1].value
        assert all("film" in f"{t}{SEPARATOR}{p}".split(SEPARATOR) for t, p in zip(shown["label"], shown["predicted"],
                                                                                    strict=True))


def test_multilabel_try_it_shows_every_label_against_the_threshold(place_run):
    wizard, report = place_run(tasks.MULTI_LABEL)
    at = open_page("evaluate", wizard)
    charts_before = len(at.get("plotly_chart"))
    by_label(at.text_area, "Type a text to tag").input("a great and moving film").run()
    by_label(at.button, "Tag").click().run()
    assert not at.exception
    answer = texts(at.markdown)
    assert "Labels that apply" in answer or "No label reaches the threshold" in answer
    chart = figures(at)[charts_before]
    assert set(chart["data"][0]["y"]) == set(report["labels"])
    assert chart["layout"]["shapes"][0]["x0"] == pytest.approx(report["metrics"]["threshold"])


# --- named entities ----------------------------------------------------------------------------------------------


def test_ner_evaluation_highlights_true_and_predicted_entities(place_run):
    wizard, report = place_run(tasks.NER)
    at = open_page("evaluate", wizard)
    assert {"Entity F1", "Precision", "Recall", "Sentences with mistakes"} <= set(metric_values(at))
    assert at.dataframe[0].value["label"].tolist() == [row["label"] for row in report["per_class"]]
    assert ("<mark" in html_blocks(at)) == bool(report["error_count"]), "sentences with mistakes, highlighted"
    by_label(at.checkbox, "Only sentences with mistakes").uncheck().run()
    assert f"{len(report['sentences'])} sentence(s) match" in texts(at.caption)
    first = report["sentences"][0]
    body = html_blocks(at)
    for entity in first["true"]:
        assert f"{entity['text']} <small" in body and f">{entity['type']}</small>" in body
    by_label(at.multiselect, "Entity type").select("LOC").run()
    assert not at.exception


def test_ner_try_it_marks_entities_in_typed_text(place_run):
    at = open_page("evaluate", place_run(tasks.NER)[0])
    blocks_before = len(at.get("html"))
    by_label(at.text_area, "Type a sentence").input("Ada lives in London").run()
    by_label(at.button, "Find entities").click().run()
    assert not at.exception
    found = re.search(r"Found (\d+) entit", texts(at.caption))
    assert found, "the count of entities is always said"
    if int(found.group(1)):
        assert "<mark" in at.get("html")[blocks_before].proto.body


# --- download page -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "caption", "snippet"), [
    (tasks.REGRESSION, "RMSE", ['function_to_apply="none"', '"text_pair"', '["score"]']),
    (tasks.MULTI_LABEL, "micro F1", ['pipeline("text-classification", model="model", top_k=None)']),
    (tasks.NER, "entity F1", ['pipeline("token-classification", model="model", aggregation_strategy="simple")']),
])
def test_export_page_shows_the_pipeline_of_the_task(place_run, task, caption, snippet):
    at = open_page("export", place_run(task)[0])
    assert caption in texts(at.caption)
    code = at.code[0].value
    assert all(part in code for part in snippet), code


# --- rendering helpers -------------------------------------------------------------------------------------------


def test_highlighting_escapes_user_text():
    from ui.task_views import highlight_text, highlight_tokens

    colours = {"PER": "#FDE68A"}
    tokens_html = highlight_tokens(["<b>Ada</b>", "&", "co"], [{"type": "PER", "start": 0, "end": 1}], colours)
    assert "<b>" not in tokens_html and "&lt;b&gt;Ada&lt;/b&gt; <small" in tokens_html and " &amp; co" in tokens_html
    text = "<i>Bob</i> met <script>x</script>"
    typed = highlight_text(text, [Entity("<i>Bob</i>", "PER", 0, 10, 0.9)], colours)
    assert "<script>" not in typed and "<i>" not in typed and typed.endswith(" met &lt;script&gt;x&lt;/script&gt;")


def test_reports_without_a_task_are_classification():
    from ui.task_views import report_task

    assert report_task({"metrics": {}}) == tasks.CLASSIFICATION
    assert report_task({"task": tasks.NER}) == tasks.NER
