"""Benchmark: LoRA instruction tuning of the bundled SmolLM2-135M-Instruct on the Alpaca demo, through the CLI.

Usage: python bench/instruction_tuning.py [--rows 64] [--test-rows 24] [--max-length 160] [--out DIR] [-- flags]

Trains on a seeded subset of `alpaca_en_demo/train.jsonl` (1 epoch, LoRA r=8 on the attention and MLP projections,
learning rate 1e-3; sized for two CPU cores shared with other work: 240 rows at 256 tokens is about 45
CPU-minutes) and scores the head of the held-out `test.jsonl`: answer-token loss and perplexity of the base
model and of the tuned one, five side-by-side greedy answers, wall time and peak memory (this process and its children).
The dataset's README has no published score: the reference is "held-out loss must drop".
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "alpaca_en_demo"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64, help="Training rows (a seeded sample of train.jsonl).")
    parser.add_argument("--test-rows", type=int, default=24, help="Held-out rows scored (the head of test.jsonl).")
    parser.add_argument("--max-length", type=int, default=160, help="Tokens per chat; longer answers are cut.")
    parser.add_argument("--out", default=None, help="Run directory (default: a temporary folder).")
    args, extra = parser.parse_known_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-instruct-")) / "run"
    test = out.parent / "test.jsonl"
    test.parent.mkdir(parents=True, exist_ok=True)
    test.write_text("".join((DATA / "test.jsonl").read_text().splitlines(keepends=True)[:args.test_rows]))
    command = [sys.executable, "-m", "core", "train", "--task", "instruction-tuning", "--model",
               "smollm2-135m-instruct", "--strategy", "lora", "--train", str(DATA / "train.jsonl"), "--test", str(test),
               "--max-train-rows", str(args.rows), "--validation-size", "0.02", "--test-size", "0", "--epochs", "1",
               "--batch-size", "8", "--max-length", str(args.max_length), "--learning-rate", "1e-3",
               "--evaluations-per-epoch", "1",
               "--early-stopping-patience", "0", "--output", str(out), *[a for a in extra if a != "--"]]
    print("$", " ".join(command), flush=True)
    started = time.time()
    subprocess.run(command, cwd=REPO, check=True)
    wall = time.time() - started
    metrics = json.loads((out / "metrics.json").read_text())
    report = json.loads((out / "report.json").read_text())
    rows = json.loads((out / "data_report.json").read_text())["rows"]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nrows: {rows}")
    print(f"test answer-token loss: base {metrics['base_loss']:.4f} -> tuned {metrics['loss']:.4f}")
    print(f"test perplexity:        base {metrics['base_perplexity']:.3f} -> tuned {metrics['perplexity']:.3f}")
    print(f"wall time {wall:.0f} s (training run {metrics['wall_time_s']:.0f} s), peak RSS {peak_mb:.0f} MB")
    for i, row in enumerate(report["side_by_side"], start=1):
        print(f"\n--- {i}. {row['prompt'][:300]}\nREFERENCE: {row['reference'][:300]}\nBASE:  {row['base'][:400]}\n"
              f"TUNED: {row['tuned'][:400]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
