"""How long a run will take on this machine: a short timed calibration of the model, cached per machine.

A calibration times a few forward+backward passes (and forward-only passes, as in evaluation) of the chosen
model at two sequence lengths up to the chosen max length, once per machine + model + max length + strategy.
The estimate then scales those per-row costs by the data's real token lengths, the rows, the epochs and the
evaluation passes. After a run, the estimate is compared with the actual wall time (see `compare`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch

from core import augmented_data

logger = logging.getLogger(__name__)

CALIBRATION_VERSION = 1
CALIBRATION_ROWS = 8  # rows per timed batch: enough to fill the matrix units, cheap enough to run in seconds
SHORT_LENGTH = 16
# Process start, imports, model load, tokenising, test report and export: measured at 8-12 s for the bundled
# model on 2 shared cores (bench/README.md); the part that grows with the model is the export.
STARTUP_S = 8.0
EXPORT_S_PER_MPARAM = 0.05
# Only for the model catalogue, where a model may not be downloaded yet and cannot be timed: the share of the
# matmul peak small-batch transformer training reaches on CPU, and ~6 FLOPs per parameter per token
# (forward 2, backward 4; Kaplan et al. 2020) for a full fine-tune.
EFFICIENCY = 0.45
FLOPS_PER_PARAM = {"full": 6.0, "top_layers": 3.0, "lora": 4.0, "frozen": 2.0}
# One 224-pixel image through MobileNetV2 costs ~0.3 GFLOP forward (Sandler et al. 2018), what 86 tokens cost
# through its 1.75M compute parameters at 2 FLOPs each: the "tokens" of an image in the formulas below.
IMAGE_TOKEN_EQUIVALENT = 86.0


@dataclass(frozen=True)
class Calibration:
    """Measured seconds per row at two sequence lengths, for training steps and forward-only passes."""

    key: str
    lengths: tuple[int, int]
    train_row_s: tuple[float, float]
    forward_row_s: tuple[float, float]
    measured_at: float

    def train_seconds(self, tokens: float) -> float:
        """Seconds per training row of `tokens` tokens (linear between and beyond the two measured lengths)."""
        return _interpolate(self.lengths, self.train_row_s, tokens)

    def forward_seconds(self, tokens: float) -> float:
        """Seconds per forward-only (evaluation) row of `tokens` tokens."""
        return _interpolate(self.lengths, self.forward_row_s, tokens)


def _interpolate(lengths: tuple[int, int], costs: tuple[float, float], tokens: float) -> float:
    (short, long), (low, high) = lengths, costs
    slope = (high - low) / (long - short) if long > short else 0.0
    return max(low + slope * (tokens - short), low * 0.5, 1e-6)


@dataclass(frozen=True)
class RunShape:
    """What a run will process: rows per split, mean tokens per row, epochs and validation passes."""

    train_rows: int
    validation_rows: int
    test_rows: int
    tokens: float
    epochs: float
    evaluations: int
    parameters: int = 0
    cached_features: bool = False


def machine_fingerprint(device: str) -> str:
    """What makes timings differ between machines: CPU model and cores, torch threads and build, or the GPU."""
    if device == "cuda" and torch.cuda.is_available():
        hardware = torch.cuda.get_device_name()
    else:
        hardware = _cpu_model() + f" x{os.cpu_count()} threads={torch.get_num_threads()}"
    return f"{platform.node()}|{hardware}|torch {torch.__version__}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                        platform.processor())
    except OSError:
        return platform.processor() or platform.machine()


def calibration_key(model_id: str, max_length: int, strategy: str, device: str) -> str:
    """The cache key: machine fingerprint, model, max length, strategy and calibration version."""
    parts = [machine_fingerprint(device), model_id, str(max_length), strategy, str(CALIBRATION_VERSION)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _cache_path():
    from core.workspace import workspace_home

    return workspace_home() / "cache" / "calibration.json"


def load_calibration(key: str) -> Calibration | None:
    """The cached calibration under `key`, if this machine has one."""
    from core.rundir import read_json

    entry = (read_json(_cache_path()) or {}).get(key)
    if not entry:
        return None
    return Calibration(key=key, lengths=tuple(entry["lengths"]), train_row_s=tuple(entry["train_row_s"]),
                       forward_row_s=tuple(entry["forward_row_s"]), measured_at=entry["measured_at"])


def save_calibration(calibration: Calibration) -> None:
    """Add one calibration to the machine's cache file (atomically replaced)."""
    from core.rundir import read_json, write_json_atomic

    path = _cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = read_json(path) or {}
    entries[calibration.key] = {k: v for k, v in asdict(calibration).items() if k != "key"}
    write_json_atomic(path, entries)


