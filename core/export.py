"""Exporting a trained model as a standard Hugging Face folder with a model card, and zipping it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from core.config import TrainConfig
from core.modeling import merge_for_export
from core.rundir import RunDir

CARD_TEMPLATE = """---
library_name: transformers
pipeline_tag: text-classification
base_model: {base_model}
tags:
- finetune-studio
---

# {title}

Fine-tuned with FineTune Studio from **{base_model}** ({strategy} fine-tuning) to classify text into
{n_labels} classes: {labels}.

## Use

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="path/to/this/folder")
classifier("{example}")
```

## Data

{data_summary}

## Test results ({test_rows} held-out rows)

| model | accuracy | macro F1 |
|---|---|---|
| this model | {accuracy:.4f} | {f1_macro:.4f} |
{baseline_rows}

## Recipe

Re-run exactly with `python -m core train --config finetune_recipe.json --output NEW_RUN_DIR`.

```json
{recipe}
```
"""


def write_model_card(folder: Path, cfg: TrainConfig, data_report: dict, report: dict) -> None:
    """Write README.md (the Hugging Face model card) into the model folder."""
    rows = data_report.get("rows", {})
    data_summary = "\n".join(
        [f"- {name}: {n} rows" for name, n in rows.items()]
        + [f"- source files: {', '.join(Path(p).name for p in data_report.get('files', {}).values())}"]
        + [f"- warning: {w}" for w in data_report.get("warnings", [])])
    baseline_rows = "\n".join(f"| baseline: {name.replace('_', ' ')} | {m['accuracy']:.4f} | {m['f1_macro']:.4f} |"
                              for name, m in report.get("baselines", {}).items())
    errors = report.get("errors") or [{"text": "An example sentence."}]
    text = CARD_TEMPLATE.format(
        title=f"{cfg.task} model fine-tuned from {cfg.model}", base_model=cfg.model, strategy=cfg.strategy,
        n_labels=len(report["labels"]), labels=", ".join(report["labels"][:20]), data_summary=data_summary,
        test_rows=report["test_rows"], baseline_rows=baseline_rows,
        example=str(errors[0]["text"])[:80].replace('"', "'").replace("\\", ""),
        recipe=json.dumps(cfg.to_dict(), indent=2), **report["metrics"])
    (folder / "README.md").write_text(text, encoding="utf-8")


def export_model(run: RunDir, model, tokenizer, cfg: TrainConfig, data_report: dict, report: dict) -> Path:
    """Save the model (LoRA merged) + tokenizer + card + recipe to run/model and zip it all.

    Returns:
        The path of the zip archive.
    """
    target = run.model
    if target.exists():
        shutil.rmtree(target)
    plain = merge_for_export(model)
    plain.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    cfg.save(target / "finetune_recipe.json")
    write_model_card(target, cfg, data_report, report)
    return zip_run(run)


def zip_run(run: RunDir) -> Path:
    """model.zip with the model folder, the recipe and the test metrics (written atomically)."""
    tmp = run.archive.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(run.model.rglob("*")):
            if file.is_file():
                archive.write(file, Path("model") / file.relative_to(run.model))
        for extra in (run.recipe, run.metrics, run.report):
            if extra.exists():
                archive.write(extra, extra.name)
    tmp.replace(run.archive)
    return run.archive
