"""Instruction tuning of a causal language model: data to chats, LoRA or full training, before/after scoring, export.

`core.runner` hands a run to `train_instruction` when the recipe's task is instruction-tuning; the run directory
gets the same files as every task (status, metrics log, checkpoints, report.json, metrics.json, model/).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

from core import instruct, tasks
from core.chat import answer
from core.config import TrainConfig
from core.distributed import is_main_process
from core.errors import ConfigError, DataError
from core.modeling import _from_pretrained, merge_for_export
from core.packaging import export_model
from core.preparation import PreparedData
from core.rundir import RunDir, write_json_atomic
from core.runner import _finish_trial, begin_training, report_model, run_trainer, training_advice
from core.training import OrderedEvalTrainer, build_training_args, sort_by_length, trainer_callbacks

logger = logging.getLogger(__name__)

SIDE_BY_SIDE = 5  # held-out prompts answered by the base and the tuned model in report.json


def perplexity(loss: float) -> float:
    """exp(mean token loss), capped so a diverged run reports a large number instead of overflowing."""
    return math.exp(min(loss, 50.0))


def load_causal_lm(cfg: TrainConfig):
    """(the pretrained model, its tokenizer with a chat template and a pad token)."""
    from core.catalogue import find_entry, resolve_model

    entry = find_entry(cfg.model)
    if entry is not None and tasks.INSTRUCTION not in entry.tasks:
        raise ConfigError(f"The catalogue model '{cfg.model}' is not a chat model.",
                          "Pick one for instruction tuning, e.g. --model smollm2-135m-instruct.")
    location, source = resolve_model(cfg.model)
    tokenizer = _from_pretrained(AutoTokenizer, location, source)
    instruct.ensure_chat_template(tokenizer)
    model = _from_pretrained(AutoModelForCausalLM, location, source, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def apply_lm_strategy(model, cfg: TrainConfig):
    """The model as it trains: itself for full fine-tuning, wrapped with LoRA adapters for lora."""
    if cfg.strategy != "lora":
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    targets = cfg.lora_target_modules
    lora = LoraConfig(task_type=TaskType.CAUSAL_LM, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                      lora_dropout=cfg.lora_dropout, target_modules="all-linear" if targets == ["all-linear"]
                      else list(targets) or None)
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise ConfigError(f"LoRA cannot wrap this model: {str(exc)[:200]}",
                          "Set --lora-target-modules to layer names of this model, or 'all-linear'.") from None


def encode_split(frame: pd.DataFrame, tokenizer, max_length: int, name: str) -> tuple[Dataset, int]:
    """A split as a Dataset of input_ids/attention_mask/labels/length, and how many chats had no room to answer."""
    rows, dropped = instruct.encode_chats(tokenizer, frame["messages"], max_length)
    if not rows:
        raise DataError(f"Every {name} chat is too long for the max length of {max_length} tokens.",
                        "Raise --max-length so the answers fit after the prompts.")
    return Dataset.from_list(rows), dropped


class InstructionTrainer(OrderedEvalTrainer):
    """A Trainer that reports perplexity next to every evaluation loss (it logs before callbacks see the record)."""

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "eval_loss" in logs:
            logs["eval_perplexity"] = perplexity(logs["eval_loss"])
        super().log(logs, start_time)


def answer_collator(tokenizer) -> DataCollatorForSeq2Seq:
    """Pads input ids, attention masks and labels (with the ignore index) to each batch's longest chat."""
    return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=instruct.IGNORE_INDEX, padding=True)


def build_instruction_trainer(cfg: TrainConfig, model, tokenizer, sets: dict, run: RunDir, device: str):
    """The Trainer of every task (core.training) with a padding collator for labels and loss-only evaluation."""
    args = build_training_args(cfg, run, len(sets["train"]), device, validation_rows=len(sets["validation"]))
    args.per_device_eval_batch_size = cfg.batch_size  # vocabulary-wide logits: a classifier's 64 rows won't fit
    args.prediction_loss_only = True
    trainer = InstructionTrainer(model=model, args=args, train_dataset=sets["train"],
                                 eval_dataset=sort_by_length(sets["validation"])[0],
                                 data_collator=answer_collator(tokenizer),
                                 processing_class=tokenizer, callbacks=trainer_callbacks(cfg, run))
    return trainer