def time_steps(model: torch.nn.Module, rows: int, length: int, device: str, repeats: int = 2) -> tuple[float, float]:
    """(training step, forward-only pass) seconds for a batch of `rows` × `length` random tokens.

    The model's weights are untouched (no optimizer step, gradients cleared) and the random state is restored,
    so calibrating inside a run does not change what the run learns.
    """
    vocab = int(getattr(model.config, "vocab_size", 1000))
    ids = torch.randint(low=100 if vocab > 200 else 0, high=vocab, size=(rows, length), device=device)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    was_training = model.training
    model.train()
    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    # Training uses bf16 autocast on GPUs that support it (core.modeling.use_bf16); time it the same way.
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda" and torch.cuda.is_bf16_supported())
    try:
        with autocast:
            train = _best_of(repeats + 1, lambda: _train_step(model, batch), sync)
            with torch.inference_mode():
                model.eval()
                forward = _best_of(repeats + 1, lambda: model(**batch), sync)
    finally:
        model.train(was_training)
        for param in model.parameters():
            param.grad = None
    return train, forward


def _train_step(model: torch.nn.Module, batch: dict) -> None:
    logits = model(**batch).logits
    if logits.requires_grad:
        logits.float().square().mean().backward()


def _best_of(runs: int, step, sync) -> float:
    """The fastest of `runs` timed calls after the first (which pays one-off allocation costs)."""
    times = []
    for i in range(runs):
        start = time.perf_counter()
        step()
        sync()
        if i:
            times.append(time.perf_counter() - start)
    return min(times) if times else 0.0


def calibrate(model: torch.nn.Module, model_id: str, max_length: int, strategy: str, device: str) -> Calibration:
    """The cached calibration for this machine + model + max length + strategy, measured now if missing."""
    key = calibration_key(model_id, max_length, strategy, device)
    cached = load_calibration(key)
    if cached is not None:
        return cached
    lengths = (min(SHORT_LENGTH, max_length), max_length)
    model.to(device)
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device == "cuda" else []):
        timings = [time_steps(model, CALIBRATION_ROWS, length, device) for length in lengths]
    calibration = Calibration(key=key, lengths=lengths,
                              train_row_s=tuple(t[0] / CALIBRATION_ROWS for t in timings),
                              forward_row_s=tuple(t[1] / CALIBRATION_ROWS for t in timings),
                              measured_at=time.time())
    save_calibration(calibration)
    logger.info("Calibrated %s at max length %d on this machine: %.1f ms per training row at %d tokens.",
                model_id, max_length, calibration.train_row_s[1] * 1e3, max_length)
    return calibration


def estimate_seconds(calibration: Calibration, shape: RunShape) -> float:
    """Estimated wall time of a whole run: start-up, training, validation passes, the test pass and export."""
    forward = calibration.forward_seconds(shape.tokens)
    if shape.cached_features:  # the backbone runs once per row; the head's epochs cost next to nothing
        train = (shape.train_rows + shape.validation_rows) * forward
        evaluations = shape.test_rows * forward
    else:
        train = shape.epochs * shape.train_rows * calibration.train_seconds(shape.tokens)
        evaluations = (shape.evaluations * shape.validation_rows + shape.test_rows) * forward
    return STARTUP_S + EXPORT_S_PER_MPARAM * shape.parameters / 1e6 + train + evaluations


