"""The Python API: train, evaluate, predict and export, as thin wrappers over the engine.

```python
from core import train, evaluate, predict, export

metrics = train(train="reviews.csv", output="runs/first", epochs=2)
print(evaluate("runs/first", "more_reviews.csv"))
print(predict("runs/first", ["a great film", "a dull film"]))
print(export("runs/first", "onnx", quantize=True)["onnx"]["max_abs_logit_diff"])
```

Every heavy import happens inside the functions, so `import core` stays fast.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


def _config(config: Any, options: dict[str, Any]):
    from core.config import TrainConfig

    if config is None:
        base = TrainConfig()
    elif isinstance(config, TrainConfig):
        base = config
    elif isinstance(config, dict):
        base = TrainConfig.from_dict(config)
    else:
        base = TrainConfig.load(config)
    return dataclasses.replace(base, **options)


def train(config: Any = None, output: str | Path = "", *, resume: bool = False, overwrite: bool = False,
          **options: Any) -> dict[str, Any]:
    """Fine-tune, test and export a model into the run directory `output` (as `python -m core train`).

    Args:
        config: A TrainConfig, a recipe dict, a recipe JSON path, or None for the defaults.
        output: The run directory to create.
        resume: Continue the run in `output` from its last checkpoint.
        overwrite: Reuse a non-empty, non-active `output`.
        **options: Recipe fields that override `config` (e.g. train="data.csv", epochs=2).

    Returns:
        The test metrics (also in output/metrics.json).
    """
    from core.errors import ConfigError
    from core.runner import train_run

    if not output:
        raise ConfigError("No output folder was given.", "Pass output='runs/NAME'.")
    return train_run(_config(config, options), output, resume=resume, overwrite=overwrite)


def _model_folder(model: str | Path) -> Path:
    """A run directory's model/ folder, or the given folder itself."""
    path = Path(model)
    return path / "model" if (path / "model" / "config.json").exists() else path


def predict(model: str | Path, texts: str | list[str]) -> list[dict[str, float]]:
    """Class probabilities ({label: probability}, most likely first) per text, from a run or model folder.

    For an image classifier, `texts` are image paths (or PIL images)."""
    from core.inference import load_predictor, model_task, predict_images, predict_texts

    folder, inputs = _model_folder(model), [texts] if isinstance(texts, str) else texts
    if model_task(folder) == "image-classification":
        return predict_images(load_predictor(folder), inputs)
    return predict_texts(load_predictor(folder), inputs)


def evaluate(model: str | Path, data: Any, text_column: str = "text", label_column: str = "label") -> dict[str, Any]:
    """Accuracy and F1 of a run's (or model folder's) model on a labelled table.

    Args:
        model: A run directory or an exported model folder.
        data: A table file (CSV, JSON, Parquet, Excel, …) or a pandas DataFrame.
        text_column: The column holding the text.
        label_column: The column holding the true label.

    Returns:
        accuracy, f1_macro, f1_weighted and the number of rows.
    """
    import numpy as np

    from core.errors import DataError
    from core.evaluation import classification_metrics
    from core.tables import load_table

    frame = data if hasattr(data, "columns") else load_table(data)
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(f"The data has no column {missing[0]!r}.", f"Use one of: {', '.join(map(str, frame.columns))}.")
    predicted = [next(iter(p)) for p in predict(model, frame[text_column].astype(str).tolist())]
    truth = frame[label_column].astype(str).to_numpy()
    return {**classification_metrics(truth, np.asarray(predicted)), "rows": len(frame)}


def export(run_dir: str | Path, format: str = "onnx", quantize: bool = False) -> Any:
    """Export a completed run: "onnx" (with the parity report, see core.onnx_export) or "zip" (model.zip path)."""
    from core.errors import ConfigError
    from core.rundir import RunDir

    if format == "onnx":
        from core.onnx_export import export_onnx

        return export_onnx(run_dir, quantized=quantize)
    if format == "zip":
        from core.packaging import zip_run

        return zip_run(RunDir(run_dir))
    raise ConfigError(f"Unknown export format {format!r}.", "Use 'onnx' or 'zip'.")
