"""Exporting a run's model to ONNX, checked against PyTorch on the test split, optionally quantised to int8.

Why the dynamo exporter (`torch.onnx.export(..., dynamo=True)`, needs onnxscript): with transformers 5 the
older TorchScript exporter traces the attention-mask code into a graph whose logits differ from PyTorch by
~0.02 (as large as the logits of a fresh head), while the dynamo graph agrees to ~1e-7 at any batch size and
length. The files follow the Hub's layout (`model/onnx/model.onnx`, `model/onnx/model_quantized.onnx`),
so they travel inside the model zip and a Hub push.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.rundir import RunDir, read_json, write_json_atomic

logger = logging.getLogger(__name__)

REPORT_FILE = "onnx_report.json"
CARD_START, CARD_END = "<!-- onnx-export -->", "<!-- /onnx-export -->"
BATCH = 32
# Sequence-level heads; NER's per-token outputs need word alignment the parity check does not do.
ONNX_TASKS = {"text-classification", "multi-label-classification", "text-regression"}
Texts = tuple[list[str], list[str] | None]  # first texts and, for pair tasks, second texts


def score_logits(logits: np.ndarray, targets: pd.Series, report: dict[str, Any],
                 separator: str = ",") -> dict[str, float]:
    """The task's test metrics from raw model outputs, computed as the engine computes them.

    Args:
        logits: Model outputs, (n, classes) or (n, 1) for regression (already in the target's units).
        targets: The true labels, label sets or values, in the same row order.
        report: The run's report.json (its `task`, `labels` in output order, and a multi-label `threshold`).
        separator: Between the labels of a multi-label row.
    """
    from core import evaluation, tasks

    task = report.get("task", tasks.CLASSIFICATION)
    if task == tasks.REGRESSION:
        return evaluation.regression_metrics(targets.astype(float).to_numpy(), logits.reshape(-1))
    if task == tasks.MULTI_LABEL:
        truth = evaluation.multi_hot(targets.astype(str), report["labels"], separator)
        threshold = report["metrics"].get("threshold", 0.5)
        return evaluation.multilabel_metrics(truth, (evaluation.sigmoid(logits) >= threshold).astype(int))
    index = {label: i for i, label in enumerate(report["labels"])}
    truth = targets.astype(str).map(index).to_numpy()
    metrics = evaluation.classification_metrics(truth, logits.argmax(axis=-1))
    return {"accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"]}


def batches(tokenizer, texts: Texts, max_length: int):
    """Tokenised batches of BATCH rows (pairs encoded together) as numpy arrays, padded to each batch's longest."""
    first, second = texts
    for start in range(0, len(first), BATCH):
        pair = second[start:start + BATCH] if second is not None else None
        yield dict(tokenizer(first[start:start + BATCH], pair, truncation=True, max_length=max_length, padding=True,
                             return_tensors="np"))


def torch_logits(model, tokenizer, texts: Texts, max_length: int) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return np.concatenate([model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.float().numpy()
                               for batch in batches(tokenizer, texts, max_length)])


def onnx_logits(path: Path, tokenizer, texts: Texts, max_length: int) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return np.concatenate([session.run(None, {n: batch[n].astype(np.int64) for n in names})[0]
                           for batch in batches(tokenizer, texts, max_length)])


def write_onnx(model, tokenizer, path: Path) -> None:
    """Export with dynamic batch and sequence axes (two example rows of different lengths avoid specialising)."""
    import torch

    # Two sentence pairs: token_type_ids are then part of the graph for pair models and harmless otherwise.
    example = tokenizer(["an example", "a somewhat longer example sentence"], ["a second", "text"], padding=True,
                        return_tensors="pt")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    program = torch.onnx.export(model, (), kwargs=dict(example), input_names=list(example), output_names=["logits"],
                                dynamic_shapes={name: {0: batch, 1: sequence} for name in example}, dynamo=True,
                                verbose=False)
    program.save(str(path), external_data=False)


def quantize(path: Path) -> Path:
    """Dynamic int8 quantisation of the weights (onnxruntime), beside the float model."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = path.with_name("model_quantized.onnx")
    logging.disable(logging.INFO)  # the quantiser logs one INFO line per tensor it skips, on the root logger
    try:
        quantize_dynamic(str(path), str(target), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    return target


def check_installed() -> None:
    """A one-line ConfigError naming the missing package (the export needs onnx, onnxscript and onnxruntime)."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"ONNX export needs {', '.join(missing)}, which is not installed.",
                          f"pip install {' '.join(missing)}")


def check_run(run: RunDir) -> dict[str, Any]:
    """The run's recipe, once it is known to hold what the export and its parity check need."""
    for needed in (run.model / "config.json", run.path / "predictions.csv", run.report):
        if not needed.exists():
            raise ConfigError(f"{run.path} has no {needed.name}; only a finished run can be exported to ONNX.",
                              "Pick a completed run.")
    recipe = read_json(run.model / "finetune_recipe.json") or read_json(run.recipe) or {}
    task = recipe.get("task", "text-classification")
    if task not in ONNX_TASKS:
        raise ConfigError(f"ONNX export with a parity check covers classification, multi-label and regression; "
                          f"this run is {task}.", "Use the Hugging Face model in model/ for this run.")
    return recipe