def plan_duration(cfg, model: torch.nn.Module, sets: dict, device: str, parameters: int) -> dict:
    """The estimate for a run about to train: calibration (cached) scaled by its tokenised splits.

    Args:
        cfg: The resolved recipe.
        model: The loaded model with its strategy applied (timed without changing it).
        sets: Tokenised "train", "validation" and "test" datasets with a "length" column.
        device: Where it trains.
        parameters: The model's total parameter count (export cost).
    """
    from core.feature_cache import supports_cache

    calibration = calibrate(model, cfg.model, cfg.max_length, cfg.strategy, device)
    lengths = sets["train"]["length"]
    rows = [len(sets[name]) for name in ("train", "validation", "test")]
    rows[0] = augmented_data.effective_rows(rows[0], cfg.augment, cfg.augment_copies)
    shape = run_shape(cfg, rows, sum(lengths) / max(len(lengths), 1), parameters,
                      cfg.strategy == "frozen" and supports_cache(model))
    return _planned(calibration, shape)


def estimate_recipe(cfg, data, calibrate_now: bool = False) -> dict:
    """The estimate shown before a run starts (settings page), scaled exactly as the run's own.

    Uses this machine's cached calibration of the model; without one, either calibrates now (`calibrate_now`:
    loads the model, a few seconds, once) or falls back to a rough figure from the model's size and the
    measured matmul speed, marked `"calibrated": False` (the run calibrates and records the real estimate).

    Args:
        cfg: The recipe (resolved here).
        data: Its PreparedData (core.preparation.prepare_data).
        calibrate_now: Time the model now if this machine has no calibration for it.
    """
    from core.modeling import load_classifier, load_tokenizer, pick_device

    cfg = cfg.resolved().resolved_for_data(len(data.frames["train"]))
    device = pick_device(cfg.device)
    image = cfg.task == "image-classification"  # timed on token batches only; images get the size-based figure
    if image:
        tokens, calibration = IMAGE_TOKEN_EQUIVALENT, None
    else:
        tokens = _mean_tokens(load_tokenizer(cfg.model), data.frames["train"].head(2000), cfg.max_length)
        calibration = load_calibration(calibration_key(cfg.model, cfg.max_length, cfg.strategy, device))
        if calibration is None and calibrate_now:
            calibration = calibrate(load_classifier(cfg, data.labels), cfg.model, cfg.max_length, cfg.strategy,
                                    device)
    parameters = _parameter_count(cfg.model)
    rows = [len(data.frames[name]) for name in ("train", "validation", "test")]
    rows[0] = augmented_data.effective_rows(rows[0], cfg.augment, cfg.augment_copies)  # fresh variants each epoch
    cached = cfg.strategy == "frozen" and (image or (cfg.task != "token-classification"
                                                     and _first_token_head(cfg.model)))
    shape = run_shape(cfg, rows, tokens, parameters, cached)
    planned = _planned(calibration or rough_calibration(parameters, cfg.strategy, cfg.max_length), shape)
    return {**planned, "calibrated": calibration is not None, "can_calibrate": not image}


def rough_calibration(parameters: int, strategy: str, max_length: int) -> Calibration:
    """Per-row costs from the model's size and this machine's matmul speed, for a model not yet timed here."""
    rows = [1 / examples_per_second(parameters, length, strategy) for length in (SHORT_LENGTH, max_length)]
    forward = [1 / examples_per_second(parameters, length, "frozen") for length in (SHORT_LENGTH, max_length)]
    return Calibration(key="rough", lengths=(SHORT_LENGTH, max_length), train_row_s=tuple(rows),
                       forward_row_s=tuple(forward), measured_at=time.time())


def _mean_tokens(tokenizer, sample, max_length: int) -> float:
    if "tokens" in sample.columns:
        encoded = tokenizer([list(map(str, t)) for t in sample["tokens"]], is_split_into_words=True,
                            truncation=True, max_length=max_length)
    else:
        pair = sample["text_pair"].astype(str).tolist() if "text_pair" in sample.columns else None
        encoded = tokenizer(sample["text"].astype(str).tolist(), pair, truncation=True, max_length=max_length)
    return sum(map(len, encoded["input_ids"])) / max(len(sample), 1)


