"""core.estimate: the per-machine calibration cache (keys, reuse, invalidation) and how estimates scale."""

from __future__ import annotations

import json

import pytest
import torch

from core import estimate
from core.config import TrainConfig
from core.modeling import load_classifier
from core.training import evaluation_count


@pytest.fixture
def tiny_model(tiny_model_dir):
    cfg = TrainConfig(train="x.csv", model=str(tiny_model_dir), device="cpu")
    return load_classifier(cfg, ["negative", "positive"])


@pytest.fixture
def timings(monkeypatch):
    """Counts the timed calibrations while still running them for real."""
    calls = []
    real = estimate.time_steps

    def counted(model, rows, length, device, repeats=2):
        calls.append(length)
        return real(model, rows, length, device, repeats=1)

    monkeypatch.setattr(estimate, "time_steps", counted)
    return calls


def test_calibration_is_cached_per_machine_and_reused(home, tiny_model, tiny_model_dir, timings):
    first = estimate.calibrate(tiny_model, str(tiny_model_dir), 32, "full", "cpu")
    assert timings == [16, 32]
    again = estimate.calibrate(tiny_model, str(tiny_model_dir), 32, "full", "cpu")
    assert timings == [16, 32] and again == first
    stored = json.loads((home / "cache" / "calibration.json").read_text())
    assert list(stored) == [first.key] and stored[first.key]["lengths"] == [16, 32]
    assert first.key == estimate.calibration_key(str(tiny_model_dir), 32, "full", "cpu")
    assert all(cost > 0 for cost in (*first.train_row_s, *first.forward_row_s))


def test_a_new_max_length_model_or_strategy_calibrates_again(home, tiny_model, tiny_model_dir, timings):
    keys = {estimate.calibrate(tiny_model, str(tiny_model_dir), 32, "full", "cpu").key,
            estimate.calibrate(tiny_model, str(tiny_model_dir), 64, "full", "cpu").key,
            estimate.calibrate(tiny_model, "another-model", 64, "full", "cpu").key,
            estimate.calibrate(tiny_model, "another-model", 64, "frozen", "cpu").key}
    assert len(keys) == 4 and timings == [16, 32, 16, 64, 16, 64, 16, 64]
    assert set(json.loads((home / "cache" / "calibration.json").read_text())) == keys


def test_the_key_changes_with_the_machine(monkeypatch):
    before = estimate.calibration_key("m", 128, "full", "cpu")
    monkeypatch.setattr(estimate, "machine_fingerprint", lambda device: "another machine")
    assert estimate.calibration_key("m", 128, "full", "cpu") != before


def test_calibrating_changes_neither_the_weights_nor_the_random_stream(home, tiny_model, tiny_model_dir):
    weights = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    estimate.calibrate(tiny_model, str(tiny_model_dir), 32, "full", "cpu")
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(v, weights[k]) for k, v in tiny_model.state_dict().items())
    assert all(p.grad is None for p in tiny_model.parameters()) and tiny_model.training is False


CALIBRATION = estimate.Calibration(key="k", lengths=(16, 128), train_row_s=(0.01, 0.05), forward_row_s=(0.003, 0.02),
                                   measured_at=0.0)


def test_costs_interpolate_between_the_measured_lengths():
    assert CALIBRATION.train_seconds(16) == pytest.approx(0.01)
    assert CALIBRATION.train_seconds(72) == pytest.approx(0.03)
    assert CALIBRATION.forward_seconds(128) == pytest.approx(0.02)
    assert CALIBRATION.train_seconds(1) > 0


def test_estimate_scales_with_rows_epochs_and_evaluations():
    shape = estimate.RunShape(train_rows=1000, validation_rows=100, test_rows=100, tokens=16, epochs=1, evaluations=2)
    base = estimate.estimate_seconds(CALIBRATION, shape)
    assert base == pytest.approx(estimate.STARTUP_S + 1000 * 0.01 + 300 * 0.003)
    longer = estimate.estimate_seconds(CALIBRATION, estimate.RunShape(**{**shape.__dict__, "epochs": 3}))
    assert longer - base == pytest.approx(2 * 1000 * 0.01)


def test_cached_features_make_extra_epochs_free():
    shape = dict(train_rows=1000, validation_rows=100, test_rows=100, tokens=16, evaluations=6, cached_features=True)
    one, five = (estimate.estimate_seconds(CALIBRATION, estimate.RunShape(epochs=e, **shape)) for e in (1, 5))
    assert one == five == pytest.approx(estimate.STARTUP_S + 1200 * 0.003)


def test_compare_reports_actual_over_estimate():
    assert estimate.compare(100.0, 120.0) == {"estimated_s": 100.0, "actual_s": 120.0, "actual_over_estimate": 1.2}


@pytest.mark.parametrize(("rows", "epochs", "per_epoch", "validation", "expected"), [
    (2000, 1, 2, 0, 2),     # 63 steps, every 32: at 32 and the forced last one at 63 (not 31, 62 and 63)
    (2000, 3, 2, 0, 6),     # 189 steps: 32, 64, ..., 160 and 189
    (96, 3, 1, 0, 3),       # 12 steps per epoch: at 12, 24, 36, the last one already on the interval
    (96, 0.5, 1, 0, 1),     # 6 steps: only the forced last one
    (2000, 1, 2, 872, 1),   # SST-2's 872 validation rows cost 15% of 1,745 training rows: one pass per epoch
    (2000, 3, 2, 872, 3),
    (6000, 1, 2, 872, 2),   # enough training rows to afford the two passes asked for
    (100, 2, 2, 5000, 2),   # a huge validation set still gets one pass per epoch
])
def test_evaluation_count(rows, epochs, per_epoch, validation, expected):
    cfg = TrainConfig(train="x.csv", batch_size=32 if rows > 100 else 8, epochs=epochs,
                      evaluations_per_epoch=per_epoch)
    assert evaluation_count(rows, cfg, validation) == expected


def test_training_flops_per_token_counts_layers_and_attention(tiny_model):
    config = tiny_model.config  # 2 layers, width 32, MLP 64
    assert estimate.training_flops_per_token(config, 0) == 6 * 2 * (4 * 32 * 32 + 2 * 32 * 64)
    attention = estimate.training_flops_per_token(config, 10) - estimate.training_flops_per_token(config, 0)
    assert attention == 12 * 2 * 32 * 10


def test_the_settings_page_estimate_is_rough_until_this_machine_has_timed_the_model(home, tiny_model_dir,
                                                                                     sentiment_csv, timings):
    from core.preparation import prepare_data

    cfg = TrainConfig(train=str(sentiment_csv), model=str(tiny_model_dir), max_length=32, device="cpu", epochs=2)
    data = prepare_data(cfg)
    rough = estimate.estimate_recipe(cfg, data)
    assert rough["calibrated"] is False and rough["calibration"] == "rough" and timings == []
    timed = estimate.estimate_recipe(cfg, data, calibrate_now=True)
    assert timed["calibrated"] is True and timings == [16, 32]
    again = estimate.estimate_recipe(cfg, data)
    assert again == timed and timings == [16, 32]
    assert again["evaluations"] == 4 and 5 < again["tokens_per_row"] < 32  # 96 rows in batches of 8, 2 epochs
