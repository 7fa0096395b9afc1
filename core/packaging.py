"""Exporting a trained model as a standard Hugging Face folder with a model card, and zipping it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from core import tasks
from core.config import TrainConfig
from core.modeling import bake_target_scale, merge_for_export
from core.rundir import RunDir

PIPELINES = {tasks.CLASSIFICATION: "text-classification", tasks.MULTI_LABEL: "text-classification",
             tasks.REGRESSION: "text-classification", tasks.NER: "token-classification",
             tasks.IMAGE: "image-classification", tasks.INSTRUCTION: "text-generation"}
WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".onnx"}
CARD_METRICS = {tasks.CLASSIFICATION: ("accuracy", "f1_macro"), tasks.MULTI_LABEL: ("f1_micro", "f1_macro", "accuracy"),
                tasks.REGRESSION: ("rmse", "mae", "r2", "pearson", "spearman"),
                tasks.NER: ("f1", "precision", "recall"), tasks.IMAGE: ("accuracy", "f1_macro"),
                tasks.INSTRUCTION: ("loss", "perplexity")}
WHAT = {tasks.CLASSIFICATION: "classify text into {n} classes: {labels}.",
        tasks.MULTI_LABEL: "tag text with any of {n} labels (several may apply): {labels}. A label applies when its "
                           "score reaches {threshold} (tuned on validation data).",
        tasks.REGRESSION: "predict the number '{labels}' from text, in its own units (the target scaling used "
                          "in training is folded into the weights).",
        tasks.NER: "mark entities of {n} types in text: {labels}.",
        tasks.IMAGE: "classify images into {n} classes: {labels}.",
        tasks.INSTRUCTION: "follow instructions and answer like its training chats (chat template included)."}

CARD_TEMPLATE = """---
library_name: transformers
pipeline_tag: {pipeline_tag}
base_model: {base_model}
tags:
- finetune-studio
---

# {title}

Fine-tuned with FineTune Studio from **{base_model}** ({strategy} fine-tuning) to {what}

## Use

```python
{usage}
```

## Data

{data_summary}

## Test results ({test_rows} held-out rows)

{results}

## Recipe

Re-run exactly with `python -m core train --config finetune_recipe.json --output NEW_RUN_DIR`.

```json
{recipe}
```
"""


def usage_snippet(task: str, location: str = "path/to/this/folder", example: str = "An example sentence.",
                  pair: bool = False) -> str:
    """The few lines that load the exported model with the matching `transformers.pipeline`."""
    example = example[:80].replace('"', "'").replace("\\", "")
    call = f'{{"text": "{example}", "text_pair": "A second text."}}' if pair else f'"{example}"'
    if task == tasks.INSTRUCTION:
        return ("from transformers import pipeline\n\n"
                f'chat = pipeline("text-generation", model="{location}")\n'
                f'chat([{{"role": "user", "content": "{example}"}}], max_new_tokens=128)[0]["generated_text"][-1]')
    if task == tasks.NER:
        return ("from transformers import pipeline\n\n"
                f'tagger = pipeline("token-classification", model="{location}", aggregation_strategy="simple")\n'
                f"tagger({call})")
    if task == tasks.REGRESSION:
        return ("from transformers import pipeline\n\n"
                f'scorer = pipeline("text-classification", model="{location}", function_to_apply="none")\n'
                f'scorer({call})[0]["score"]  # the predicted number')
    if task == tasks.IMAGE:
        return ("from transformers import pipeline\n\n"
                f'classifier = pipeline("image-classification", model="{location}")\n'
                'classifier("photo.jpg")  # a path, URL or PIL image')
    top_k = ", top_k=None" if task == tasks.MULTI_LABEL else ""
    return ("from transformers import pipeline\n\n"
            f'classifier = pipeline("text-classification", model="{location}"{top_k})\n'
            f"classifier({call})")


def results_table(task: str, report: dict) -> str:
    """Markdown table of the task's metrics for this model and each baseline."""
    names = CARD_METRICS.get(task, CARD_METRICS[tasks.CLASSIFICATION])
    rows = [("this model", report["metrics"])] + [(f"baseline: {n.replace('_', ' ')}", m)
                                                  for n, m in report.get("baselines", {}).items()]
    lines = ["| model | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(f"{m.get(k, float('nan')):.4f}" for k in names) + " |"
              for label, m in rows]
    return "\n".join(lines)


