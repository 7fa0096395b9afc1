"""Benchmark: default-settings runs on the shared text datasets, timed, with pipeline reproduction checks.

Usage: python bench/text_classification.py [--datasets sst2 trec6 banking77] [--strategy full frozen]
Prints one row per run: test accuracy/macro-F1, the accuracy re-measured through `transformers.pipeline`
from the exported folder, the baselines, wall time and peak memory of the training process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
DATASETS = {
    "sst2": {"files": ["--train", "train.csv", "--validation", "validation.csv", "--test", "test.csv"],
             "columns": ["--text-column", "text", "--label-column", "label_name"],
             "reference": "Kim CNN 88.1; DistilBERT 91.3 (dev); TF-IDF+LR 81.3"},
    "trec6": {"files": ["--train", "train.csv", "--test", "test.csv"],
              "columns": ["--text-column", "text", "--label-column", "label"],
              "reference": "DistilBERT 97.0; TF-IDF+LR 88.2"},
    "banking77": {"files": ["--train", "train.csv", "--test", "test.csv"],
                  "columns": ["--text-column", "text", "--label-column", "label"],
                  "reference": "BERT-base 93.1; TF-IDF+LR 89.4"},
}


def run_one(name: str, strategy: str, out_root: Path, extra: list[str]) -> dict:
    """Train through the CLI as a user would, then re-measure accuracy through transformers.pipeline."""
    spec = DATASETS[name]
    files = [arg if arg.startswith("--") else str(SHARED / name / arg) for arg in spec["files"]]
    output = out_root / f"{name}-{strategy}-{int(time.time())}"
    command = [sys.executable, "-m", "core", "train", *files, *spec["columns"], "--strategy", strategy,
               "--output", str(output), *extra]
    start = time.time()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    metrics = json.loads((output / "metrics.json").read_text())
    report = json.loads((output / "report.json").read_text())
    return {"dataset": name, "strategy": strategy, "accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"],
            "pipeline_accuracy": pipeline_accuracy(output),
            "tfidf_accuracy": report["baselines"]["tfidf_logreg"]["accuracy"],
            "wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb), "reference": spec["reference"],
            "run": str(output)}


def pipeline_accuracy(output: Path) -> float:
    """Accuracy of the exported model loaded with transformers.pipeline on the run's test rows."""
    from transformers import pipeline

    test = pd.read_csv(output / "predictions.csv")
    classify = pipeline("text-classification", model=str(output / "model"), device="cpu")
    predicted = [row["label"] for row in classify(test["text"].astype(str).tolist(), batch_size=64, truncation=True)]
    return float((pd.Series(predicted) == test["label"].astype(str)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["sst2"], choices=list(DATASETS))
    parser.add_argument("--strategy", nargs="+", default=["full"])
    parser.add_argument("--output", default=str(REPO / "bench" / "results"))
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="Further flags for `python -m core train`.")
    args = parser.parse_args()
    out_root = Path(args.output)
    out_root.mkdir(parents=True, exist_ok=True)
    rows = [run_one(name, strategy, out_root, args.extra) for name in args.datasets for strategy in args.strategy]
    table = pd.DataFrame(rows)
    print(table.drop(columns=["run"]).to_string(index=False))
    (out_root / f"summary-{int(time.time())}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
