"""`python -m core train` as a user types it: a real run, and bad inputs that must end in one clear line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from tests.conftest import make_sentiment_frame

REPO = Path(__file__).resolve().parents[1]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING) ")


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, timeout=timeout)


@pytest.mark.slow
def test_train_through_the_cli(tmp_path, tiny_model_dir, sentiment_csv):
    out = tmp_path / "run"
    result = run_cli("train", "--train", str(sentiment_csv), "--model", str(tiny_model_dir), "--output", str(out),
                     "--epochs", "1", "--batch-size", "8", "--learning-rate", "5e-3", "--max-length", "32",
                     "--evaluations-per-epoch", "1", "--device", "cpu")
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads(result.stdout) == metrics  # the CLI prints the final metrics
    assert {"accuracy", "f1_macro", "test_rows"} <= set(metrics)
    assert json.loads((out / "status.json").read_text())["state"] == "completed"
    assert (out / "model" / "model.safetensors").is_file()
    status = run_cli("status", str(out), timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "completed"


def test_stop_command_writes_the_sentinel(tmp_path):
    result = run_cli("stop", str(tmp_path), timeout=60)
    assert result.returncode == 0 and (tmp_path / "STOP").exists()


# name -> (files to write, extra CLI args, extra env, expected error kind, fragment of the message).
# "{good}" is a valid training file; "{tmp}" the case's folder.
CASES = {
    "missing file": ({}, ["--train", "{tmp}/absent.csv"], {}, "Data error", "does not exist"),
    "empty file": ({"empty.csv": b""}, ["--train", "{tmp}/empty.csv"], {}, "Data error", "is empty"),
    "unknown column": ({}, ["--train", "{good}", "--text-column", "review"], {}, "Data error", "no column 'review'"),
    "all-empty column": ({"blank.csv": "blank_label"}, ["--train", "{tmp}/blank.csv"], {}, "Data error",
                         "label column 'label' in blank.csv is empty"),
    "single class": ({"one.csv": "one_class"}, ["--train", "{tmp}/one.csv"], {}, "Data error", "only one class"),
    "label only in test file": ({"test.csv": "unseen_label"}, ["--train", "{good}", "--test", "{tmp}/test.csv"], {},
                                "Data error", "never seen in training: neutral"),
    # cp1252 loads fine; the bad model then stops the run before training, proving the data was read.
    "cp1252 file": ({"ansi.csv": "cp1252"}, ["--train", "{tmp}/ansi.csv", "--model", "does/not/exist"], {},
                    "Model error", "does/not/exist"),
    "ragged rows": ({"ragged.csv": b"text,label\na fine film,pos\nbad,neg,extra,cells\n"},
                    ["--train", "{tmp}/ragged.csv"], {}, "Data error", "wrong number of columns"),
    "binary file": ({"binary.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"}, ["--train", "{tmp}/binary.csv"],
                    {}, "Data error", "binary"),
    "model id that is no folder": ({}, ["--train", "{good}", "--model", "does/not/exist"], {}, "Model error",
                                   "not a catalogue model"),
    "missing model folder": ({}, ["--train", "{good}", "--model", "{tmp}/no-model"], {}, "Model error",
                             "does not exist"),
    "hub id while offline": ({}, ["--train", "{good}", "--model", "someone/nonexistent-model"],
                             {"HF_HUB_OFFLINE": "1"}, "Model error", "could not be loaded"),
    "bad setting": ({}, ["--train", "{good}", "--epochs", "0"], {}, "Configuration error", "Epochs"),
}


def make_content(kind: str | bytes) -> bytes:
    if isinstance(kind, bytes):
        return kind
    frame = make_sentiment_frame(copies=3)
    if kind == "blank_label":
        frame = frame.assign(label="")
    elif kind == "one_class":
        frame = frame.assign(label="positive")
    elif kind == "unseen_label":
        frame = pd.concat([frame.head(4), pd.DataFrame([{"text": "neither here nor there", "label": "neutral"}])])
    elif kind == "cp1252":
        frame = frame.assign(text=frame["text"] + " – café")
        return frame.to_csv(index=False).encode("cp1252")
    return frame.to_csv(index=False).encode("utf-8")


def prepare_case(name: str, folder: Path, good: Path) -> tuple[list[str], dict]:
    """Write the case's files into `folder`; return its CLI arguments and extra environment."""
    files, args, env, _, _ = CASES[name]
    for file_name, kind in files.items():
        (folder / file_name).write_bytes(make_content(kind))
    args = [a.format(tmp=folder, good=good) for a in args]
    return ["train", *args, "--output", str(folder / "run")], env


@pytest.fixture
def good_csv(tmp_path) -> Path:
    path = tmp_path / "good.csv"
    make_sentiment_frame(copies=3).to_csv(path, index=False)
    return path


def assert_one_clear_line(name: str, code: int, stdout: str, stderr: str) -> None:
    *_, kind, fragment = CASES[name]
    assert code == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    messages = [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert len(messages) == 1, stderr
    assert messages[0].startswith(f"{kind}: ") and fragment in messages[0]
    assert stdout == ""


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_clear_line(name, tmp_path, good_csv, capsys, monkeypatch):
    """In-process `core.cli.main`: the same code path as the command, without paying the import time per case."""
    args, env = prepare_case(name, tmp_path, good_csv)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(args)  # an uncaught exception here is the in-process form of a traceback
    captured = capsys.readouterr()
    assert_one_clear_line(name, code, captured.out, captured.err)


# One case runs through `python -m core` in every test run; all of them do when slow tests are selected.
SUBPROCESS_CASES = [pytest.param(name, marks=() if name == "binary file" else pytest.mark.slow) for name in CASES]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_through_python_m_core(name, tmp_path, good_csv):
    args, env = prepare_case(name, tmp_path, good_csv)
    result = run_cli(*args, env=env)
    assert_one_clear_line(name, result.returncode, result.stdout, result.stderr)
