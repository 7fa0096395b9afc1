"""Benchmark: the engine against a plain Hugging Face `Trainer` script, and against this machine's matmul peak.

Usage: python bench/speed.py [--repeats 3] [--rows 2000] [--epochs 1] [--out DIR]

Both sides train the bundled default model on the same SST-2 rows (batch 32, lr 5e-5, max length 128, same
epochs) as fresh subprocesses, run alternately so that both see the same load on a shared machine. Prints a
table and writes JSON with: whole-process wall times and their ratio (min/median/max), test accuracy of both,
fp32/bf16 dense matmul throughput, the engine's achieved training FLOP/s (real and padded tokens), frozen-
backbone epoch cost after the first against full fine-tuning, start-up to the first metrics line, peak RSS,
and the duration estimate against the actual time. Every figure carries the load average it was taken under.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SST2 = REPO.parent / "shared" / "datasets" / "sst2"
sys.path.insert(0, str(REPO))

# What a competent user writes by hand: library defaults, dynamic padding per batch, test accuracy at the end.
PLAIN_SCRIPT = '''
import json, sys
import numpy as np, pandas as pd
from datasets import Dataset
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                          TrainingArguments)

model_dir, train_csv, test_csv, epochs, out = sys.argv[1:6]
train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
labels = sorted(train["label_name"].unique())
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForSequenceClassification.from_pretrained(
    model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})

def encode(frame):
    data = Dataset.from_dict({"text": frame["text"].tolist(), "label": [labels.index(l) for l in frame["label_name"]]})
    return data.map(lambda b: tokenizer(b["text"], truncation=True, max_length=128), batched=True)

args = TrainingArguments(output_dir=out + "/checkpoints", num_train_epochs=float(epochs),
                         per_device_train_batch_size=32, learning_rate=5e-5, report_to="none", use_cpu=True)
trainer = Trainer(model=model, args=args, train_dataset=encode(train), data_collator=DataCollatorWithPadding(tokenizer),
                  processing_class=tokenizer)
trainer.train()
predictions = trainer.predict(encode(test))
accuracy = float((predictions.predictions.argmax(-1) == predictions.label_ids).mean())
json.dump({"accuracy": accuracy}, open(out + "/metrics.json", "w"))
'''


def load_average() -> float:
    """The 1-minute load average of the machine (how busy the shared cores were)."""
    return round(os.getloadavg()[0], 2)


def spread(values: list[float]) -> dict:
    """min/median/max of a list of figures."""
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def run_process(command: list[str], log: Path, watch: Path | None = None) -> dict:
    """Run one subprocess: whole wall time, peak RSS, and when `watch` (a metrics.jsonl) got its first line."""
    load = load_average()
    start = time.perf_counter()
    first_line = None
    with open(log, "w") as sink:
        process = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)  # wait4: the child's own peak RSS
            if pid:
                break
            if first_line is None and watch is not None and watch.exists() and watch.stat().st_size > 0:
                first_line = time.perf_counter() - start
            time.sleep(0.05)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed; see {log}:\n{log.read_text()[-3000:]}")
    return {"wall_s": round(wall, 2), "first_metrics_s": round(first_line, 2) if first_line else None,
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "load": load}


def prepare_data(folder: Path, rows: int, test_rows: int | None) -> dict[str, Path]:
    """The first `rows` SST-2 training rows, SST-2's own validation file and its test file (or its first rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / f"sst2_train_{rows}.csv", folder / "sst2_test.csv"
    pd.read_csv(SST2 / "train.csv").head(rows).to_csv(train, index=False)
    pd.read_csv(SST2 / "test.csv").head(test_rows).to_csv(test, index=False)
    return {"train": train, "validation": SST2 / "validation.csv", "test": test}


def engine_command(data: dict[str, Path], epochs: float, output: Path, *extra: str) -> list[str]:
    """`python -m core train` with the benchmark's settings."""
    return [sys.executable, "-m", "core", "train", "--train", str(data["train"]), "--validation",
            str(data["validation"]), "--test", str(data["test"]), "--text-column", "text", "--label-column",
            "label_name", "--batch-size", "32", "--learning-rate", "5e-5", "--max-length", "128", "--epochs",
            str(epochs), "--output", str(output), *extra]


