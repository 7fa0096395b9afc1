"""core.search: the search space, trials as validation-only runs, shared studies and promotion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from core.config import TrainConfig
from core.rundir import RunDir
from core.runner import train_run
from core.search import SearchConfig, default_space, grid_of, grid_size, open_study, promoted_config, run_search

REPO = Path(__file__).resolve().parents[1]


def tiny_recipe(train_csv, model_dir) -> TrainConfig:
    return TrainConfig(train=str(train_csv), model=str(model_dir), epochs=1, batch_size=8, learning_rate=5e-3,
                       max_length=32, evaluations_per_epoch=1, device="cpu", early_stopping_patience=0)


def small_space() -> dict:
    return {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}, "epochs": {"choices": [1, 2]}}


def test_default_space_fits_the_strategy():
    full, lora, frozen = (default_space(TrainConfig(strategy=s)) for s in ("full", "lora", "frozen"))
    assert full["learning_rate"]["log"] and full["learning_rate"]["low"] < 1e-4 < full["learning_rate"]["high"]
    assert "lora_r" in lora and "lora_r" not in full
    assert "dropout" not in frozen and "dropout" in full
    assert frozen["learning_rate"]["low"] > full["learning_rate"]["high"] / 5, "a head alone needs larger steps"


def test_grid_covers_choices_and_range_ends():
    grid = grid_of(small_space())
    assert grid["epochs"] == [1, 2]
    assert grid["learning_rate"][0] == pytest.approx(1e-3) and grid["learning_rate"][-1] == pytest.approx(1e-2)
    assert grid_size(small_space()) == 6


@pytest.mark.slow
def test_search_runs_trials_on_validation_only_and_promotes_the_best(sentiment_csv, tiny_model_dir, tmp_path):
    out = tmp_path / "search"
    search = SearchConfig(method="random", trials=3, metric="accuracy", space=small_space())
    best = run_search(tiny_recipe(sentiment_csv, tiny_model_dir), search, out)
    study = open_study(search, out)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 3
    assert best["value"] == max(t.value for t in finished if t.value is not None)
    trial_dirs = sorted((out / "trials").iterdir())
    assert len(trial_dirs) == 3
    for folder in trial_dirs:
        metrics = json.loads((folder / "metrics.json").read_text())
        assert "validation_accuracy" in metrics and "accuracy" not in metrics, "trials never touch the test split"
        assert not (folder / "model").exists() and not (folder / "checkpoints").exists()
    assert RunDir(out).read_status()["state"] == "completed"

    cfg = promoted_config(out)
    assert cfg.learning_rate == pytest.approx(best["params"]["learning_rate"])
    assert cfg.epochs == best["params"]["epochs"]
    metrics = train_run(cfg, tmp_path / "final")
    assert 0.0 <= metrics["accuracy"] <= 1.0 and (tmp_path / "final" / "model" / "config.json").exists()


def test_promote_without_a_completed_trial_is_a_clear_error(tmp_path):
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="holds no search"):
        promoted_config(tmp_path)


def run_two_workers(recipe_csv, model_dir, tmp_path, out, storage: str | None = None,
                    study: str | None = None) -> optuna.Study:
    """Two `python -m core search` processes on one study, started together; returns the study."""
    extra = ["--storage", storage, "--study", study] if storage else []
    recipe = tmp_path / "recipe.json"
    tiny_recipe(recipe_csv, model_dir).save(recipe)
    command = [sys.executable, "-m", "core", "search", "--config", str(recipe), "--output", str(out),
               "--trials", "4", "--method", "random", "--metric", "accuracy", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    workers = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err.decode()[-2000:]
    return open_study(SearchConfig(storage=storage, study=study, metric="accuracy"), out)


def assert_no_duplicates(study: optuna.Study) -> None:
    numbers = [t.number for t in study.trials if t.state.is_finished()]
    assert len(numbers) >= 4 and len(numbers) == len(set(numbers))


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study_without_duplicates(sentiment_csv, tiny_model_dir, tmp_path):
    out = tmp_path / "shared-search"
    study = run_two_workers(sentiment_csv, tiny_model_dir, tmp_path, out)
    assert_no_duplicates(study)
    assert len(list((out / "trials").iterdir())) == len(study.trials)


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study_without_duplicates(sentiment_csv, tiny_model_dir, tmp_path):
    url = os.environ.get("FINETUNE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide FINETUNE_TEST_POSTGRES_URL (see scripts/start_postgres.sh)")
        pytest.skip("no PostgreSQL server configured: run scripts/start_postgres.sh and export its URL")
    out = tmp_path / "pg-search"
    study_name = f"shared-{os.getpid()}-{tmp_path.name}"
    study = run_two_workers(sentiment_csv, tiny_model_dir, tmp_path, out, storage=url, study=study_name)
    assert study.study_name == study_name
    assert_no_duplicates(study)
    assert not (out / "study.db").exists(), "the shared server was used, not a local file"


def test_unreachable_storage_is_a_clear_error_without_the_password(tmp_path):
    from core.errors import ConfigError

    search = SearchConfig(storage="postgresql+psycopg://user:s3cret@127.0.0.1:1/nodb")
    with pytest.raises(ConfigError) as caught:
        open_study(search, tmp_path)
    assert "cannot be used" in str(caught.value) and "s3cret" not in str(caught.value)