@torch.no_grad()
def held_out_loss(model, dataset: Dataset, collate, batch_size: int) -> dict[str, float]:
    """Mean loss over every answer token of `dataset` (token-weighted, unlike per-batch means) and its perplexity."""
    model.eval()
    total, tokens = 0.0, 0
    ordered = sort_by_length(dataset)[0].remove_columns("length")
    for start in range(0, len(ordered), batch_size):
        batch = collate([ordered[i] for i in range(start, min(start + batch_size, len(ordered)))])
        batch = {k: v.to(model.device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        targets = batch["labels"][:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                 ignore_index=instruct.IGNORE_INDEX, reduction="sum")
        total, tokens = total + loss.item(), tokens + int((targets != instruct.IGNORE_INDEX).sum())
    loss = total / max(tokens, 1)
    return {"loss": round(loss, 5), "perplexity": round(perplexity(loss), 4)}


def answer_prompts(model, tokenizer, chats: list[list[dict]]) -> list[str]:
    """Greedy, repetition-penalised answers to the prompts of held-out chats."""
    model.eval()
    return [answer(model, tokenizer, instruct.prompt_of(chat)) for chat in chats]


def train_instruction(cfg: TrainConfig, run: RunDir, resume: bool, callbacks: list, validation_only: bool) -> dict:
    """Tune a language model on instruction chats and write the run directory (called by core.runner).

    Returns:
        The test metrics (loss and perplexity after tuning, with the base model's as base_loss/base_perplexity);
        with `validation_only`, the best validation metrics.
    """
    started = time.time()
    data = instruct.prepare_chats(cfg)
    cfg, device = begin_training(cfg, run, len(data.frames["train"]))
    model, tokenizer = load_causal_lm(cfg)
    sets, too_long = {}, {}
    for name, frame in data.frames.items():
        sets[name], too_long[name] = encode_split(frame, tokenizer, cfg.max_length, name)
    data.report["too_long_dropped"] = too_long
    if is_main_process():
        write_json_atomic(run.data_report, data.report)
    samples = data.frames["test"]["messages"].head(SIDE_BY_SIDE).tolist()
    before, base_answers = {}, []
    if not validation_only:  # the plain model, before adapters wrap it: generating through them is much slower
        run.write_status("running", phase="scoring the base model on the test split")
        before, base_answers = score(model.to(device), tokenizer, sets["test"], samples, cfg.batch_size)
        logger.info("Base model on the test split: loss %.4f, perplexity %.3f.", before["loss"], before["perplexity"])
    model = apply_lm_strategy(model, cfg)
    report_model(cfg, model, device, run, "training")
    trainer = build_instruction_trainer(cfg, model, tokenizer, sets, run, device)
    run_trainer(trainer, run, callbacks, resume)
    if validation_only:
        return _finish_trial(cfg, run, trainer, started)
    run.write_status("running", phase="evaluating on the test split")
    if cfg.strategy == "lora" and cfg.export_adapter and is_main_process():
        save_adapter(run, trainer.model, tokenizer)  # before the merge below folds it into the weights
    tuned = merge_for_export(trainer.model)
    after, tuned_answers = score(tuned, tokenizer, sets["test"], samples, cfg.batch_size)
    comparison = [{"prompt": instruct.render_prompt(chat), "reference": chat[-1]["content"], "base": base,
                   "tuned": answer} for chat, base, answer in zip(samples, base_answers, tuned_answers, strict=True)]
    return _finish(cfg, run, data, trainer, tuned, tokenizer, (before, after, comparison), started)


def score(model, tokenizer, test: Dataset, samples: list[list[dict]], batch_size: int) -> tuple[dict, list[str]]:
    """Test loss and perplexity, and greedy answers to the sample chats' prompts."""
    return held_out_loss(model, test, answer_collator(tokenizer), batch_size), answer_prompts(model, tokenizer, samples)


def _finish(cfg: TrainConfig, run: RunDir, data: PreparedData, trainer, model, tokenizer,
            results: tuple[dict, dict, list[dict]], started: float) -> dict:
    before, after, comparison = results
    stopped = run.stop_requested()
    if not is_main_process():
        return {}
    report = {"task": tasks.INSTRUCTION, "metrics": after, "baselines": {"base_model": before}, "labels": [],
              "test_rows": len(data.frames["test"]), "side_by_side": comparison,
              "advice": training_advice(trainer.state, cfg)}
    metrics = {**after, "base_loss": before["loss"], "base_perplexity": before["perplexity"],
               "test_rows": report["test_rows"], "wall_time_s": round(time.time() - started, 1),
               "stopped_early": stopped, "best_checkpoint": trainer.state.best_model_checkpoint}
    write_json_atomic(run.report, report)
    write_json_atomic(run.metrics, metrics)
    pd.DataFrame(comparison).to_csv(run.path / "predictions.csv", index=False)
    run.write_status("running", phase="exporting the model")
    export_model(run, model, tokenizer, cfg, data.report, report)
    final = "stopped" if stopped else "completed"
    run.write_status(final, phase="done", ended=time.time(), metrics=after,
                     message="Stopped on request; the best model so far was evaluated and exported." if stopped else "")
    logger.info("Test loss %.4f → %.4f, perplexity %.2f → %.2f (%s).", before["loss"], after["loss"],
                before["perplexity"], after["perplexity"], final)
    return metrics


def adapter_dir(run: RunDir) -> Path:
    """Where a LoRA run keeps its adapter alone (loads with peft on top of the base model)."""
    return run.path / "adapter"


def save_adapter(run: RunDir, model, tokenizer) -> Path:
    """The LoRA adapter and the tokenizer in run/adapter/, zipped as run/adapter.zip (before the merge)."""
    folder = adapter_dir(run)
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(shutil.make_archive(str(run.path / "adapter"), "zip", root_dir=folder))
