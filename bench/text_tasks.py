"""Benchmark: regression on sentence pairs (STS-B), NER (WNUT-17) and a multi-label case, through the CLI.

Usage: python bench/text_tasks.py [--cases stsb wnut17 wnut17_types] [--out DIR] [-- extra train flags]

`wnut17_types` is a multi-label task built from WNUT-17's gold annotations: which entity types
(person, location, group, creative-work, corporation, product) does each tweet mention — none, one or several.
Each case prints its test metrics, the baselines, the exported model re-measured through the matching
`transformers.pipeline`, wall time and peak memory, next to the dataset's published reference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
sys.path.insert(0, str(REPO))


def wnut_types_csv(folder: Path) -> dict[str, Path]:
    """WNUT-17 sentences with the set of entity types they mention, as CSV files (types joined by ';')."""
    from core import ner

    paths = {}
    for split in ("train", "validation", "test"):
        rows = [json.loads(line) for line in (SHARED / "wnut17" / f"{split}.jsonl").read_text().splitlines()]
        frame = pd.DataFrame({"text": [" ".join(r["tokens"]) for r in rows],
                              "types": [";".join(sorted({e["type"] for e in ner.entities(r["tokens"], r["ner_tags"])}))
                                        for r in rows]})
        paths[split] = folder / f"wnut17_types_{split}.csv"
        frame.to_csv(paths[split], index=False)
    return paths


def case_args(name: str, folder: Path) -> tuple[list[str], str]:
    if name == "stsb":
        d = SHARED / "stsb"
        return (["--task", "text-regression", "--train", str(d / "train.csv"),
                 "--validation", str(d / "validation.csv"), "--test", str(d / "test.csv"),
                 "--text-column", "sentence1", "--text-pair-column", "sentence2",
                 "--label-column", "score"], "Spearman ≥ 0.80 wanted; TinyBERT-L4 cross-encoder 0.855 (dev); "
                                             "TF-IDF cosine 0.641")
    if name == "wnut17":
        d = SHARED / "wnut17"
        return (["--task", "token-classification", "--train", str(d / "train.jsonl"),
                 "--validation", str(d / "validation.jsonl"), "--test", str(d / "test.jsonl"),
                 "--text-column", "tokens", "--label-column", "ner_tags"],
                "entity F1 ≥ 0.40 wanted; best 2017 system 0.4186; DistilBERT 0.417–0.433")
    paths = wnut_types_csv(folder)
    return (["--task", "multi-label-classification", "--train", str(paths["train"]),
             "--validation", str(paths["validation"]), "--test", str(paths["test"]),
             "--text-column", "text", "--label-column", "types", "--label-separator", ";",
             "--no-drop-duplicates"], "constructed here; no published reference")


def pipeline_check(name: str, output: Path) -> dict:
    """The headline metric recomputed from the exported folder through transformers.pipeline."""
    from transformers import pipeline

    from core.evaluation import regression_metrics

    predictions = pd.read_csv(output / "predictions.csv", keep_default_na=False)
    if name == "stsb":
        scorer = pipeline("text-classification", model=str(output / "model"), function_to_apply="none", device="cpu")
        outputs = scorer([{"text": a, "text_pair": b} for a, b in zip(predictions["text"], predictions["text_pair"],
                                                                      strict=True)], batch_size=64)
        got = np.array([o["score"] for o in outputs])
        return {"pipeline_spearman": regression_metrics(predictions["label"].to_numpy(), got)["spearman"],
                "max_abs_diff_vs_engine": float(np.abs(got - predictions["predicted"].to_numpy()).max())}
    if name == "wnut17":
        tagger = pipeline("token-classification", model=str(output / "model"), aggregation_strategy="simple",
                          device="cpu")
        sample = predictions["text"].head(3).tolist()
        return {"pipeline_entities_on_3_test_rows": [[(e["word"], e["entity_group"]) for e in row]
                                                     for row in tagger(sample)]}
    classifier = pipeline("text-classification", model=str(output / "model"), top_k=None, device="cpu")
    threshold = json.loads((output / "model" / "config.json").read_text())["finetune_threshold"]
    rows = classifier(predictions["text"].tolist(), batch_size=64)
    got = [";".join(sorted(s["label"] for s in row if s["score"] >= threshold)) for row in rows]
    return {"pipeline_agrees_with_engine": float(np.mean([a == b for a, b in zip(got, predictions["predicted"],
                                                                                 strict=True)]))}


def run_case(name: str, out_root: Path, extra: list[str]) -> dict:
    args, reference = case_args(name, out_root)
    output = out_root / f"{name}-{int(time.time())}"
    start = time.time()
    subprocess.run([sys.executable, "-m", "core", "train", *args, "--output", str(output), *extra], cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - start
    metrics = json.loads((output / "metrics.json").read_text())
    report = json.loads((output / "report.json").read_text())
    return {"case": name, "metrics": {k: round(v, 4) for k, v in report["metrics"].items()},
            "baselines": {b: {k: round(v, 4) for k, v in m.items()} for b, m in report["baselines"].items()},
            **pipeline_check(name, output), "wall_s": round(wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "test_rows": metrics["test_rows"], "reference": reference, "run": str(output)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["stsb", "wnut17", "wnut17_types"],
                        choices=["stsb", "wnut17", "wnut17_types"])
    parser.add_argument("--out", default="/tmp/finetune-bench")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="Extra train flags after --.")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = [a for a in args.extra if a != "--"]
    for name in args.cases:
        print(json.dumps(run_case(name, out, extra), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
