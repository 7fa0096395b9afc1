"""How long a run will take on this machine, from measured matmul speed and the model's FLOPs per token."""

from __future__ import annotations

import time
from functools import lru_cache

import torch

# Share of the matmul peak that small-batch transformer training reaches on CPU (measured on the
# bundled MiniLM at ~25 tokens per row: about 70 GFLOP/s of a ~150 GFLOP/s peak on 2 cores).
EFFICIENCY = 0.45
# Training costs about 6 FLOPs per parameter per token (forward 2, backward 4; Kaplan et al. 2020);
# a frozen backbone skips most of the backward pass.
FLOPS_PER_PARAM = {"full": 6.0, "top_layers": 3.0, "lora": 4.0, "frozen": 2.0}
STARTUP_S = 15.0
# One 224-pixel image through MobileNetV2 costs ~0.3 GFLOP forward (Sandler et al. 2018), what 86 tokens cost
# through its 1.75M compute parameters at 2 FLOPs each: the "tokens" of an image in the formulas below.
IMAGE_TOKEN_EQUIVALENT = 86.0


@lru_cache(maxsize=1)
def matmul_flops(size: int = 512, repeats: int = 5) -> float:
    """Measured fp32 dense matmul throughput of this machine, in FLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    elapsed = time.perf_counter() - start
    return 2 * size**3 * repeats / max(elapsed, 1e-9)


def compute_parameters(parameters: int) -> float:
    """Parameters that cost FLOPs per token (embeddings are a lookup): total minus a typical embedding table."""
    return max(parameters * 0.5, parameters - 24e6)


def examples_per_second(parameters: int, tokens: float, strategy: str = "full") -> float:
    """Estimated training examples per second for a model size and mean tokens per example."""
    flops = FLOPS_PER_PARAM.get(strategy, 6.0) * compute_parameters(parameters) * max(tokens, 1.0)
    return matmul_flops() * EFFICIENCY / flops


def estimate_seconds(parameters: int, train_rows: int, eval_rows: int, test_rows: int, tokens: float,
                     epochs: float, evaluations: int, strategy: str) -> float:
    """Estimated wall time of a whole run: start-up, training, validation passes and the test pass."""
    train = epochs * train_rows / examples_per_second(parameters, tokens, strategy)
    forward_rate = examples_per_second(parameters, tokens, "frozen")
    return STARTUP_S + train + (evaluations * eval_rows + test_rows) / forward_rate
