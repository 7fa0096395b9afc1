"""The warm engine: a standby process that imported the engine becomes the next run the app starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core import standby
from core.launcher import start_run
from core.rundir import RunDir
from core.workspace import new_run_dir
from tests.conftest import kill
from tests.test_faults import recipe, wait_for


@pytest.fixture
def data(sentiment_csv):
    return sentiment_csv


@pytest.fixture
def warm(home, monkeypatch):
    """Warm starts on for this workspace; any standby left behind is killed afterwards."""
    monkeypatch.setenv("FINETUNE_WARM_ENGINE", "1")
    yield standby.folder()
    for name in ("pid", "ready"):
        try:
            kill(int((standby.folder() / name).read_text()))
        except (OSError, ValueError):
            pass


def test_a_run_starts_in_the_waiting_standby_and_completes(warm, data, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(standby, "HAND_OVER_TIMEOUT_S", 60)  # a loaded box may be slow to schedule the standby
    pid = standby.ensure()
    assert pid and standby.ensure() == pid  # one standby per workspace
    assert wait_for(standby.ready_pid, timeout=180) == pid  # imports done

    run = new_run_dir("warm")
    run_pid = start_run(recipe(data, tiny_model_dir, epochs=1), run)

    assert run_pid == pid  # no new interpreter: the standby became the run
    assert not (warm / "job.json").exists()
    wait_for(lambda: not (warm / "ready").exists(), 10, step=0.01)  # removed once it has read the job it took
    status = wait_for(lambda: RunDir(run.path).read_status().get("state") in {"completed", "failed", "crashed"}
                      and RunDir(run.path).read_status(), timeout=240)
    assert status["state"] == "completed", run.log.read_text()[-2000:]
    assert status["pid"] == pid
    assert "Test accuracy=" in run.log.read_text()  # the CLI's own log lines went to the run's log
    assert (run.path / "metrics.json").exists() and (run.path / "model" / "config.json").exists()
    kill(pid)  # reap the finished child (it exits by itself; a zombie would still look alive)


def test_without_a_ready_standby_the_launcher_starts_a_fresh_process(warm):
    (warm / "ready").write_text("999999")  # a standby that died without cleaning up
    assert standby.hand_over([sys.executable, "-m", "core", "train"], warm / "log.txt") is None
    assert standby.ready_pid() is None and not (warm / "job.json").exists()


def test_an_unclaimed_offer_is_withdrawn(warm, monkeypatch):
    monkeypatch.setattr(standby, "HAND_OVER_TIMEOUT_S", 0.3)
    (warm / "ready").write_text(str(os.getpid()))  # alive and up to date, but never takes the job
    (warm / "version.json").write_text(json.dumps({"code": standby.code_version()}))
    assert standby.hand_over([sys.executable, "-m", "core", "train"], warm / "log.txt") is None
    assert not (warm / "job.json").exists()  # nothing left for a standby to pick up later
    assert not list(warm.glob("withdrawn-*"))  # and no leftovers


def test_a_standby_with_older_code_is_sent_away(warm):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    (warm / "ready").write_text(str(sleeper.pid))
    (warm / "version.json").write_text('{"code": "0"}')  # imported before the code changed
    assert standby.hand_over([sys.executable, "-m", "core", "train"], warm / "log.txt") is None
    assert sleeper.wait(timeout=10) != 0  # terminated
    assert not (warm / "job.json").exists()


def test_no_standby_is_started_beside_an_active_job(warm):
    busy = new_run_dir("busy")
    busy.create()
    busy.write_status("running", pid=os.getpid())
    assert standby.ensure() is None and not (warm / "pid").exists()


def test_off_switch(home, monkeypatch):
    monkeypatch.setenv("FINETUNE_WARM_ENGINE", "0")
    assert standby.ensure() is None and not (standby.folder() / "pid").exists()


def test_an_idle_standby_leaves_and_cleans_up(warm):
    done = subprocess.run([sys.executable, "-m", "core", "standby", "--idle-timeout", "0.5"], timeout=180,
                          env={**os.environ}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (warm / "ready").exists()
