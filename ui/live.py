"""The live view of one run: status, progress with ETA, curves and log, redrawn while the run is active."""

from __future__ import annotations

import time

import streamlit as st

from core.config import headline_metric
from core.device_queue import describe_position, list_queue
from core.errors import FineTuneError
from core.launcher import start_run
from core.rundir import ACTIVE_STATES, LIVE_STATES, WAITING, RunDir, read_json
from ui import charts

BADGES = {WAITING: ("Waiting in queue", "violet"),
          "queued": ("Starting", "blue"), "running": ("Running", "blue"), "stopping": ("Stopping", "orange"),
          "completed": ("Completed", "green"), "stopped": ("Stopped", "orange"), "failed": ("Failed", "red"),
          "crashed": ("Crashed", "red")}
POLL_S = 2


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _controls(run: RunDir, state: str) -> None:
    if state == WAITING:
        if st.button("Leave the queue", icon=":material/cancel:", help="Cancels this run before it trains."):
            run.request_stop()
            st.toast("The run leaves the queue within a few seconds.")
    elif state in {"running", "queued"}:
        if st.button("Stop", icon=":material/stop:", help="Stops after the current step and keeps the best model."):
            run.request_stop()
            st.toast("Stop requested; the best model so far will be evaluated and saved.")
    elif state in {"stopped", "crashed", "failed"} and run.last_checkpoint() is not None:
        _resume(run)


def _resume(run: RunDir) -> None:
    """Resume now, or, while another job holds the device, queue the resumed run behind it."""
    busy = bool(list_queue())
    label, icon = ("Queue resume", ":material/queue:") if busy else ("Resume", ":material/replay:")
    if st.button(label, icon=icon, help="Continues from the last checkpoint" + (" once the device is free." if busy
                                                                                else ".")):
        try:
            start_run(None, run, resume=True, wait=busy)
        except FineTuneError as exc:  # another job took the machine meanwhile
            st.error(f"**{exc.kind}:** {exc}")
            return
        st.rerun(scope="app")


def _progress(status: dict) -> None:
    progress = status.get("progress") or {}
    step, total = progress.get("step", 0), progress.get("max_steps") or 0
    fraction = min(step / total, 1.0) if total else 0.0
    if status.get("state") == "completed":
        fraction = 1.0
    eta = _duration(progress.get("eta_s"))
    text = f"Step {step} of {total or '?'} · epoch {progress.get('epoch', 0):.2f} · ETA {eta}"
    st.progress(fraction, text=text if status.get("state") in ACTIVE_STATES else f"Step {step} of {total or '?'}")
    elapsed = progress.get("elapsed_s")
    if status.get("state") in ACTIVE_STATES and status.get("started"):
        elapsed = time.time() - float(status["started"])
    speed = progress.get("examples_per_s")
    cols = st.columns(4)
    cols[0].metric("Elapsed", _duration(elapsed))
    cols[1].metric("Estimated", _duration((status.get("estimate") or {}).get("seconds")),
                   help="Whole run, estimated before it started from a timed calibration of this model on this "
                        "machine; early stopping can make it shorter.")
    cols[2].metric("Speed", f"{speed:.1f} rows/s" if speed else "—")
    cols[3].metric("Phase", status.get("phase", "—"))


def run_metric(run: RunDir) -> str:
    """The validation metric a run is judged by (its recipe's, else its task's headline metric)."""
    recipe = read_json(run.recipe) or {}
    metric = recipe.get("early_stopping_metric", "auto")
    return headline_metric(recipe.get("task", "text-classification")) if metric in {"auto", "loss"} else metric


def _body(run: RunDir) -> str:
    status = run.read_status()
    state = status.get("state", "queued")
    label, colour = BADGES.get(state, (state.capitalize(), "gray"))
    st.markdown(f"### Status: :{colour}-badge[{label}]")
    if state == WAITING:
        st.caption(f"{describe_position(run) or 'In the queue'}. It starts by itself; you can close this tab.")
    if status.get("message"):
        (st.error if state in {"failed", "crashed"} else st.info)(status["message"])
    _controls(run, state)
    _progress(status)
    records = run.read_metrics()
    if not records:
        st.caption("Charts of loss, the validation metric and learning rate appear after the first training steps.")
    else:
        c1, c2, c3 = st.columns(3)
        c1.plotly_chart(charts.training_curves(records, "loss"), key="loss")
        c2.plotly_chart(charts.training_curves(records, run_metric(run)), key="acc")
        c3.plotly_chart(charts.training_curves(records, "learning_rate"), key="lr")
    with st.expander("Log", expanded=state in {"failed", "crashed"}):
        st.code(run.tail_log(40) or "(no output yet)", language="text")
    if state == "completed":
        st.page_link("views/evaluate.py", label="See the evaluation", icon=":material/arrow_forward:")
    return state


def render_run(run: RunDir) -> None:
    """Draw the run; while it is active, redraw every two seconds from the files on disk."""
    active = run.read_status().get("state") in LIVE_STATES

    @st.fragment(run_every=POLL_S if active else None)
    def live() -> None:
        state = _body(run)
        if active and state not in LIVE_STATES:
            st.rerun(scope="app")  # stop polling and refresh the sidebar

    live()
