"""Honest classification metrics on held-out data, with the baselines fine-tuning must beat."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.pipeline import make_pipeline

MAX_ERRORS_KEPT = 500


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro/weighted F1 (sklearn), the headline figures of every classifier."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0))}


def compute_trainer_metrics(eval_pred) -> dict[str, float]:
    """`compute_metrics` for the Trainer: logits → class ids → metrics."""
    logits, labels = eval_pred
    logits = logits[0] if isinstance(logits, tuple) else logits
    return classification_metrics(labels, np.argmax(logits, axis=-1))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> list[dict]:
    """Precision, recall, F1 and support for every class."""
    ids = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    return [{"label": labels[i], "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
             "support": int(s[i])} for i in ids]


def baseline_metrics(train: pd.DataFrame, test: pd.DataFrame, labels: list[str], seed: int) -> dict[str, dict]:
    """Majority-class and TF-IDF + logistic-regression scores on the same test rows."""
    index = {label: i for i, label in enumerate(labels)}
    y_train = train["label"].map(index).to_numpy()
    y_test = test["label"].map(index).to_numpy()
    majority = DummyClassifier(strategy="most_frequent").fit(train[["text"]], y_train)
    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                          LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    tfidf.fit(train["text"], y_train)
    return {"majority_class": classification_metrics(y_test, majority.predict(test[["text"]])),
            "tfidf_logreg": classification_metrics(y_test, tfidf.predict(test["text"]))}


def build_report(test: pd.DataFrame, logits: np.ndarray, labels: list[str],
                 baselines: dict) -> tuple[dict, pd.DataFrame]:
    """The full evaluation report of one model on the test split.

    Args:
        test: Test rows with `text` and `label`.
        logits: Model outputs for those rows, shape (rows, classes).
        labels: Class names in id order.
        baselines: From `baseline_metrics`.

    Returns:
        A JSON-ready report (metrics, per-class table, confusion matrix, errors, baselines) and a frame
        with every test row's prediction and confidence.
    """
    index = {label: i for i, label in enumerate(labels)}
    y_true = test["label"].map(index).to_numpy()
    probs = softmax(logits)
    y_pred = probs.argmax(axis=-1)
    confidence = probs.max(axis=-1)
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(labels))))
    predictions = pd.DataFrame({"text": test["text"].to_numpy(), "label": test["label"].to_numpy(),
                                "predicted": [labels[i] for i in y_pred], "confidence": confidence.round(4)})
    errors = predictions[predictions["label"] != predictions["predicted"]].sort_values("confidence",
                                                                                        ascending=False)
    return {"metrics": classification_metrics(y_true, y_pred), "labels": labels,
            "per_class": per_class_table(y_true, y_pred, labels), "confusion_matrix": matrix.tolist(),
            "errors": errors.head(MAX_ERRORS_KEPT).to_dict(orient="records"), "error_count": int(len(errors)),
            "test_rows": int(len(test)), "baselines": baselines}, predictions
