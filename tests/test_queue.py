"""The device queue: FIFO order, a waiting job's turn, dead waiters, cancelling a wait, and listing the queue."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

import core.launcher
from core.cli import main
from core.config import TrainConfig
from core.device_queue import describe_position, list_queue, try_take_turn, wait_for_device, waiting_jobs
from core.errors import ConfigError, ResourceError
from core.launcher import REPO_ROOT, WAIT_FLAG, start_run
from core.rundir import RunDir
from core.workspace import delete_run, new_run_dir
from tests.conftest import SLEEP, kill
from tests.test_faults import recipe, wait_for
from tests.test_pages import by_label, open_page, ready_wizard, texts

QUIT = [sys.executable, "-c", "pass"]


def command_line(pid: int) -> list[str]:
    """The argv of a process we just started.

    Popen returns once the child's exec has closed the close-on-exec pipe, which on Linux is a moment before the
    new program's arguments are in place: /proc/PID/cmdline reads empty in between (seen on a loaded CI box).
    """
    return wait_for(lambda: open(f"/proc/{pid}/cmdline").read(), 10, step=0.01).split("\0")


def waiting(name: str, enqueued: float, pid: int | None = None) -> RunDir:
    """A run that waits in the queue, enqueued at `enqueued`, held by a live process (this one) by default."""
    run = new_run_dir(name)
    run.create()
    run.write_status("waiting", pid=pid or os.getpid(), enqueued=enqueued)
    return run


def test_waiting_jobs_go_first_in_first_out(busy):
    later, earlier = waiting("later", 200.0), waiting("earlier", 100.0)
    assert [job.run.name for job in waiting_jobs()] == [earlier.name, later.name]
    kill(busy.launched_pid())  # the device is free now
    assert not try_take_turn(later), "the later job must not jump the earlier one"
    assert try_take_turn(earlier) and earlier.read_status()["state"] == "queued"
    assert not try_take_turn(later), "the earlier job now holds the device"


def test_a_waiting_job_starts_when_the_active_one_ends(busy):
    run = new_run_dir("next")
    done = []
    thread = threading.Thread(target=lambda: done.append(wait_for_device(run, poll_s=0.05)), daemon=True)
    thread.start()
    wait_for(lambda: run.read_status().get("state") == "waiting", 10)
    time.sleep(0.3)
    assert not done, "it must wait while the busy run trains"
    kill(busy.launched_pid())
    thread.join(60)
    assert not thread.is_alive() and done == [True]
    assert run.read_status()["state"] == "queued" and run.read_status()["pid"] == os.getpid()


def test_a_waiting_job_whose_process_died_is_skipped(busy):
    dead = subprocess.Popen(QUIT)
    dead.wait()
    ghost, alive = waiting("ghost", 100.0, pid=dead.pid), waiting("alive", 200.0)
    assert ghost.read_status()["state"] == "crashed", "crash detection covers waiting runs"
    assert [job.run.name for job in waiting_jobs()] == [alive.name]
    kill(busy.launched_pid())
    assert try_take_turn(alive)


def test_a_waiting_run_cannot_be_deleted_under_its_process(home):
    run = waiting("patient", 100.0)
    with pytest.raises(ConfigError, match="waiting in the queue"):
        delete_run(run)
    assert run.path.exists()


def test_the_launcher_queues_instead_of_refusing_and_a_plain_start_cannot_jump_the_queue(busy, monkeypatch):
    monkeypatch.setattr(core.launcher, "train_command", lambda run, resume=False: SLEEP)
    with pytest.raises(ResourceError, match="still active"):
        start_run(TrainConfig(), new_run_dir("refused"))
    queued = new_run_dir("queued")
    pid = start_run(TrainConfig(), queued, wait=True)
    try:
        assert queued.read_status()["state"] == "waiting" and queued.request.exists()
        assert WAIT_FLAG in command_line(pid)
        kill(busy.launched_pid())
        with pytest.raises(ResourceError, match="wait for the device"):
            start_run(TrainConfig(), new_run_dir("jumper"))
    finally:
        kill(pid)


@pytest.mark.slow
def test_a_queued_run_trains_to_the_end_once_the_device_is_free(busy, sentiment_csv, tiny_model_dir):
    run = new_run_dir("queued")
    start_run(recipe(sentiment_csv, tiny_model_dir, epochs=1), run, wait=True)
    time.sleep(3)
    assert run.read_status()["state"] == "waiting" and not run.recipe.exists(), "nothing trains while it waits"
    kill(busy.launched_pid())
    wait_for(lambda: run.read_status()["state"] not in {"waiting", "queued", "running"}, 300, step=1)
    assert run.read_status()["state"] == "completed", run.tail_log()
    assert run.metrics.exists() and run.model.is_dir()


def test_stop_on_a_waiting_job_cancels_it_before_torch_is_imported(busy, tmp_path):
    output = tmp_path / "waiter"
    probe = ("import sys; from core.cli import main; code = main(sys.argv[1:]); "
             "print('torch imported' if 'torch' in sys.modules else 'torch not imported'); sys.exit(code)")
    child = subprocess.Popen([sys.executable, "-c", probe, "train", "--output", str(output), WAIT_FLAG],
                             cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = RunDir(output)
    wait_for(lambda: run.read_status().get("state") == "waiting", 30)
    main(["stop", str(output)])
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0 and "torch not imported" in out and "Cancelled" in err
    status = run.read_status()
    assert status["state"] == "stopped" and "never trained" in status["message"] and not run.recipe.exists()


def test_a_headless_start_on_a_busy_device_is_refused_with_a_hint_to_wait(busy, tmp_path, capsys):
    assert main(["train", "--output", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert f"run {busy.name} is still active" in err and WAIT_FLAG in err


def test_the_queue_lists_the_active_job_then_the_waiting_ones_with_their_positions(busy, capsys):
    second, first = waiting("second", 200.0), waiting("first", 100.0)
    assert [(job.position, job.run.name) for job in list_queue()] == [(0, busy.name), (1, first.name),
                                                                      (2, second.name)]
    assert describe_position(first) == f"1st in queue, after run {busy.name}"
    assert describe_position(second) == f"2nd in queue, after run {first.name}"
    assert describe_position(busy) is None
    main(["queue"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["active", "running"], ["1st", "waiting"], ["2nd", "waiting"]]
    assert lines[2].endswith(second.name)


# --- the queue in the UI -------------------------------------------------------------------------------------------


def test_the_runs_page_shows_each_waiting_run_with_its_place(busy):
    second, first = waiting("second", 200.0), waiting("first", 100.0)
    at = open_page("runs", ready_wizard())
    runs, queue = at.dataframe[0].value, at.dataframe[1].value
    states = dict(zip(runs["name"], runs["state"], strict=True))
    assert states[second.name] == f"waiting (2nd in queue, after run {first.name})"
    assert states[first.name] == f"waiting (1st in queue, after run {busy.name})"
    assert queue[["place", "name"]].values.tolist() == [["now", busy.name], ["1st", first.name],
                                                        ["2nd", second.name]]


def test_the_train_page_queues_a_run_and_shows_its_place(busy, monkeypatch):
    monkeypatch.setattr(core.launcher, "train_command", lambda run, resume=False: SLEEP)
    at = open_page("train", ready_wizard())
    queue = next(b for b in at.button if b.label == "Queue this run")
    assert not queue.disabled, "offered while another run holds the device"
    queue.click().run()
    run = RunDir(busy.path.parent / at.session_state["wizard"]["active_run"])
    try:
        assert run.read_status()["state"] == "waiting"
        assert "Waiting in queue" in texts(at.markdown)
        assert texts(at.caption).count(f"1st in queue, after run {busy.name}") == 2  # the page and the sidebar
        assert any(b.label == "Leave the queue" for b in at.button)
    finally:
        kill(run.launched_pid())


def test_the_search_page_offers_the_queue_and_shows_a_waiting_search_with_its_place(busy):
    at = open_page("search", ready_wizard())
    assert not by_label(at.button, "Queue this search").disabled, "offered while another job holds the device"
    folder = new_run_dir("patient", kind="searches")
    folder.create()
    folder.write_status("waiting", pid=os.getpid(), enqueued=100.0)
    at = open_page("search", ready_wizard(active_search=folder.name))
    assert by_label(at.button, "Queue this search").disabled, "its own search already waits"
    assert "Waiting" in texts(at.markdown)
    assert f"1st in queue, after run {busy.name}" in texts(at.caption)
    by_label(at.button, "Leave the queue").click().run()
    assert folder.stop_requested()


def test_an_active_search_is_named_a_search_in_the_refusal_and_the_queue(home):
    search = new_run_dir("looking", kind="searches")
    search.create()
    search.write_status("running", pid=os.getpid())
    with pytest.raises(ResourceError, match=f"The search {search.name} is still active"):
        start_run(TrainConfig(), new_run_dir("refused"))
    assert [job.label for job in list_queue()] == [f"search {search.name}"]
