"""Benchmark: the data quality report on 50,000 rows (SST-2 + MR sentences, resampled), as a user would run it.

Usage: python bench/quality_report.py [--rows 50000] [--no-label-errors]

Prints the wall and CPU time of the whole report (file reading, every check, near-duplicates by MinHash LSH,
label errors by cross-validated TF-IDF + naive Bayes and cleanlab, token lengths under the bundled
model's tokenizer) and of each check, and the number of findings per check. The issue's bar: 30 s on
2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
sys.path.insert(0, str(REPO))


def build_table(rows: int, folder: Path, unique: bool = False) -> Path:
    """SST-2 train and MR sentences with their sentiment names, resampled (with replacement) to `rows`.

    With `unique`, every repeat gets two words of another row appended, so all rows differ (the worst case for the
    per-row checks: nothing is scored once for many copies) and the repeats become near-duplicates instead.
    """
    parts = [pd.read_csv(SHARED / "sst2" / "train.csv"), pd.read_csv(SHARED / "mr_rt_polarity" / "all.csv")]
    frame = pd.concat(parts)[["text", "label_name"]].sample(rows, replace=True, random_state=0)
    if unique:
        tails = frame["text"].sample(frac=1.0, random_state=1).str.split().str[:2].str.join(" ").to_numpy()
        repeat = frame.index.duplicated()
        frame.loc[repeat, "text"] = frame.loc[repeat, "text"].to_numpy() + " " + tails[repeat]
        frame = frame.drop_duplicates("text")
    path = folder / "sentiment-50k.csv"
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--no-label-errors", dest="label_errors", action="store_false")
    parser.add_argument("--unique", action="store_true", help="make every row's text distinct (worst case)")
    args = parser.parse_args()
    from core import quality
    from core.config import TrainConfig

    timings: dict[str, float] = {}
    for name, checks in quality.CHECKS.items():  # time each check by wrapping it
        quality.CHECKS[name] = [_timed(check, timings) for check in checks]
    path = build_table(args.rows, Path(tempfile.mkdtemp()), args.unique)
    cfg = TrainConfig(train=str(path), label_column="label_name")
    started, cpu = time.perf_counter(), time.process_time()
    report = quality.build_report(cfg, label_errors=args.label_errors)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    # CPU seconds of this process show the cost when other work shares the cores (wall time then inflates).
    print(f"rows: {sum(report.rows.values()):,}  wall: {total:.1f} s  CPU: {cpu:.1f} s  "
          f"load average: {os.getloadavg()[0]:.1f}")
    for check, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {check:24} {seconds:6.2f} s")
    for finding in report.findings:
        print(f"  [{finding.severity}] {finding.check}: {finding.count:,} — {finding.message}")


def _timed(check, timings: dict[str, float]):
    def run(ctx):
        started = time.perf_counter()
        try:
            return check(ctx)
        finally:
            timings[check.__name__] = time.perf_counter() - started

    run.__name__ = check.__name__
    return run


if __name__ == "__main__":
    main()
