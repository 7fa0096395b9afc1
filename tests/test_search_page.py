"""The search page (AppTest): controls, a finished search's trials and charts, and promotion."""

from __future__ import annotations

import pytest

from core.config import TrainConfig
from core.search import SearchConfig, run_search
from tests.conftest import make_sentiment_frame
from tests.test_pages import by_label, open_page, ready_wizard, texts

SEARCH_NAME = "tiny-search"


def test_search_page_offers_methods_budget_and_space(home):
    at = open_page("search", ready_wizard())
    assert {"Method", "Optimise"} <= {s.label for s in at.selectbox}
    space = by_label(at.multiselect, "Parameters to search")
    assert "learning_rate" in space.value and "epochs" in space.value
    assert not by_label(at.button, "Start search").disabled
    by_label(at.selectbox, "Method").set_value("grid").run()
    assert "combinations" in texts(at.caption)


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("search-home")
    data = root / "reviews.csv"
    make_sentiment_frame().to_csv(data, index=False)
    cfg = TrainConfig(train=str(data), model=str(tiny_model_dir), epochs=1, batch_size=8, learning_rate=5e-3,
                      max_length=32, evaluations_per_epoch=1, device="cpu", early_stopping_patience=0)
    space = {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}}
    run_search(cfg, SearchConfig(method="random", trials=4, metric="accuracy", space=space),
               root / "searches" / SEARCH_NAME)
    return root, data


@pytest.mark.slow
def test_finished_search_shows_trials_importance_and_promotion(finished_search, monkeypatch):
    root, data = finished_search
    monkeypatch.setenv("FINETUNE_HOME", str(root))
    at = open_page("search", ready_wizard(train=data, active_search=SEARCH_NAME))
    assert "Completed" in texts(at.markdown)
    assert len(at.dataframe) >= 1 and len(at.dataframe[0].value) == 4
    assert "Best so far: trial" in texts(at.success)
    assert by_label(at.button, "Promote best trial")


@pytest.mark.slow
def test_stopped_search_offers_resume(finished_search, monkeypatch):
    import shutil

    from core.rundir import RunDir

    root, data = finished_search
    copy = root / "searches" / "stopped-search"
    shutil.copytree(root / "searches" / SEARCH_NAME, copy, dirs_exist_ok=True)
    RunDir(copy).write_status("stopped")
    monkeypatch.setenv("FINETUNE_HOME", str(root))
    at = open_page("search", ready_wizard(train=data, active_search="stopped-search"))
    assert "Stopped" in texts(at.markdown)
    assert by_label(at.button, "Resume search")


@pytest.mark.slow
def test_runs_page_compares_runs_with_search_trials(finished_search, monkeypatch):
    from core.rundir import RunDir, write_json_atomic

    root, data = finished_search
    run = RunDir(root / "runs" / "plain-run")
    run.create()
    TrainConfig(train=str(data), epochs=7).save(run.recipe)
    run.write_status("completed")
    write_json_atomic(run.metrics, {"accuracy": 0.9, "f1_macro": 0.9})
    monkeypatch.setenv("FINETUNE_HOME", str(root))
    at = open_page("runs", ready_wizard(train=data))
    compare = by_label(at.multiselect, "Runs and search trials to compare")
    trial = f"{SEARCH_NAME} / trial-000"
    assert trial in compare.options
    compare.set_value(["plain-run", trial]).run()
    assert not at.exception
    table = at.dataframe[1].value
    assert list(table["run"]) == ["plain-run", trial]
    assert table["validation macro F1"].notna().tolist() == [False, True]  # the task's headline metric
    assert "What differs" in texts(at.markdown)
    assert "epochs" in at.dataframe[2].value["setting"].tolist()


def test_search_space_ranges_and_choices_are_editable(home):
    at = open_page("search", ready_wizard())
    epochs = by_label(at.multiselect, "Epochs")
    assert epochs.value == [1, 2, 3]
    epochs.set_value([2, 4]).run()
    decay = by_label(at.slider, "Weight decay")
    assert decay.value == (0.0, 0.1)
    decay.set_value((0.01, 0.2)).run()
    by_label(at.selectbox, "Method").set_value("grid").run()
    assert not at.exception
    # lr 3 points x epochs 2 x batch 2 x weight decay 2 x warmup 2 x dropout 2 = 96
    assert "96 combinations" in texts(at.caption)
