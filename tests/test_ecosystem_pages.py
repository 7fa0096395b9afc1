"""Export and Runs pages under AppTest: ONNX figures, Hub push (offline and mocked online), multi-GPU commands,
tracking links, and the tracking options in the settings."""
# ruff: noqa: F811 - the fixtures below are imported from tests.test_pages and used as arguments

from __future__ import annotations

import json

import pytest

import ui.ecosystem
from tests.test_pages import (  # noqa: F401 - fixtures
    RUN_NAME,
    by_label,
    finished,
    open_page,
    ready_wizard,
    saved_wizard,
    texts,
    trained_run,
)

TOKEN = "hf_PageSecretToken987"
REPORT = {"test_rows": 12, "pytorch": {"metrics": {"accuracy": 0.9, "f1_macro": 0.89}},
          "onnx": {"file": "model/onnx/model.onnx", "size_mb": 91.6, "max_abs_logit_diff": 7.5e-08,
                   "prediction_agreement": 1.0, "metrics": {"accuracy": 0.9, "f1_macro": 0.89}},
          "seconds": 20.0}


@pytest.fixture(autouse=True)
def fresh_hub_cache():
    ui.ecosystem.cached_hub_status.clear()


def test_export_page_offline_disables_the_hub_and_says_why(finished):
    at = open_page("export", finished)
    push = by_label(at.button, "Push to the Hub")
    assert push.disabled and by_label(at.text_input, "Hub write token").disabled
    assert "HF_HUB_OFFLINE" in texts(at.caption)
    assert not by_label(at.button, "Export to ONNX and check it").disabled


def test_export_page_offers_multi_gpu_and_multi_node_commands(finished, home):
    at = open_page("export", finished)
    commands = [c.value for c in at.code]
    recipe = str(home / "runs" / RUN_NAME / "recipe.json")
    assert any(c.startswith("torchrun --nproc_per_node 8 -m core train --config " + recipe) for c in commands)
    assert any("--nnodes 2" in c and "$MAIN_HOST" in c for c in commands)
    assert any(c.startswith("accelerate launch --multi_gpu") for c in commands)
    assert any(c.startswith("python -m core export-onnx ") for c in commands)


def test_onnx_button_runs_the_export_and_shows_the_parity_figures(finished, home, monkeypatch):
    calls = []

    def fake_export(run_dir, quantized):
        calls.append((str(run_dir), quantized))
        (home / "runs" / RUN_NAME / "onnx_report.json").write_text(json.dumps(REPORT))
        return True, ""

    monkeypatch.setattr(ui.ecosystem, "run_export_process", fake_export)
    at = open_page("export", finished)
    by_label(at.checkbox, "Also an int8 variant (about 4× smaller, usually a little less accurate)").check().run()
    by_label(at.button, "Export to ONNX and check it").click().run()
    assert not at.exception
    assert calls == [(str(home / "runs" / RUN_NAME), True)]
    table = at.dataframe[0].value
    assert table["format"].tolist() == ["PyTorch", "ONNX"]
    assert "7.5e-08" in texts(at.caption)


def test_failed_onnx_export_shows_the_error_line(finished, monkeypatch):
    monkeypatch.setattr(ui.ecosystem, "run_export_process", lambda run_dir, q: (False, "Configuration error: boom"))
    at = open_page("export", finished)
    by_label(at.button, "Export to ONNX and check it").click().run()
    assert "boom" in texts(at.error)


def test_online_push_uses_the_token_once_and_saves_it_nowhere(finished, home, monkeypatch):
    pushed = []

    def fake_push(run_dir, repo_id, token, private=True):
        pushed.append((repo_id, token, private))
        return {"repo_id": repo_id, "url": f"https://huggingface.co/{repo_id}"}

    monkeypatch.setattr(ui.ecosystem, "cached_hub_status", lambda: (True, ""))
    monkeypatch.setattr(ui.ecosystem, "push_model", fake_push)
    at = open_page("export", finished)
    by_label(at.text_input, "Repository").input("alice/reviews").run()
    by_label(at.text_input, "Hub write token").input(TOKEN).run()
    by_label(at.button, "Push to the Hub").click().run()
    assert not at.exception
    assert pushed == [("alice/reviews", TOKEN, True)]
    assert "alice/reviews" in texts(at.success)
    assert not [p for p in home.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert TOKEN not in json.dumps(saved_wizard(home))


def test_runs_page_points_to_mlflow_and_tensorboard(finished, home):
    run = home / "runs" / RUN_NAME
    (run / "tracking.json").write_text(json.dumps({
        "mlflow": {"tracking_uri": "http://mlflow.internal:5000", "experiment": "finetune-studio", "run_id": "abc123",
                   "ui_command": "mlflow ui --backend-store-uri http://mlflow.internal:5000"},
        "tensorboard": {"logdir": str(run / "tensorboard"), "command": f"tensorboard --logdir {run / 'tensorboard'}"}}))
    at = open_page("runs", finished)
    shown = texts(at.markdown)
    assert "abc123" in shown and "(http://mlflow.internal:5000)" in shown
    assert any(c.value.startswith("tensorboard --logdir ") for c in at.code)


def test_runs_page_says_when_a_run_was_not_tracked(finished):
    at = open_page("runs", finished)
    assert "was not tracked" in texts(at.caption)


def test_settings_offer_the_tracking_options(home):
    at = open_page("hyperparameters", ready_wizard())
    by_label(at.checkbox, "Mlflow").check().run()
    assert not at.exception
    assert saved_wizard(home)["config"]["mlflow"] is True
    assert by_label(at.checkbox, "Tensorboard").value is False
