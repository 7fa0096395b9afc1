"""Benchmark: what each speed technique contributes to one training step of the bundled model, one at a time.

Usage: python bench/techniques.py [--steps 4] [--rows 2000] [--out FILE] [--compile | --compile-only]

Times forward+backward+optimizer steps (batch 32, SST-2 rows) in this process, the baseline and each variant
alternately so both see the same load: random batches padded to their longest row (what `Trainer` does by
default) against length-grouped batches; the AdamW loop against fused AdamW; fp32 against bf16 autocast; SDPA
against eager attention; 2 threads against 1; and `torch.compile` (`--compile-only`: the engine against it alone).
Prints the first (warm-up; for torch.compile, compiling) and the mean later step time per variant with the load
average, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SST2 = REPO.parent / "shared" / "datasets" / "sst2" / "train.csv"
BATCH = 32


def batches(tokenizer, rows: int, grouped: bool) -> list[dict]:
    """Batches of 32 SST-2 rows padded to their longest: in file order (random-like) or sorted by length."""
    texts = pd.read_csv(SST2)["text"].astype(str).head(rows).tolist()
    encoded = [tokenizer(t, truncation=True, max_length=128) for t in texts]
    if grouped:
        encoded.sort(key=lambda e: len(e["input_ids"]))
    collate = DataCollatorWithPadding(tokenizer)
    out = []
    for start in range(0, len(encoded) - BATCH + 1, BATCH):
        batch = collate(encoded[start:start + BATCH])
        batch["labels"] = torch.zeros(BATCH, dtype=torch.long)
        out.append(batch)
    return out


def step_time(model, optimizer, batch: dict, autocast) -> float:
    """Seconds for one optimizer step on `batch`."""
    start = time.perf_counter()
    with autocast:
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


class Variant:
    """A model + optimizer + batches + autocast + thread count to time."""

    def __init__(self, name: str, location: str, tokenizer, rows: int, grouped: bool = True, fused: bool = False,
                 bf16: bool = False, attention: str = "sdpa", threads: int | None = None, compile: bool = False):
        self.name, self.threads = name, threads
        model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=2,
                                                                   attn_implementation=attention)
        model.train()
        self.model = torch.compile(model, dynamic=True) if compile else model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=fused or None)
        self.batches = batches(tokenizer, rows, grouped)
        self.autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
        self.times: list[float] = []
        self.tokens = [int(b["input_ids"].numel()) for b in self.batches]

    def run(self, index: int) -> None:
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads or previous)
        try:
            batch = self.batches[index % len(self.batches)]
            self.times.append(step_time(self.model, self.optimizer, batch, self.autocast))
        finally:
            torch.set_num_threads(previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="Timed steps per variant (after one warm-up).")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / f"techniques-{int(time.time())}.json"))
    parser.add_argument("--compile", action="store_true", help="Also time torch.compile (slow to compile on CPU).")
    parser.add_argument("--compile-only", action="store_true", help="Time the engine's step and torch.compile only.")
    args = parser.parse_args()
    from core.catalogue import resolve_model
    from core.modeling import load_tokenizer

    location = resolve_model("all-minilm-l6-v2")[0]
    tokenizer = load_tokenizer("all-minilm-l6-v2")
    variants = [Variant("grouped batches, fp32, SDPA, AdamW (engine)", location, tokenizer, args.rows),
                Variant("random batches padded to longest (plain Trainer)", location, tokenizer, args.rows,
                        grouped=False),
                Variant("+ fused AdamW", location, tokenizer, args.rows, fused=True),
                Variant("+ bf16 autocast", location, tokenizer, args.rows, bf16=True),
                Variant("eager attention instead of SDPA", location, tokenizer, args.rows, attention="eager"),
                Variant("1 thread instead of all", location, tokenizer, args.rows, threads=1)]
    if args.compile_only:
        variants = variants[:1]
    if args.compile or args.compile_only:
        variants.append(Variant("+ torch.compile(dynamic)", location, tokenizer, args.rows, compile=True))
    # The same batch positions for every variant: a spread of lengths through the epoch.
    positions = [int(i * (len(variants[0].batches) - 1) / max(args.steps, 1)) for i in range(args.steps + 1)]
    loads = []
    for position in positions:
        for variant in variants:
            variant.run(position)
        loads.append(os.getloadavg()[0])
        print(" | ".join(f"{v.name[:20]} {v.times[-1]:.2f}s" for v in variants), flush=True)
    base = statistics.mean(variants[0].times[1:])
    rows = [{"variant": v.name, "first_step_s": round(v.times[0], 2),
             "mean_step_s": round(statistics.mean(v.times[1:]), 3), "min_step_s": round(min(v.times[1:]), 3),
             "max_step_s": round(max(v.times[1:]), 3),
             "padded_tokens_per_batch": round(statistics.mean(v.tokens), 1),
             "vs_engine": round(statistics.mean(v.times[1:]) / base, 2)} for v in variants]
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average during the runs: min {min(loads):.2f}, max {max(loads):.2f}; "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"variants": rows, "load": [round(x, 2) for x in loads]}, indent=2))


if __name__ == "__main__":
    main()
