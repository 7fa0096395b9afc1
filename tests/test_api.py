"""The Python API: `from core import train, evaluate, predict, export`, cheap to import, same run directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_core_loads_no_heavy_library():
    code = ("import sys, core; from core import train, evaluate, predict, export; "
            "print(sorted(m for m in ('torch', 'transformers', 'pandas', 'datasets') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_export_is_the_api_function_even_after_the_engine_modules_are_imported():
    import core
    import core.packaging  # noqa: F401 - the engine's export module, imported as the runner does
    from core import api, export

    assert export is api.export and core.export is api.export


@pytest.fixture(scope="module")
def api_run(tmp_path_factory, tiny_model_dir):
    from core import train
    from tests.conftest import make_sentiment_frame

    folder = tmp_path_factory.mktemp("api")
    make_sentiment_frame().to_csv(folder / "reviews.csv", index=False)
    metrics = train(train=str(folder / "reviews.csv"), output=folder / "run", model=str(tiny_model_dir), epochs=3,
                    batch_size=8, learning_rate=5e-3, max_length=32, evaluations_per_epoch=1, device="cpu")
    return folder, metrics


def test_train_writes_the_usual_run_directory(api_run):
    folder, metrics = api_run
    assert json.loads((folder / "run" / "metrics.json").read_text()) == metrics
    assert (folder / "run" / "model" / "model.safetensors").is_file()


def test_predict_and_evaluate_agree_with_the_run(api_run):
    from core import evaluate, predict

    folder, metrics = api_run
    probabilities = predict(folder / "run", "a great and moving film number 99")
    assert len(probabilities) == 1 and set(probabilities[0]) == {"negative", "positive"}
    assert sum(probabilities[0].values()) == pytest.approx(1.0)
    scores = evaluate(folder / "run", folder / "run" / "predictions.csv")
    assert scores["rows"] == 12 and scores["accuracy"] == pytest.approx(metrics["accuracy"])


def test_export_zip_and_unknown_format(api_run):
    from core import export
    from core.errors import ConfigError

    folder, _ = api_run
    assert export(folder / "run", "zip") == folder / "run" / "model.zip"
    with pytest.raises(ConfigError, match="Unknown export format"):
        export(folder / "run", "tflite")
