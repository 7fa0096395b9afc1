"""One fine-tuning run from recipe to exported model, writing the run directory as it goes."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import PrinterCallback, set_seed

from core import augmented_data, estimate, feature_cache, imbalance, tasks, tracking
from core.config import TrainConfig, greater_is_better
from core.distributed import is_main_process, open_run_dir
from core.errors import ConfigError, FineTuneError, ResourceError
from core.evaluation import baseline_metrics, build_task_report, tune_threshold
from core.exports import write_csv
from core.modeling import count_parameters, load_classifier, load_tokenizer, pick_device
from core.packaging import export_model
from core.preparation import prepare_data
from core.rundir import RunDir, check_output, write_json_atomic
from core.training import build_trainer, predict_with_labels, tokenize_frame

logger = logging.getLogger(__name__)


def train_run(cfg: TrainConfig, output: str | Path, resume: bool = False, overwrite: bool = False,
              extra_callbacks: list | None = None, validation_only: bool = False) -> dict:
    """Fine-tune, evaluate and export one model, recording everything in the run directory.

    Args:
        cfg: The recipe (validated and resolved here).
        output: The run directory.
        resume: Continue from the newest checkpoint in `output`.
        overwrite: Allow reusing a non-empty, non-active `output`.
        extra_callbacks: More Trainer callbacks (e.g. a search's pruning callback).
        validation_only: Score on the validation split only, and keep no checkpoint or model (search trials).

    Returns:
        The final test metrics (also written to metrics.json); with `validation_only`, the best validation
        metrics under `validation_<name>` keys.

    Raises:
        FineTuneError: For user-fixable problems; the status file then reads 'failed' with the message.
    """
    run = open_run_dir(output)  # under torchrun/accelerate only the main process writes it
    cfg.validate()
    cfg = cfg.resolved()
    if is_main_process():
        check_output(run, resume, overwrite)
        if overwrite and not resume:
            run.clear_outputs()
        run.create()
        run.stop_file.unlink(missing_ok=True)
        cfg.save(run.recipe)
    run.write_status("running", phase="preparing data", pid=os.getpid(), started=time.time(), message="",
                     error_kind=None)
    with recording_failures(run), tracking.tracked(cfg, run, enabled=not validation_only) as trackers:
        metrics = _train(cfg, run, resume, [*(extra_callbacks or []), *trackers.callbacks], validation_only)
        trackers.finish(metrics)
        return metrics


@contextmanager
def recording_failures(run: RunDir):
    """Record any exception in status.json; out-of-memory and a full disk become plain ResourceErrors."""
    try:
        yield
    except FineTuneError as exc:
        run.write_status("failed", message=str(exc), error_kind=exc.kind)
        raise
    except (torch.OutOfMemoryError, MemoryError):
        raise _record_oom(run) from None
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            run.write_status("failed", message=f"Unexpected error: {type(exc).__name__}: {exc}", error_kind="Crash")
            raise
        raise _record_oom(run) from None
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            run.write_status("failed", message=f"Unexpected error: {exc}", error_kind="Crash")
            raise
        err = ResourceError("The disk is full, so the run could not save its checkpoint or model.",
                            "Free some space (delete old runs on the Runs page), then resume the run.")
        run.write_status("failed", message=str(err), error_kind=err.kind)
        raise err from None
    except KeyboardInterrupt:
        run.write_status("stopped", message="Interrupted; resume continues from the last checkpoint.")
        raise
    except Exception as exc:
        run.write_status("failed", message=f"Unexpected error: {type(exc).__name__}: {exc}", error_kind="Crash")
        raise


# What PyTorch's allocators say when they fail as a plain RuntimeError (CPU) rather than OutOfMemoryError.
OOM_MARKERS = ("out of memory", "can't allocate memory", "not enough memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is an allocator running out of memory (CUDA, MPS or CPU)."""
    return isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or any(m in str(exc).lower() for m in OOM_MARKERS)


def _record_oom(run: RunDir) -> ResourceError:
    err = ResourceError("The machine ran out of memory while training.",
                        "Lower the batch size or the max length (raise gradient accumulation to keep the same "
                        "effective batch), then resume.")
    run.write_status("failed", message=str(err), error_kind=err.kind)
    return err


def _prepare(cfg: TrainConfig, run: RunDir):
    data = prepare_data(cfg)
    for warning in data.warnings:
        logger.warning(warning)
    data.report["rows"]["train_per_epoch"] = augmented_data.effective_rows(len(data.frames["train"]), cfg.augment,
                                                                          cfg.augment_copies)
    if is_main_process():
        write_json_atomic(run.data_report, data.report)
    return data


def augmenting(cfg: TrainConfig) -> bool:
    """Whether the recipe asks for on-the-fly augmentation (then frozen features cannot be cached)."""
    return bool(cfg.augment and cfg.augment_copies)


def training_extras(cfg: TrainConfig, data, sets: dict, tokenizer) -> tuple[dict, list, object]:
    """The augmented training set (with its epoch callback) and the class-weighted loss the recipe asks for."""
    callbacks, loss = [], None
    if augmenting(cfg):
        synonyms = None
        if "synonym_replacement" in cfg.augment:
            from core.synonyms import load_synonyms

            synonyms = load_synonyms(cfg.model)
        train = augmented_data.build_augmented(data.frames["train"], sets["train"], tokenizer, cfg, synonyms)
        sets = {**sets, "train": train}
        callbacks.append(augmented_data.AugmentationEpoch(train))
    if cfg.class_weights == "balanced":
        weights = imbalance.class_weights(data.frames["train"], data.labels, cfg.task, cfg.label_separator)
        loss = imbalance.weighted_loss(cfg.task, weights, cfg.label_smoothing)
    return sets, callbacks, loss


@contextmanager
def training_view(cfg: TrainConfig, model, sets: dict, tokenizer, device: str, run: RunDir):
    """The model and datasets to train on: cached first-token features for a frozen backbone, else as is."""
    if cfg.strategy != "frozen" or not feature_cache.supports_cache(model) or augmenting(cfg):
        yield model, sets, False
        return
    run.write_status("running", phase="computing features once (frozen backbone)")
    backbone = getattr(model, model.base_model_prefix)
    views = {name: feature_cache.to_feature_dataset(
                 feature_cache.cached_features(backbone, ds, tokenizer, device, cfg.model), ds["labels"])
             for name, ds in sets.items()}
    with feature_cache.cached_backbone(model):
        yield model, views, True


def begin_training(cfg: TrainConfig, run: RunDir, train_rows: int) -> tuple[TrainConfig, str]:
    """The recipe resolved for the prepared data (saved again), the seed set and the device picked: the steps every
    task's run takes between preparing its data and loading its model."""
    cfg = cfg.resolved_for_data(train_rows)
    if is_main_process():
        cfg.save(run.recipe)
    set_seed(cfg.seed)
    device = pick_device(cfg.device)
    run.write_status("running", phase="loading model", device=device)
    return cfg, device


def report_model(cfg: TrainConfig, model, device: str, run: RunDir, next_phase: str) -> int:
    """Log and record how many of the model's parameters train; returns the total parameter count."""
    trainable, total = count_parameters(model)
    logger.info("Model %s: %d of %d parameters train (%s); device %s.", cfg.model, trainable, total,
                cfg.strategy, device)
    run.write_status("running", phase=next_phase, parameters={"trainable": trainable, "total": total})
    return total


def run_trainer(trainer, run: RunDir, callbacks: list, resume: bool) -> None:
    """Train with the run's callbacks (our RunDirCallback replaces the console printer), from the newest
    complete checkpoint when resuming."""
    trainer.remove_callback(PrinterCallback)
    for callback in callbacks:
        trainer.add_callback(callback)
    checkpoint = run.last_checkpoint() if resume else None
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)