def plain_command(script: Path, data: dict[str, Path], epochs: float, output: Path) -> list[str]:
    """The plain Trainer script with the same model, data and settings."""
    from core.catalogue import resolve_model

    return [sys.executable, str(script), resolve_model("all-minilm-l6-v2")[0], str(data["train"]), str(data["test"]),
            str(epochs), str(output)]


def alternate(args: argparse.Namespace, data: dict[str, Path], out: Path) -> tuple[list[dict], list[dict]]:
    """Plain and engine runs back to back, `repeats` times, so that both see similar load."""
    script = out / "plain_trainer.py"
    script.write_text(PLAIN_SCRIPT)
    plain, engine = [], []
    for i in range(args.repeats):
        target = out / f"plain-{i}"
        target.mkdir(parents=True, exist_ok=True)
        result = run_process(plain_command(script, data, args.epochs, target), out / f"plain-{i}.log")
        result["accuracy"] = json.loads((target / "metrics.json").read_text())["accuracy"]
        plain.append(result)
        target = out / f"engine-{i}"
        result = run_process(engine_command(data, args.epochs, target), out / f"engine-{i}.log",
                             watch=target / "metrics.jsonl")
        result.update(engine_figures(target))
        engine.append(result)
        print(f"repeat {i + 1}: plain {plain[-1]['wall_s']} s (acc {plain[-1]['accuracy']:.4f}, load "
              f"{plain[-1]['load']}), engine {engine[-1]['wall_s']} s (acc {engine[-1]['accuracy']:.4f}, load "
              f"{engine[-1]['load']})", flush=True)
    return plain, engine


def engine_figures(run: Path) -> dict:
    """Accuracy, training compute time, tokens seen and the duration estimate, read back from a run directory.

    `train_compute_s` is the training loop's runtime minus its validation passes (checkpoint saves stay in).
    """
    metrics = json.loads((run / "metrics.json").read_text())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    summary = next(r for r in records if r.get("kind") == "summary")
    evaluating = sum(r.get("eval_runtime", 0.0) for r in records if r.get("kind") == "eval")
    held = metrics.get("estimate", {})
    return {"accuracy": metrics["accuracy"], "train_runtime_s": summary["train_runtime"],
            "train_compute_s": round(summary["train_runtime"] - evaluating, 2), "evaluating_s": round(evaluating, 2),
            "estimated_s": held.get("estimated_s"), "run_s": held.get("actual_s"),
            "actual_over_estimate": held.get("actual_over_estimate")}


