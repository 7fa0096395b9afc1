"""Honest metrics on held-out data for every task, with the baselines fine-tuning must beat."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from core import ner, tasks

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


def _tfidf() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)


def baseline_input(frame: pd.DataFrame) -> pd.Series:
    """The text a bag-of-words baseline reads: both texts of a pair, marked apart."""
    text = frame["text"].astype(str)
    if "text_pair" in frame.columns:
        text = text + " ||| " + frame["text_pair"].astype(str)
    return text


def baseline_metrics(train: pd.DataFrame, test: pd.DataFrame, labels: list[str], seed: int,
                     task: str = tasks.CLASSIFICATION, separator: str = ",") -> dict[str, dict]:
    """Scores of simple models on the same test rows: what fine-tuning has to beat.

    Classification: majority class and TF-IDF + logistic regression. Multi-label: TF-IDF + one-vs-rest
    logistic regression. Regression: the train mean and TF-IDF + ridge. NER: each word's most frequent
    training tag.
    """
    if task == tasks.NER:
        tagger = ner.MemorisingTagger().fit(list(train["tokens"]), [v.split() for v in train["label"]])
        return {"memorised_tags": ner.entity_metrics([v.split() for v in test["label"]],
                                                     tagger.predict(list(test["tokens"])))}
    if task == tasks.REGRESSION:
        y_train, y_test = train["label"].astype(float).to_numpy(), test["label"].astype(float).to_numpy()
        ridge = make_pipeline(_tfidf(), Ridge(alpha=1.0)).fit(baseline_input(train), y_train)
        return {"train_mean": regression_metrics(y_test, np.full_like(y_test, y_train.mean())),
                "tfidf_ridge": regression_metrics(y_test, ridge.predict(baseline_input(test)))}
    if task == tasks.MULTI_LABEL:
        y_train, y_test = multi_hot(train["label"], labels, separator), multi_hot(test["label"], labels, separator)
        keep = y_train.any(axis=0) & ~y_train.all(axis=0)  # a label on every row or none cannot be fitted
        predicted = np.zeros_like(y_test)
        if keep.any():
            model = make_pipeline(_tfidf(), OneVsRestClassifier(LogisticRegression(max_iter=2000, C=10.0)))
            predicted[:, keep] = model.fit(baseline_input(train), y_train[:, keep]).predict(baseline_input(test))
        predicted[:, y_train.all(axis=0)] = 1
        return {"tfidf_logreg": multilabel_metrics(y_test, predicted)}
    index = {label: i for i, label in enumerate(labels)}
    y_train = train["label"].map(index).to_numpy()
    y_test = test["label"].map(index).to_numpy()
    if task == tasks.IMAGE:  # no bag-of-words for pixels: the majority class is the floor
        majority = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train), 1)), y_train)
        return {"majority_class": classification_metrics(y_test, majority.predict(np.zeros((len(y_test), 1))))}
    majority = DummyClassifier(strategy="most_frequent").fit(train[["text"]], y_train)
    tfidf = make_pipeline(_tfidf(), LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    tfidf.fit(baseline_input(train), y_train)
    return {"majority_class": classification_metrics(y_test, majority.predict(test[["text"]])),
            "tfidf_logreg": classification_metrics(y_test, tfidf.predict(baseline_input(test)))}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R², Pearson and Spearman correlation (0 when either side is constant)."""
    from scipy.stats import pearsonr, spearmanr

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    constant = np.ptp(y_true) == 0 or np.ptp(y_pred) == 0
    return {"rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
            "mae": float(mean_absolute_error(y_true, y_pred)),
            "r2": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else 0.0,
            "pearson": 0.0 if constant else float(pearsonr(y_true, y_pred)[0]),
            "spearman": 0.0 if constant else float(spearmanr(y_true, y_pred)[0])}


def multi_hot(values: pd.Series, labels: list[str], separator: str) -> np.ndarray:
    """Rows of 0/1 per label from joined multi-label cells."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(values), len(labels)), dtype=int)
    for row, value in enumerate(values):
        for name in tasks.split_labels(value, separator):
            if name in index:
                out[row, index[name]] = 1
    return out


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Micro and macro F1 over labels, and exact-match (subset) accuracy."""
    return {"f1_micro": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(y_true, y_pred))}


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))


THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)


def tune_threshold(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The decision threshold on label probabilities that maximises micro F1 on validation data."""
    probs = sigmoid(logits)
    scores = [f1_score(y_true, (probs >= t).astype(int), average="micro", zero_division=0) for t in THRESHOLDS]
    return float(THRESHOLDS[int(np.argmax(scores))])


def metrics_function(task: str, labels: list[str],
                     scaler: tuple[float, float] = (0.0, 1.0)) -> Callable[[tuple], dict[str, float]]:
    """The Trainer's `compute_metrics` for a task (regression scores in the target's own units)."""

    def compute(eval_pred) -> dict[str, float]:
        logits, label_ids = eval_pred
        logits = logits[0] if isinstance(logits, tuple) else logits
        if task == tasks.REGRESSION:
            mean, std = scaler
            return regression_metrics(label_ids.reshape(-1) * std + mean, logits.reshape(-1) * std + mean)
        if task == tasks.MULTI_LABEL:
            # Rare labels rarely reach 0.5 early on: scored at 0.5, every validation would read 0 and early stopping
            # would end training before it starts. Score at the threshold the final model will use, tuned here.
            truth = label_ids.astype(int)
            threshold = tune_threshold(logits, truth)
            return {**multilabel_metrics(truth, (sigmoid(logits) >= threshold).astype(int)), "threshold": threshold}
        if task == tasks.NER:
            return ner.entity_metrics(*ner.decode_predictions(logits, label_ids, labels))
        return classification_metrics(label_ids, np.argmax(logits, axis=-1))

    return compute


def build_task_report(task: str, test: pd.DataFrame, logits: np.ndarray, labels: list[str], baselines: dict,
                      label_ids: np.ndarray | None = None, threshold: float = 0.5,
                      separator: str = ",") -> tuple[dict, pd.DataFrame]:
    """The evaluation report of any task; see the per-task builders for what each holds."""
    if task == tasks.REGRESSION:
        report, predictions = build_regression_report(test, logits.reshape(-1), baselines)
    elif task == tasks.MULTI_LABEL:
        report, predictions = build_multilabel_report(test, logits, labels, baselines, threshold, separator)
    elif task == tasks.NER:
        report, predictions = build_ner_report(test, logits, label_ids, labels, baselines)
    else:
        report, predictions = build_report(test, logits, labels, baselines)
    return {"task": task, **report}, predictions


def _input_columns(test: pd.DataFrame) -> dict:
    """What each prediction row shows as its input: the image path, or the text (and its pair)."""
    if "image" in test.columns:
        return {"image": test["image"].to_numpy()}
    return {"text": test["text"].to_numpy(), **_pair_columns(test)}


def _pair_columns(test: pd.DataFrame) -> dict:
    return {"text_pair": test["text_pair"].to_numpy()} if "text_pair" in test.columns else {}


def build_regression_report(test: pd.DataFrame, predicted: np.ndarray, baselines: dict) -> tuple[dict, pd.DataFrame]:
    """Metrics, predicted-vs-true points, residual summary and the worst errors of a regression model."""
    truth = test["label"].astype(float).to_numpy()
    predictions = pd.DataFrame({"text": test["text"].to_numpy(), **_pair_columns(test), "label": truth,
                                "predicted": predicted.round(4), "error": (predicted - truth).round(4)})
    worst = predictions.reindex(predictions["error"].abs().sort_values(ascending=False).index)
    residuals = predictions["error"]
    return {"metrics": regression_metrics(truth, predicted), "labels": [],
            "points": predictions[["label", "predicted"]].head(5000).to_dict(orient="list"),
            "residuals": {"mean": float(residuals.mean()), "std": float(residuals.std(ddof=0)),
                          "abs_p90": float(residuals.abs().quantile(0.9))},
            "errors": worst.head(MAX_ERRORS_KEPT).to_dict(orient="records"), "error_count": int(len(test)),
            "test_rows": int(len(test)), "baselines": baselines}, predictions


def build_multilabel_report(test: pd.DataFrame, logits: np.ndarray, labels: list[str], baselines: dict,
                            threshold: float, separator: str) -> tuple[dict, pd.DataFrame]:
    """Metrics at the tuned threshold, a per-label table and the rows whose predicted label set is wrong."""
    y_true = multi_hot(test["label"], labels, separator)
    probs = sigmoid(logits)
    y_pred = (probs >= threshold).astype(int)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    per_label = [{"label": name, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                  "support": int(support[i]), "predicted": int(y_pred[:, i].sum())} for i, name in enumerate(labels)]
    predicted = [separator.join(labels[i] for i in np.flatnonzero(row)) for row in y_pred]
    predictions = pd.DataFrame({"text": test["text"].to_numpy(), **_pair_columns(test),
                                "label": test["label"].to_numpy(), "predicted": predicted,
                                "confidence": np.maximum(probs, 1 - probs).min(axis=1).round(4)})
    wrong = (y_pred != y_true).any(axis=1)
    errors = predictions[wrong]
    return {"metrics": {**multilabel_metrics(y_true, y_pred), "threshold": threshold}, "labels": labels,
            "per_class": per_label, "errors": errors.head(MAX_ERRORS_KEPT).to_dict(orient="records"),
            "error_count": int(wrong.sum()), "test_rows": int(len(test)), "baselines": baselines}, predictions


def build_ner_report(test: pd.DataFrame, logits: np.ndarray, label_ids: np.ndarray, labels: list[str],
                     baselines: dict) -> tuple[dict, pd.DataFrame]:
    """Entity-level scores, a per-type table and sentences with true and predicted entities, mistakes first.

    Words cut off by the max length count as 'O' predictions, so truncation costs recall honestly.
    """
    _, pred_short = ner.decode_predictions(logits, label_ids, labels)
    true_tags = [v.split() for v in test["label"]]
    pred_tags = [ner.repair_bio(p + [ner.OUTSIDE] * (len(t) - len(p)))[0]
                 for p, t in zip(pred_short, true_tags, strict=True)]
    sentences = []
    for tokens, truth, guess in zip(test["tokens"], true_tags, pred_tags, strict=True):
        gold, found = ner.entities(tokens, truth), ner.entities(tokens, guess)
        key = {(e["type"], e["start"], e["end"]) for e in gold}
        hits = sum((e["type"], e["start"], e["end"]) in key for e in found)
        sentences.append({"tokens": list(tokens), "true": gold, "predicted": found,
                          "mistakes": len(gold) + len(found) - 2 * hits})
    predictions = pd.DataFrame({"text": test["text"].to_numpy(), "label": test["label"].to_numpy(),
                                "predicted": [" ".join(p) for p in pred_tags],
                                "mistakes": [s["mistakes"] for s in sentences]})
    ranked = sorted(sentences, key=lambda s: -s["mistakes"])
    return {"metrics": ner.entity_metrics(true_tags, pred_tags), "labels": labels,
            "entity_types": ner.entity_types(labels), "per_class": ner.per_type_table(true_tags, pred_tags),
            "sentences": ranked[:MAX_ERRORS_KEPT], "error_count": int(sum(s["mistakes"] > 0 for s in sentences)),
            "test_rows": int(len(test)), "baselines": baselines}, predictions


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
    predictions = pd.DataFrame({**_input_columns(test), "label": test["label"].to_numpy(),
                                "predicted": [labels[i] for i in y_pred], "confidence": confidence.round(4)})
    errors = predictions[predictions["label"] != predictions["predicted"]].sort_values("confidence",
                                                                                        ascending=False)
    return {"metrics": classification_metrics(y_true, y_pred), "labels": labels,
            "per_class": per_class_table(y_true, y_pred, labels), "confusion_matrix": matrix.tolist(),
            "errors": errors.head(MAX_ERRORS_KEPT).to_dict(orient="records"), "error_count": int(len(errors)),
            "test_rows": int(len(test)), "baselines": baselines}, predictions
