"""core.rundir: the files a running job and its watchers share, and reading liveness from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from core.rundir import HEARTBEAT_TIMEOUT_S, RunDir, pid_alive, read_json, write_json_atomic


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.create()
    return run


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid no longer exists
    return child.pid


def test_write_status_is_atomic_and_keeps_earlier_fields(run):
    before = time.time()
    run.write_status("running", phase="training", pid=os.getpid())
    run.write_status("running", progress={"step": 3})
    status = run.read_status_raw()
    assert status["state"] == "running" and status["phase"] == "training" and status["progress"] == {"step": 3}
    assert before <= status["heartbeat"] <= time.time()
    assert sorted(p.name for p in run.path.iterdir()) == ["status.json"]  # no temp file left behind


def test_heartbeat_is_refreshed_on_every_write(run):
    run.write_status("running", pid=os.getpid())
    first = run.read_status_raw()["heartbeat"]
    time.sleep(0.01)
    run.write_status("running")
    assert run.read_status_raw()["heartbeat"] > first


def test_live_run_reads_running(run):
    run.write_status("running", pid=os.getpid())
    assert run.read_status()["state"] == "running"


def test_running_status_with_dead_pid_reads_crashed(run):
    pid = dead_pid()
    assert not pid_alive(pid)
    run.write_status("running", pid=pid)
    status = run.read_status()
    assert status["state"] == "crashed" and "ended unexpectedly" in status["message"]
    assert run.read_status_raw()["state"] == "running"  # reading never rewrites the file


def test_launcher_pid_file_is_used_when_status_has_no_pid(run):
    (run.path / "pid").write_text(str(dead_pid()))
    run.write_status("queued")
    assert run.read_status()["state"] == "crashed"


def test_stale_heartbeat_reads_crashed(run):
    run.write_status("running", pid=os.getpid())
    status = run.read_status_raw()
    write_json_atomic(run.status_file, {**status, "heartbeat": time.time() - HEARTBEAT_TIMEOUT_S - 5})
    assert run.read_status()["state"] == "crashed"


def test_final_states_are_not_second_guessed(run):
    run.write_status("completed", pid=dead_pid())
    assert run.read_status()["state"] == "completed"


def test_missing_and_queued(tmp_path):
    run = RunDir(tmp_path / "nothing")
    assert run.read_status() == {"state": "missing"}
    run.create()
    run.recipe.write_text("{}")
    assert run.read_status() == {"state": "queued"}


def test_half_written_status_reads_as_absent(run):
    run.status_file.write_text('{"state": "runn')
    assert run.read_status_raw() == {}
    assert read_json(run.status_file) is None


def test_metrics_append_and_read_skip_half_written_line(run):
    assert run.read_metrics() == []
    run.append_metrics({"step": 1, "loss": 0.9})
    run.append_metrics({"step": 2, "loss": 0.7})
    with run.metrics_log.open("a") as handle:
        handle.write('{"step": 3, "lo')  # a writer caught mid-line
    assert run.read_metrics() == [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.7}]


def test_stop_sentinel(run):
    assert not run.stop_requested()
    run.request_stop()
    assert run.stop_requested() and run.stop_file.exists()


def test_tail_log_returns_the_last_lines(run):
    assert run.tail_log() == ""
    run.log.write_text("".join(f"line {i}\n" for i in range(50)))
    assert run.tail_log(3) == "line 47\nline 48\nline 49"


def test_tail_log_folds_progress_bars(run):
    lines = [f"line {i}" for i in range(50)] + ["bar 10%\rbar 50%\rbar 100%", "done"]
    run.log.write_text("\n".join(lines) + "\n")
    assert run.tail_log(3) == "line 49\nbar 100%\ndone"


def test_tail_log_reads_only_the_end_of_a_big_log(run):
    run.log.write_bytes(b"x" * 200_000 + "\nend é\n".encode())
    assert run.tail_log(1) == "end é"


def test_last_checkpoint_orders_numerically(run):
    assert run.last_checkpoint() is None
    for step in (9, 10, 2):
        (run.checkpoints / f"checkpoint-{step}").mkdir(parents=True)
        (run.checkpoints / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert run.last_checkpoint().name == "checkpoint-10"


def test_last_checkpoint_passes_over_one_cut_short_while_saving(run):
    (run.checkpoints / "checkpoint-4").mkdir(parents=True)
    (run.checkpoints / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (run.checkpoints / "checkpoint-8").mkdir()
    (run.checkpoints / "checkpoint-8" / "model.safetensors").write_bytes(b"half")  # no trainer_state.json yet
    assert run.last_checkpoint().name == "checkpoint-4"


def test_write_json_atomic_round_trip(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1, "when": time})  # non-JSON values are stringified, not fatal
    data = json.loads(path.read_text())
    assert data["a"] == 1 and "time" in data["when"]


def test_concurrent_atomic_writes_from_threads_never_fail(tmp_path):
    """The Streamlit server writes the same file (projects/last.json) from one thread per browser session."""
    import threading

    path, errors = tmp_path / "last.json", []

    def write(n: int) -> None:
        for i in range(100):
            try:
                write_json_atomic(path, {"writer": n, "i": i})
            except OSError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and json.loads(path.read_text())["i"] == 99
    assert [p.name for p in tmp_path.iterdir()] == ["last.json"]
