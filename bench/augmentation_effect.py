"""Benchmark: does on-the-fly text augmentation help with little data? SST-2 with 200 training rows.

Usage: python bench/augmentation_effect.py [--rows 200] [--seeds 0 1 2] [--epochs 5] [--out DIR] [--proxy]

For each seed, trains the bundled MiniLM twice through the CLI on the same seeded 200-row sample of SST-2's
training split — without augmentation, and with `--augment-copies 1` of EDA operations plus synonyms — and
scores both on the first 872 rows of SST-2's test split (validation: SST-2's validation split). Prints
accuracy and macro F1 per run and the mean difference; it does not decide anything, the figures do.

`--proxy` replaces the fine-tuned transformer by TF-IDF + logistic regression trained on the same rows plus
`epochs` augmented variants per row (what on-the-fly augmentation shows a model over that many epochs):
seconds instead of hours on a shared CPU, but a bag-of-words model, so only an indication.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SST2 = REPO.parent / "shared" / "datasets" / "sst2"
AUGMENT = ["random_swap", "random_deletion", "random_insertion", "synonym_replacement", "character_noise"]


def run(train: Path, validation: Path, test: Path, out: Path, seed: int, epochs: float, augment: bool) -> dict:
    """One CLI training run; returns its test metrics and wall time."""
    cmd = [sys.executable, "-m", "core", "train", "--train", str(train), "--validation", str(validation),
           "--test", str(test), "--text-column", "text", "--label-column", "label_name", "--output", str(out),
           "--seed", str(seed), "--epochs", str(epochs), "--evaluations-per-epoch", "1", "--max-length", "64",
           "--early-stopping-patience", "0", "--device", "cpu"]
    if augment:
        cmd += ["--augment", *AUGMENT, "--augment-copies", "1", "--augment-strength", "0.1"]
    started = time.time()
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    metrics = json.loads((out / "metrics.json").read_text())
    return {"accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"], "seconds": round(time.time() - started)}


def proxy_run(train: pd.DataFrame, test: pd.DataFrame, seed: int, epochs: int, augment: bool) -> dict:
    """TF-IDF + logistic regression on the rows (plus `epochs` seeded variants of each when augmenting)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from core.augmentation import Resources, augment_text, build_vocabulary, row_rng
    from core.synonyms import load_synonyms

    texts, labels = train["text"].tolist(), train["label_name"].tolist()
    if augment:
        resources = Resources(build_vocabulary(train["text"]), load_synonyms("all-minilm-l6-v2"))
        for epoch in range(epochs):
            texts += [augment_text(t, AUGMENT, row_rng(seed, epoch, i, 1), resources, 0.1)
                      for i, t in enumerate(train["text"])]
            labels += train["label_name"].tolist()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    model = LogisticRegression(max_iter=1000, C=10).fit(vectorizer.fit_transform(texts), labels)
    predicted = model.predict(vectorizer.transform(test["text"]))
    return {"accuracy": round(accuracy_score(test["label_name"], predicted), 4),
            "f1_macro": round(f1_score(test["label_name"], predicted, average="macro"), 4), "seconds": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="augment-bench-")))
    parser.add_argument("--proxy", action="store_true", help="TF-IDF + logistic regression instead of fine-tuning.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    test = args.out / "test.csv"
    pd.read_csv(SST2 / "test.csv").head(872).to_csv(test, index=False)
    rows = []
    for seed in args.seeds:
        train = args.out / f"train-{seed}.csv"
        pd.read_csv(SST2 / "train.csv").sample(args.rows, random_state=seed).to_csv(train, index=False)
        for augment in (False, True):
            name = f"seed{seed}-{'augmented' if augment else 'plain'}"
            if args.proxy:
                result = proxy_run(pd.read_csv(train), pd.read_csv(test), seed, int(args.epochs), augment)
            else:
                result = run(train, SST2 / "validation.csv", test, args.out / name, seed, args.epochs, augment)
            rows.append({"seed": seed, "augmented": augment, **result})
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    means = table.groupby("augmented")[["accuracy", "f1_macro"]].mean()
    print(means.to_string())
    gain = means.loc[True, "accuracy"] - means.loc[False, "accuracy"]
    print(f"mean accuracy difference (augmented - plain): {gain:+.4f}")


if __name__ == "__main__":
    main()