def data_steps(data_report: dict) -> list[str]:
    """One line per cleaning step or one-click fix that changed the training split, with before/after rows."""
    return [f"- data step: {s['description']} ({s['rows_before']} → {s['rows_after']} training rows"
            f"{'; ' + s['warning'] if s.get('warning') else ''})"
            for s in data_report.get("cleaning", {}).get("train", [])
            if s["rows_before"] != s["rows_after"] or s.get("warning")]


def write_model_card(folder: Path, cfg: TrainConfig, data_report: dict, report: dict, threshold: float = 0.5) -> None:
    """Write README.md (the Hugging Face model card) into the model folder."""
    rows = data_report.get("rows", {})
    data_summary = "\n".join(
        [f"- {name}: {n} rows" for name, n in rows.items()]
        + [f"- source files: {', '.join(Path(p).name for p in data_report.get('files', {}).values())}"]
        + [f"- warning: {w}" for w in data_report.get("warnings", [])]
        + data_steps(data_report))
    labels = report["labels"] if cfg.task != tasks.NER else report.get("entity_types", [])
    if cfg.task == tasks.REGRESSION:
        labels = [cfg.label_column]
    examples = report.get("errors") or report.get("sentences") or [{"text": "An example sentence."}]
    example = examples[0].get("text") or " ".join(examples[0].get("tokens", []))
    text = CARD_TEMPLATE.format(
        title=f"{cfg.task} model fine-tuned from {cfg.model}", base_model=cfg.model, strategy=cfg.strategy,
        pipeline_tag=PIPELINES.get(cfg.task, "text-classification"),
        what=WHAT[cfg.task].format(n=len(labels), labels=", ".join(labels[:20]), threshold=threshold),
        usage=usage_snippet(cfg.task, example=str(example), pair=bool(cfg.text_pair_column)),
        data_summary=data_summary, test_rows=report["test_rows"], results=results_table(cfg.task, report),
        recipe=json.dumps(cfg.to_dict(), indent=2))
    (folder / "README.md").write_text(text, encoding="utf-8")


def export_model(run: RunDir, model, tokenizer, cfg: TrainConfig, data_report: dict, report: dict,
                 scaler: tuple[float, float] = (0.0, 1.0), threshold: float = 0.5) -> Path:
    """Save the model (LoRA merged, regression scaling folded in) + tokenizer + card + recipe, and zip it all.

    Returns:
        The path of the zip archive.
    """
    target = run.model
    if target.exists():
        shutil.rmtree(target)
    plain = merge_for_export(model)
    bake_target_scale(plain, *scaler)
    if cfg.task == tasks.MULTI_LABEL:
        plain.config.finetune_threshold = threshold
    plain.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    cfg.save(target / "finetune_recipe.json")
    write_model_card(target, cfg, data_report, report, threshold)
    return zip_run(run)


def zip_run(run: RunDir) -> Path:
    """model.zip with the model folder, the recipe and the test metrics (written atomically)."""
    tmp = run.archive.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(run.model.rglob("*")):
            if file.is_file():
                # Float weights barely compress (~8%) but deflating them took most of the export time.
                stored = zipfile.ZIP_STORED if file.suffix in WEIGHT_SUFFIXES else None
                archive.write(file, Path("model") / file.relative_to(run.model), compress_type=stored)
        for extra in (run.recipe, run.metrics, run.report):
            if extra.exists():
                archive.write(extra, extra.name)
    tmp.replace(run.archive)
    return run.archive
