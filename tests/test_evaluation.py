"""core.evaluation: metrics against hand-computed values, the test report, and the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.evaluation import baseline_metrics, build_report, classification_metrics, compute_trainer_metrics, softmax
from tests.conftest import make_sentiment_frame

# Three classes, five rows. By hand:
#   class 0: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2   (support 2)
#   class 1: tp 2, fp 1, fn 0 -> P 2/3, R 1,   F1 4/5   (support 2)
#   class 2: tp 0, fp 0, fn 1 -> F1 0                    (support 1)
Y_TRUE = np.array([0, 0, 1, 1, 2])
Y_PRED = np.array([0, 1, 1, 1, 0])


def test_classification_metrics_match_hand_computed_values():
    metrics = classification_metrics(Y_TRUE, Y_PRED)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["f1_macro"] == pytest.approx((1 / 2 + 4 / 5 + 0) / 3)
    assert metrics["f1_weighted"] == pytest.approx((1 / 2 * 2 + 4 / 5 * 2 + 0 * 1) / 5)


def test_trainer_metrics_take_argmax_of_logits_or_their_first_element():
    logits = np.eye(3)[Y_PRED] * 5.0
    expected = classification_metrics(Y_TRUE, Y_PRED)
    assert compute_trainer_metrics((logits, Y_TRUE)) == expected
    assert compute_trainer_metrics(((logits, np.zeros(5)), Y_TRUE)) == expected


def test_softmax_rows_sum_to_one_even_for_huge_logits():
    probs = softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0, 0] == pytest.approx(1.0) and probs[1, 0] == pytest.approx(0.5)


def test_build_report():
    labels = ["bad", "good", "meh"]
    test = pd.DataFrame({"text": ["t0", "t1", "t2", "t3", "t4"], "label": [labels[i] for i in Y_TRUE]})
    # Row 1 is wrong with high confidence, row 4 wrong with low confidence.
    logits = np.array([[3.0, 0, 0], [0, 4.0, 0], [0, 2.0, 0], [0, 3.0, 0], [0.5, 0, 0.4]])
    report, predictions = build_report(test, logits, labels, baselines={"x": {}})
    assert np.array(report["confusion_matrix"]).shape == (3, 3)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert sum(map(sum, report["confusion_matrix"])) == len(test)
    assert report["metrics"] == classification_metrics(Y_TRUE, Y_PRED)
    assert [c["support"] for c in report["per_class"]] == [2, 2, 1]
    assert [c["label"] for c in report["per_class"]] == labels
    assert report["per_class"][1]["precision"] == pytest.approx(2 / 3)
    assert [e["text"] for e in report["errors"]] == ["t1", "t4"]  # most confident mistake first
    confidences = [e["confidence"] for e in report["errors"]]
    assert confidences == sorted(confidences, reverse=True)
    assert report["error_count"] == 2 and report["test_rows"] == 5 and report["baselines"] == {"x": {}}
    assert predictions["predicted"].tolist() == ["bad", "good", "good", "good", "bad"]
    assert predictions["text"].tolist() == test["text"].tolist()
    assert np.allclose(predictions["confidence"], softmax(logits).max(axis=1), atol=1e-4)


def test_baselines_on_separable_data():
    frame = make_sentiment_frame()
    copy = frame["text"].str.extract(r"number (\d+)$")[0].astype(int)
    train, test = frame[copy < 8], frame[copy >= 8]
    baselines = baseline_metrics(train, test, ["negative", "positive"], seed=0)
    assert set(baselines) == {"majority_class", "tfidf_logreg"}
    for metrics in baselines.values():
        assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["f1_macro"] <= 1.0
    assert baselines["majority_class"]["accuracy"] == pytest.approx(0.5)
    assert baselines["tfidf_logreg"]["accuracy"] > baselines["majority_class"]["accuracy"]
    assert baselines["tfidf_logreg"]["accuracy"] >= 0.9


def test_training_advice_reads_the_validation_curve():
    from types import SimpleNamespace

    from core.config import TrainConfig
    from core.runner import training_advice

    def state(scores):
        return SimpleNamespace(log_history=[{"eval_f1_macro": s, "step": i} for i, s in enumerate(scores)])

    cfg = TrainConfig()
    assert "still improving" in training_advice(state([0.5, 0.6, 0.7, 0.8]), cfg)[0]
    assert "came early" in training_advice(state([0.9, 0.6, 0.7, 0.7, 0.6, 0.5]), cfg)[0]
    assert training_advice(state([0.5, 0.8, 0.9, 0.85]), cfg) == []
    assert training_advice(state([0.5, 0.6]), cfg) == [], "too few points to say anything"