def token_counts(data: dict[str, Path], epochs: float) -> dict:
    """Tokens one training run processes: real (non-padding) ones, and with padding under the engine's
    length-grouped batches and under the plain script's random batches (each batch padded to its longest row)."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from core.modeling import load_tokenizer

    tokenizer = load_tokenizer("all-minilm-l6-v2")
    texts = pd.read_csv(data["train"])["text"].astype(str).tolist()
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]

    def padded(order: list[int]) -> int:
        batches = [order[s:s + 32] for s in range(0, len(order), 32)]
        return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)

    grouped = list(LengthGroupedSampler(32, lengths=lengths, generator=torch.Generator().manual_seed(42)))
    shuffled = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(42)).tolist()
    return {"real": int(sum(lengths) * epochs), "grouped_padded": int(padded(grouped) * epochs),
            "random_padded": int(padded(shuffled) * epochs), "mean_per_row": sum(lengths) / len(lengths)}


def hardware_figures(engine: list[dict], data: dict[str, Path], epochs: float) -> dict:
    """Measured matmul peaks, and the engine's training FLOP/s from FLOPs per token × tokens per second.

    The peaks are timed by CPU time (the hardware's speed); the engine's FLOP/s by the wall clock of its training
    loop, which on a shared machine also counts other jobs' turns: a lower bound of its share of the peak.
    """
    from transformers import AutoConfig

    from core import estimate
    from core.catalogue import resolve_model

    config = AutoConfig.from_pretrained(resolve_model("all-minilm-l6-v2")[0])
    load = load_average()
    fp32, bf16 = estimate.matmul_flops("float32", clock="cpu"), estimate.matmul_flops("bfloat16", clock="cpu")
    fp32_wall = estimate.matmul_flops("float32")
    tokens = token_counts(data, epochs)
    compute = statistics.median(r["train_compute_s"] for r in engine)
    per_token = estimate.training_flops_per_token(config, seq_length=round(tokens["mean_per_row"]))
    real, padded = per_token * tokens["real"] / compute, per_token * tokens["grouped_padded"] / compute
    return {"matmul_fp32_gflops": round(fp32 / 1e9, 1), "matmul_bf16_gflops": round(bf16 / 1e9, 1),
            "matmul_fp32_gflops_wall_clock_under_load": round(fp32_wall / 1e9, 1),
            "matmul_load": load, "training_mflops_per_token": round(per_token / 1e6, 1),
            "train_compute_s_median": compute, "tokens": tokens,
            "achieved_gflops_real_tokens": round(real / 1e9, 1),
            "achieved_gflops_padded_tokens": round(padded / 1e9, 1),
            "share_of_fp32_peak_real_tokens": round(real / fp32, 3),
            "share_of_fp32_peak_padded_tokens": round(padded / fp32, 3)}


def frozen_figures(data: dict[str, Path], out: Path, full: list[dict], epochs: float) -> dict:
    """Frozen backbone (cached features): training-loop time per epoch after the first, against full fine-tuning.

    Two runs of 1 and 3 epochs without early stopping; their training-loop difference over 2 is the cost of one
    more epoch (features are computed before the loop, once). Full fine-tuning's is its loop time per epoch.
    """
    loops = {}
    for frozen_epochs in (1, 3):
        target = out / f"frozen-{frozen_epochs}"
        command = engine_command(data, frozen_epochs, target, "--strategy", "frozen", "--early-stopping-patience", "0")
        command[command.index("--learning-rate") + 1] = "2e-3"  # the frozen strategy's own default
        figures = {**run_process(command, out / f"frozen-{frozen_epochs}.log"), **engine_figures(target)}
        loops[frozen_epochs] = figures
    per_extra = (loops[3]["train_runtime_s"] - loops[1]["train_runtime_s"]) / 2
    full_per_epoch = statistics.median(r["train_runtime_s"] for r in full) / epochs
    return {"frozen_loop_1_epoch_s": loops[1]["train_runtime_s"], "frozen_loop_3_epochs_s": loops[3]["train_runtime_s"],
            "frozen_per_extra_epoch_s": round(per_extra, 3), "full_per_epoch_s": round(full_per_epoch, 2),
            "full_over_frozen_per_epoch": round(full_per_epoch / max(per_extra, 1e-3), 1),
            "frozen_accuracy_3_epochs": loops[3]["accuracy"], "load": loops[3]["load"]}


def warm_startup_figures(data: dict[str, Path], out: Path, repeats: int = 2) -> dict:
    """Start-up the app's way: "Start training" hands the run to a warm engine (core.standby) that imported
    torch and transformers while the user was on the Settings page; timed from the launcher call to the run's
    first metrics line, then the run is stopped. Also the bare `import transformers.trainer` of a cold process,
    which a CLI call pays before anything else."""
    from core import standby
    from core.config import TrainConfig
    from core.launcher import start_run
    from core.rundir import ACTIVE_STATES, RunDir
    from core.workspace import new_run_dir

    os.environ["FINETUNE_WARM_ENGINE"] = "1"
    cfg = TrainConfig(train=str(data["train"]), validation=str(data["validation"]), test=str(data["test"]),
                      text_column="text", label_column="label_name", batch_size=32, learning_rate=5e-5,
                      max_length=128, epochs=1)
    startups = []
    for _ in range(repeats):
        standby.ensure()
        deadline = time.time() + 300
        while standby.ready_pid() is None and time.time() < deadline:
            time.sleep(0.2)
        run = new_run_dir("warm-start")
        start = time.perf_counter()
        pid = start_run(cfg, run)
        while not (run.metrics_log.exists() and run.metrics_log.stat().st_size) and time.perf_counter() - start < 300:
            time.sleep(0.05)
        startups.append(round(time.perf_counter() - start, 2))
        run.request_stop()
        while RunDir(run.path).read_status().get("state") in ACTIVE_STATES:
            time.sleep(0.2)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    os.environ["FINETUNE_WARM_ENGINE"] = "0"
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import transformers.trainer"], check=True)
    return {"warm_start_to_first_metrics_s": spread(startups), "cold_import_transformers_trainer_s":
            round(time.perf_counter() - begin, 2), "load": load_average()}


def summarise(plain: list[dict], engine: list[dict]) -> dict:
    """Ratios and spreads of the alternated runs."""
    ratios = [p["wall_s"] / e["wall_s"] for p, e in zip(plain, engine, strict=True)]
    return {"plain_wall_s": spread([p["wall_s"] for p in plain]),
            "engine_wall_s": spread([e["wall_s"] for e in engine]),
            "speedup": spread(ratios), "plain_accuracy": spread([p["accuracy"] for p in plain]),
            "engine_accuracy": spread([e["accuracy"] for e in engine]),
            "accuracy_points_engine_minus_plain": round(100 * (statistics.median(e["accuracy"] for e in engine)
                                                               - statistics.median(p["accuracy"] for p in plain)), 2),
            "startup_to_first_metrics_s": spread([e["first_metrics_s"] for e in engine if e["first_metrics_s"]]),
            "engine_peak_rss_mb": spread([e["peak_rss_mb"] for e in engine]),
            "plain_peak_rss_mb": spread([p["peak_rss_mb"] for p in plain]),
            "estimate_actual_over_estimate": spread([e["actual_over_estimate"] for e in engine]),
            "load_during_runs": spread([r["load"] for r in plain + engine])}


def print_table(report: dict) -> None:
    """The figures, one per line, with the targets of issue #8."""
    s, h, f = report["summary"], report["hardware"], report.get("frozen", {})
    lines = [
        ("wall time, plain Trainer script (s)", s["plain_wall_s"], ""),
        ("wall time, python -m core train (s)", s["engine_wall_s"], ""),
        ("speed-up plain/engine (x)", s["speedup"], ">= 2.0"),
        ("test accuracy plain", s["plain_accuracy"], ""),
        ("test accuracy engine", s["engine_accuracy"], "no more than 0.5 points lower"),
        ("accuracy, engine - plain (points, medians)", s["accuracy_points_engine_minus_plain"], ">= -0.5"),
        ("matmul peak fp32 / bf16, CPU time (GFLOP/s)", f"{h['matmul_fp32_gflops']} / {h['matmul_bf16_gflops']}", ""),
        ("engine training GFLOP/s, real tokens", h["achieved_gflops_real_tokens"], ""),
        ("engine training GFLOP/s, padded tokens", h["achieved_gflops_padded_tokens"], ""),
        ("share of fp32 peak, real / padded tokens", f"{h['share_of_fp32_peak_real_tokens']:.0%} / "
                                                     f"{h['share_of_fp32_peak_padded_tokens']:.0%}", ">= 35%"),
        ("full fine-tuning / frozen per epoch after the 1st (x)", f.get("full_over_frozen_per_epoch"), ">= 10"),
        ("start-up: CLI call to first metrics line (s)", s["startup_to_first_metrics_s"], "<= 10"),
        ("start-up: app's Start training (warm engine) (s)",
         report.get("warm", {}).get("warm_start_to_first_metrics_s"), "<= 10"),
        ("of which a cold `import transformers.trainer` (s)",
         report.get("warm", {}).get("cold_import_transformers_trainer_s"), ""),
        ("peak RSS, engine (MB)", s["engine_peak_rss_mb"], "<= 2048"),
        ("actual / estimated duration", s["estimate_actual_over_estimate"], "0.7-1.3"),
        ("load average (1 min) at the runs", s["load_during_runs"], "2 cores, shared"),
    ]
    for name, value, target in lines:
        print(f"{name:55} {json.dumps(value):60} {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--test-rows", type=int, default=None, help="Use only the first test rows (default: all).")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for both sides (default: torch's own, one per core). On a box shared "
                             "with other jobs, 1 avoids threads waiting on each other at every operation.")
    parser.add_argument("--skip-frozen", action="store_true", help="Leave out the frozen-backbone runs.")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / f"speed-{int(time.time())}"))
    args = parser.parse_args()
    out = Path(args.out)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled model needs no network; never wait on the Hub
    # A workspace of its own: the first engine run calibrates the duration estimate, the others reuse it.
    os.environ["FINETUNE_HOME"] = str(out / "home")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    data = prepare_data(out, args.rows, args.test_rows)
    plain, engine = alternate(args, data, out)
    report = {"settings": vars(args), "plain": plain, "engine": engine, "summary": summarise(plain, engine),
              "hardware": hardware_figures(engine, data, args.epochs), "cpu_threads": os.cpu_count()}
    if not args.skip_frozen:
        report["frozen"] = frozen_figures(data, out, engine, args.epochs)
    report["warm"] = warm_startup_figures(data, out)
    (out / "speed.json").write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"JSON: {out / 'speed.json'}")


if __name__ == "__main__":
    main()