def variant(path: Path, logits: np.ndarray, reference: np.ndarray, targets: pd.Series, report: dict,
            separator: str = ",") -> dict:
    """Size, parity with PyTorch and the test metrics of one ONNX file."""
    return {"file": str(path), "size_mb": round(path.stat().st_size / 1e6, 2),
            "max_abs_logit_diff": float(np.abs(logits - reference).max()),
            # Share of rows whose predicted class is unchanged (undefined for a single regression output).
            "prediction_agreement": float(np.mean(logits.argmax(-1) == reference.argmax(-1)))
            if logits.shape[-1] > 1 else None,
            "metrics": score_logits(logits, targets, report, separator)}


def export_onnx(run_dir: str | Path, quantized: bool = False) -> dict[str, Any]:
    """Export run/model to ONNX, compare it with PyTorch on the test split, and record the figures.

    Args:
        run_dir: A completed run directory (model/, predictions.csv, report.json).
        quantized: Also write and measure a dynamic int8 variant.

    Returns:
        The report also written to onnx_report.json and into the model card: the PyTorch metrics, and per ONNX
        file its size, max absolute logit difference and metrics.

    Raises:
        ConfigError: The run has no exported model or test predictions.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run = RunDir(run_dir)
    recipe = check_run(run)
    check_installed()
    report = read_json(run.report)
    rows = pd.read_csv(run.path / "predictions.csv", keep_default_na=False)
    pairs = rows["text_pair"].astype(str).tolist() if "text_pair" in rows.columns else None
    texts, targets = (rows["text"].astype(str).tolist(), pairs), rows["label"]
    separator = recipe.get("label_separator", ",")
    max_length = int(recipe.get("max_length", 128))
    tokenizer = AutoTokenizer.from_pretrained(run.model)
    model = AutoModelForSequenceClassification.from_pretrained(run.model).eval()
    folder = run.model / "onnx"
    folder.mkdir(exist_ok=True)
    started = time.time()
    write_onnx(model, tokenizer, folder / "model.onnx")
    reference = torch_logits(model, tokenizer, texts, max_length)
    result = {"test_rows": len(rows), "pytorch": {"metrics": score_logits(reference, targets, report, separator)},
              "onnx": variant(folder / "model.onnx", onnx_logits(folder / "model.onnx", tokenizer, texts, max_length),
                              reference, targets, report, separator)}
    if quantized:
        q_path = quantize(folder / "model.onnx")
        result["onnx_int8"] = variant(q_path, onnx_logits(q_path, tokenizer, texts, max_length), reference, targets,
                                      report, separator)
    result["seconds"] = round(time.time() - started, 1)
    write_json_atomic(run.path / REPORT_FILE, result)
    write_card_section(run.model / "README.md", result)
    from core.packaging import zip_run

    zip_run(run)
    logger.info("ONNX export: max |logit diff| %.2e on %d test rows.", result["onnx"]["max_abs_logit_diff"],
                len(rows))
    return result


def card_section(result: dict[str, Any]) -> str:
    """The model card's ONNX section: one table row per format."""
    names = list(result["pytorch"]["metrics"])
    lines = [CARD_START, "## ONNX export", "",
             f"Checked on the {result['test_rows']} test rows with onnxruntime (CPU).", "",
             "| file | size (MB) | max abs logit diff vs PyTorch | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names),
             "| PyTorch (model.safetensors) | | | " + " | ".join(f"{v:.4f}" for v in result["pytorch"]["metrics"]
                                                             .values()) + " |"]
    for key in ("onnx", "onnx_int8"):
        if key in result:
            item = result[key]
            figures = " | ".join(f"{item['metrics'][n]:.4f}" for n in names)
            lines.append(f"| onnx/{Path(item['file']).name} | {item['size_mb']:.1f} | "
                         f"{item['max_abs_logit_diff']:.2e} | {figures} |")
    return "\n".join([*lines, CARD_END])


def write_card_section(card: Path, result: dict[str, Any]) -> None:
    """Add (or replace) the ONNX section at the end of the model card."""
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    text = re.sub(re.escape(CARD_START) + r".*?" + re.escape(CARD_END), "", text, flags=re.S).rstrip()
    card.write_text(f"{text}\n\n{card_section(result)}\n", encoding="utf-8")


def read_onnx_report(run_dir: str | Path) -> dict[str, Any] | None:
    """The last ONNX export's figures for a run, or None."""
    return read_json(Path(run_dir) / REPORT_FILE)


def export_command(run_dir: str | Path, quantized: bool = False) -> list[str]:
    """The argv of `python -m core export-onnx` for this run, as a user would type it."""
    import sys

    return [sys.executable, "-m", "core", "export-onnx", str(run_dir), *(["--quantize"] if quantized else [])]


def run_export_process(run_dir: str | Path, quantized: bool = False, timeout_s: float = 1800) -> tuple[bool, str]:
    """Run the export CLI as a child process (keeps torch out of the UI); returns (ok, its last error line)."""
    import os
    import subprocess

    from core.launcher import REPO_ROOT

    result = subprocess.run(export_command(run_dir, quantized), cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=timeout_s, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.returncode == 0, lines[-1] if lines else ""
