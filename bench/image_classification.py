"""Benchmark: image classification through the CLI on the shared image datasets, full, LoRA and frozen MobileNetV2.

Usage: python bench/image_classification.py [--runs hymenoptera-full hymenoptera-lora hymenoptera-frozen cifar10-frozen
                                                    cifar10-full]
Prints one row per run: held-out accuracy and macro-F1, the accuracy re-measured through
`transformers.pipeline("image-classification")` from the exported folder, the majority-class baseline, wall time
and the peak RSS of the training process. Hymenoptera has no test split: its `val` folder is both the validation
and the reported split, as in the PyTorch transfer-learning tutorial whose ResNet-18 reaches 0.93-0.95 there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
HYMENOPTERA = SHARED / "hymenoptera_256"
CIFAR = SHARED / "cifar10_small"
# Per run: data flags and the recipe; epochs kept small for 2 CPU cores.
RUNS = {
    "hymenoptera-full": [
        "--train", str(HYMENOPTERA / "train"), "--validation", str(HYMENOPTERA / "val"),
        "--test", str(HYMENOPTERA / "val"), "--strategy", "full", "--epochs", "4", "--learning-rate", "3e-4",
        "--batch-size", "16", "--image-augment", "flip", "crop", "--augment-strength", "0.3"],
    "hymenoptera-lora": [
        "--train", str(HYMENOPTERA / "train"), "--validation", str(HYMENOPTERA / "val"),
        "--test", str(HYMENOPTERA / "val"), "--strategy", "lora", "--epochs", "4", "--learning-rate", "1e-3",
        "--batch-size", "16", "--image-augment", "flip", "crop", "--augment-strength", "0.3"],
    "hymenoptera-frozen": [
        "--train", str(HYMENOPTERA / "train"), "--validation", str(HYMENOPTERA / "val"),
        "--test", str(HYMENOPTERA / "val"), "--strategy", "frozen", "--epochs", "15", "--batch-size", "16"],
    # CIFAR images are 32 px: the model sees them upscaled to 128 px, a third of the cost of 224 on a CPU.
    "cifar10-frozen": [
        "--train", str(CIFAR / "train"), "--test", str(CIFAR / "test"), "--strategy", "frozen", "--epochs", "15",
        "--image-size", "128"],
    "cifar10-full": [
        "--train", str(CIFAR / "train"), "--test", str(CIFAR / "test"), "--strategy", "full", "--epochs", "5",
        "--learning-rate", "3e-4", "--image-augment", "flip", "crop", "--augment-strength", "0.3",
        "--evaluations-per-epoch", "1", "--image-size", "128"],
}
REFERENCES = {"hymenoptera": "ResNet-18 tutorial: full 0.9346, frozen 0.9477 (best val)",
              "cifar10": "full CIFAR-10 ViT-B/16: 0.95-0.97 (50k images; none for this 2k subset)"}


def run_one(name: str, out_root: Path, home: Path) -> dict:
    """Train through the CLI as a user would; time it and read the peak RSS of that one process."""
    output = out_root / f"{name}-{int(time.time())}"
    command = [sys.executable, "-m", "core", "train", "--task", "image-classification",
               "--model", "mobilenet-v2-imagenet", "--output", str(output), *RUNS[name]]
    start = time.time()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, env={**os.environ,
                               "FINETUNE_HOME": str(home)})
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.time() - start
    if status != 0:
        raise SystemExit(f"{name} failed; see {output}/status.json")
    metrics = json.loads((output / "metrics.json").read_text())
    report = json.loads((output / "report.json").read_text())
    return {"run": name, "accuracy": round(metrics["accuracy"], 4), "f1_macro": round(metrics["f1_macro"], 4),
            "pipeline_accuracy": round(pipeline_accuracy(output), 4),
            "majority": round(report["baselines"]["majority_class"]["accuracy"], 4),
            "test_rows": metrics["test_rows"], "wall_s": round(wall, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "reference": REFERENCES[name.split("-")[0]],
            "output": str(output)}


def pipeline_accuracy(output: Path) -> float:
    """Accuracy of the exported model loaded with transformers.pipeline on the run's test images."""
    from transformers import pipeline

    test = pd.read_csv(output / "predictions.csv")
    classify = pipeline("image-classification", model=str(output / "model"), device="cpu")
    predicted = [rows[0]["label"] for rows in classify(test["image"].tolist(), batch_size=32, top_k=1)]
    return float((pd.Series(predicted) == test["label"].astype(str)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--output", default=str(REPO / "bench" / "results"))
    parser.add_argument("--home", default=os.environ.get("FINETUNE_HOME", str(Path.home() / ".finetune-studio")),
                        help="Workspace holding the converted model and the feature cache.")
    args = parser.parse_args()
    out_root = Path(args.output)
    out_root.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.runs:
        rows.append(run_one(name, out_root, Path(args.home)))
        print(json.dumps(rows[-1]), flush=True)
    print(pd.DataFrame(rows).drop(columns=["output"]).to_string(index=False))
    (out_root / f"images-{int(time.time())}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