def _first_token_head(model_id: str) -> bool:
    from transformers import AutoConfig

    from core.catalogue import resolve_model
    from core.feature_cache import FIRST_TOKEN_HEADS

    return AutoConfig.from_pretrained(resolve_model(model_id)[0]).model_type in FIRST_TOKEN_HEADS


def _parameter_count(model_id: str) -> int:
    from core.catalogue import find_entry

    entry = find_entry(model_id)
    return entry.parameters if entry else 110_000_000


def run_shape(cfg, rows: list[int], tokens: float, parameters: int, cached_features: bool) -> RunShape:
    """The RunShape of a recipe: rows of (train, validation, test), the validation passes its schedule makes."""
    from core import tasks
    from core.training import evaluation_count

    evaluations = evaluation_count(rows[0], cfg, rows[1]) + (cfg.task == tasks.MULTI_LABEL)  # + threshold tuning pass
    return RunShape(train_rows=rows[0], validation_rows=rows[1], test_rows=rows[2], tokens=tokens,
                    epochs=cfg.epochs, evaluations=evaluations, parameters=parameters, cached_features=cached_features)


def _planned(calibration: Calibration, shape: RunShape) -> dict:
    return {"seconds": round(estimate_seconds(calibration, shape), 1), "calibration": calibration.key,
            "tokens_per_row": round(shape.tokens, 1), "evaluations": shape.evaluations}


def compare(estimated_s: float, actual_s: float) -> dict:
    """How the estimate held up: both times and actual/estimate (1.0 is exact; within 0.7-1.3 is the aim)."""
    return {"estimated_s": round(estimated_s, 1), "actual_s": round(actual_s, 1),
            "actual_over_estimate": round(actual_s / max(estimated_s, 1e-9), 3)}


@lru_cache(maxsize=8)
def matmul_flops(dtype: str = "float32", size: int = 1024, repeats: int = 8, clock: str = "wall") -> float:
    """Measured dense matmul throughput of this machine's CPU in `dtype`, in FLOP/s (best of `repeats`).

    `clock="cpu"` times by the process's CPU time over its torch threads instead of the wall clock: the
    hardware's own speed even while other jobs share the cores (wall time then counts their turns too).
    """
    a = torch.randn(size, size, dtype=getattr(torch, dtype))
    b = torch.randn(size, size, dtype=getattr(torch, dtype))
    torch.mm(a, b)
    now = time.perf_counter if clock == "wall" else time.process_time
    threads = 1 if clock == "wall" else torch.get_num_threads()
    best = float("inf")
    for _ in range(repeats):
        start = now()
        torch.mm(a, b)
        best = min(best, (now() - start) / threads)
    return 2 * size**3 / max(best, 1e-9)


def training_flops_per_token(config, seq_length: int) -> float:
    """Training FLOPs per token of an encoder: 6 × non-embedding parameters plus attention scores.

    Non-embedding parameters of a layer are 12·d² (attention 4·d², MLP 2·d·d_ff with d_ff = 4·d, in general
    4·d² + 2·d·d_ff); attention adds 12·layers·d·seq per token for training (PaLM appendix B).
    """
    d, layers = config.hidden_size, config.num_hidden_layers
    d_ff = getattr(config, "intermediate_size", 4 * d)
    return 6 * layers * (4 * d * d + 2 * d * d_ff) + 12 * layers * d * seq_length


def compute_parameters(parameters: int) -> float:
    """Parameters that cost FLOPs per token (embeddings are a lookup): total minus a typical embedding table."""
    return max(parameters * 0.5, parameters - 24e6)


def examples_per_second(parameters: int, tokens: float, strategy: str = "full") -> float:
    """Rough training examples per second of a catalogue model from its size alone (no calibration possible)."""
    flops = FLOPS_PER_PARAM.get(strategy, 6.0) * compute_parameters(parameters) * max(tokens, 1.0)
    return matmul_flops() * EFFICIENCY / flops