def _train(cfg: TrainConfig, run: RunDir, resume: bool, callbacks: list, validation_only: bool) -> dict:
    if cfg.task == tasks.IMAGE:
        from core.image_training import train_images  # lazy: image decoding and augmentation libraries

        return train_images(cfg, run, resume, callbacks, validation_only)
    if cfg.task == tasks.INSTRUCTION:  # a language model, chats and loss on answers: its own module
        from core.instruct_training import train_instruction

        return train_instruction(cfg, run, resume, callbacks, validation_only)
    started = time.time()
    data = _prepare(cfg, run)
    cfg, device = begin_training(cfg, run, len(data.frames["train"]))
    tokenizer = load_tokenizer(cfg.model, cfg.trust_remote_code)
    model = load_classifier(cfg, data.labels)
    total = report_model(cfg, model, device, run, "tokenising")
    scaler = tasks.target_scaler(data.frames["train"], cfg)
    sets = {name: tokenize_frame(frame, tokenizer, data.labels, cfg.max_length, cfg.task, cfg.label_separator, scaler)
            for name, frame in data.frames.items()}
    run.write_status("running", phase="estimating the duration")
    planned = estimate.plan_duration(cfg, model, sets, device, total)
    run.write_status("running", estimate=planned)
    logger.info("Estimated duration on this machine: %.0f s (%.1f tokens per row, %d validation passes).",
                planned["seconds"], planned["tokens_per_row"], planned["evaluations"])
    sets, extra_callbacks, loss = training_extras(cfg, data, sets, tokenizer)
    with training_view(cfg, model, sets, tokenizer, device, run) as (train_model, views, cached):
        trainer = build_trainer(cfg, train_model, tokenizer, views["train"], views["validation"], run, device,
                                cached=cached, labels=data.labels, scaler=scaler, compute_loss_func=loss)
        run_trainer(trainer, run, [*extra_callbacks, *callbacks], resume)
        if validation_only:
            return _finish_trial(cfg, run, trainer, started)
        run.write_status("running", phase="evaluating on the test split")
        outputs = predict_with_labels(trainer, views["test"])
        threshold = tune_threshold(*predict_with_labels(trainer, views["validation"])) \
            if cfg.task == tasks.MULTI_LABEL else 0.5
    return _finish(cfg, run, data, trainer, tokenizer, outputs, started, scaler, threshold)


