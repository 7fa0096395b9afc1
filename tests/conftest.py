"""Shared fixtures: a tiny randomly initialised BERT in a temp dir, small labelled tables, offline Hub."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# No warm engine processes behind the AppTest pages (each would import torch for ~10 s); tests/test_standby.py
# and the browser tests turn it on.
os.environ["FINETUNE_WARM_ENGINE"] = "0"

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

POSITIVE = ["a great and moving film", "wonderful acting and a fine story", "i loved every minute of it",
            "brilliant , funny and warm", "a delight from start to end", "superb direction and great music"]
NEGATIVE = ["a dull and boring mess", "terrible acting and a weak plot", "i hated every minute of it",
            "tedious , flat and lifeless", "a waste of time and money", "awful direction and bad music"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with the bundled model's tokenizer, saved in Hugging Face format."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from core.catalogue import find_entry, package_folder

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(package_folder(find_entry("all-minilm-l6-v2").location))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_sentiment_frame(copies: int = 10) -> pd.DataFrame:
    """A small, separable two-class table with distinct rows (word order varied per copy)."""
    rows = []
    for i in range(copies):
        for text in POSITIVE:
            rows.append({"text": f"{text} {'truly ' * (i % 4)}number {i}", "label": "positive"})
        for text in NEGATIVE:
            rows.append({"text": f"{text} {'really ' * (i % 4)}number {i}", "label": "negative"})
    return pd.DataFrame(rows)


@pytest.fixture
def sentiment_csv(tmp_path) -> Path:
    path = tmp_path / "reviews.csv"
    make_sentiment_frame().to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True, scope="session")
def private_workspace(tmp_path_factory):
    """Point every test (and the processes it starts) at a throwaway workspace, never the user's real one.

    Starting a job now checks the workspace for busy jobs, so a run of the user's own (or a benchmark's)
    would otherwise change what a test sees.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("FINETUNE_HOME", str(tmp_path_factory.mktemp("workspace")))
    yield
    patch.undo()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty workspace (FINETUNE_HOME) for one test."""
    folder = tmp_path / "home"
    monkeypatch.setenv("FINETUNE_HOME", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_image_model_dir(tmp_path_factory) -> Path:
    """A very thin random MobileNetV2 with its image processor (see tests/image_helpers.py)."""
    from tests.image_helpers import save_tiny_mobilenet

    return save_tiny_mobilenet(tmp_path_factory.mktemp("tiny-mobilenet"))


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Two colour classes of 12 small PNGs each, one sub-folder per class."""
    from tests.image_helpers import make_image_folder

    return make_image_folder(tmp_path / "images")


SLEEP = [sys.executable, "-c", "import time; time.sleep(3600)"]  # killed by its test; alive however slow the box


def kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)  # reap it: a zombie child would still look alive to os.kill(pid, 0)
    except ChildProcessError:
        pass


@pytest.fixture
def busy(home):
    """A run of the workspace whose (detached) process is alive and training."""
    from core.launcher import _spawn
    from core.workspace import new_run_dir

    run = new_run_dir("busy")
    pid = _spawn(SLEEP, run)
    run.write_status("running", pid=pid)
    yield run
    kill(pid)