def _finish_trial(cfg: TrainConfig, run: RunDir, trainer, started: float) -> dict:
    """Best validation scores of a search trial; its checkpoints are deleted (trials keep no model)."""
    evaluations = [r for r in trainer.state.log_history if f"eval_{cfg.best_metric}" in r]
    if not evaluations:
        raise ConfigError("The trial ended before its first validation.", "Give trials at least one epoch.")
    key = f"eval_{cfg.best_metric}"
    pick = max if greater_is_better(cfg.best_metric) else min
    best = pick(evaluations, key=lambda r: r[key])
    metrics = {f"validation_{k.removeprefix('eval_')}": v for k, v in best.items() if k.startswith("eval_")}
    metrics.update(wall_time_s=round(time.time() - started, 1), best_step=best.get("step"))
    write_json_atomic(run.metrics, metrics)
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    run.write_status("completed", phase="done", ended=time.time(), metrics=metrics)
    return metrics


def training_advice(state, cfg: TrainConfig) -> list[str]:
    """Plain hints read off the validation curve: still improving at the end, or best early (overfitting)."""
    key = f"eval_{cfg.best_metric}"
    evaluations = [r for r in state.log_history if key in r]
    if len(evaluations) < 3:
        return []
    pick = max if greater_is_better(cfg.best_metric) else min
    best_index = evaluations.index(pick(evaluations, key=lambda r: r[key]))
    if best_index == len(evaluations) - 1:
        return ["The validation score was still improving when training ended: more epochs (or a larger "
                "learning rate) would probably give a better model."]
    if best_index < len(evaluations) / 3:
        return ["The best validation score came early and later epochs did not beat it: fewer epochs, a lower "
                "learning rate or more regularisation would train faster for the same result."]
    return []


def _finish(cfg: TrainConfig, run: RunDir, data, trainer, tokenizer, outputs, started: float,
            scaler: tuple[float, float], threshold: float) -> dict:
    stopped = run.stop_requested()
    if not is_main_process():
        return {}  # every process took part in the (gathered) test predictions; the main one reports them
    train, test = data.frames["train"], data.frames["test"]
    baselines = baseline_metrics(train, test, data.labels, cfg.seed, cfg.task, cfg.label_separator)
    logits, label_ids = outputs
    if cfg.task == tasks.REGRESSION:
        logits = logits.reshape(-1) * scaler[1] + scaler[0]
    report, predictions = build_task_report(cfg.task, test, logits, data.labels, baselines, label_ids, threshold,
                                            cfg.label_separator)
    metrics = {**report["metrics"], "test_rows": report["test_rows"], "wall_time_s": round(time.time() - started, 1),
               "stopped_early": stopped, "best_checkpoint": trainer.state.best_model_checkpoint}
    report["advice"] = training_advice(trainer.state, cfg)
    write_json_atomic(run.report, report)
    write_json_atomic(run.metrics, metrics)
    write_csv(predictions, run.path / "predictions.csv")
    run.write_status("running", phase="exporting the model")
    export_model(run, trainer.model, tokenizer, cfg, data.report, report, scaler=scaler, threshold=threshold)
    planned = run.read_status_raw().get("estimate")
    if planned:  # how the duration estimate shown before the run held up
        metrics["estimate"] = estimate.compare(planned["seconds"], time.time() - started)
        write_json_atomic(run.metrics, metrics)
        logger.info("Took %.0f s against %.0f s estimated (actual/estimate %.2f).", metrics["estimate"]["actual_s"],
                    planned["seconds"], metrics["estimate"]["actual_over_estimate"])
    final = "stopped" if stopped else "completed"
    run.write_status(final, phase="done", ended=time.time(), metrics=report["metrics"],
                     message="Stopped on request; the best model so far was evaluated and exported." if stopped else "")
    logger.info("Test %s (%s).", " ".join(f"{k}={v:.4f}" for k, v in report["metrics"].items()), final)
    return metrics
