"""The wizard's steps, what each needs before it can be used, and the sidebar that shows progress."""

from __future__ import annotations

import streamlit as st

from core import standby
from core.device_queue import describe_position
from core.rundir import LIVE_STATES, WAITING, RunDir
from core.workspace import run_by_name
from ui import state

STEPS = [  # (url path, title, icon)
    ("task", "1 · Task", ":material/flag:"),
    ("data", "2 · Data", ":material/table:"),
    ("augment", "3 · Augment", ":material/auto_fix_high:"),
    ("model", "4 · Model", ":material/psychology:"),
    ("hyperparameters", "5 · Settings", ":material/tune:"),
    ("train", "6 · Train", ":material/model_training:"),
    ("evaluate", "7 · Evaluate", ":material/analytics:"),
    ("export", "8 · Download", ":material/download:"),
    ("runs", "All runs", ":material/history:"),
    ("search", "Hyperparameter search", ":material/travel_explore:"),
]
WIZARD = [slug for slug, _, _ in STEPS[:8]]  # the eight numbered steps; the rest are tools


def active_run() -> RunDir | None:
    """The run the Train, Evaluate and Download steps show, if it still exists."""
    name = state.wizard().get("active_run")
    if not name:
        return None
    run = run_by_name(name)
    return run if run.path.exists() else None


def warm_engine() -> None:
    """Have a warm engine (core.standby) wait while the user is about to start a run, so that it starts at once."""
    standby.ensure()


def active_search() -> RunDir | None:
    """The search the Search page shows, if it still exists."""
    name = state.wizard().get("active_search")
    if not name:
        return None
    folder = run_by_name(name, kind="searches")
    return folder if folder.path.exists() else None


def missing(step: str) -> str:
    """What the user must do before `step` can be used ('' when ready)."""
    wiz = state.wizard()
    data_ready = bool(wiz["data"].get("train")) and wiz["data"].get("columns_ok")
    if step in {"augment", "model", "hyperparameters", "train", "search"} and not data_ready:
        return "Upload data and choose the text and label columns in step 2 (Data) first."
    if step in {"evaluate", "export"}:
        run = active_run()
        if run is None:
            return "Train a model in step 6 (Train) first, or open a finished run from All runs."
        if not run.metrics.exists():
            return "The active run has not finished yet; its results appear here when it completes."
    return ""


def is_done(step: str) -> bool:
    wiz = state.wizard()
    if step == "task":
        return step in wiz["visited"]
    if step == "data":
        return bool(wiz["data"].get("columns_ok"))
    if step in {"augment", "model", "hyperparameters"}:
        return step in wiz["visited"] and not missing(step)
    if step == "train":
        run = active_run()
        return run is not None and run.read_status().get("state") == "completed"
    return step in wiz["visited"] and not missing(step)


def require(step: str) -> bool:
    """Show what is missing for `step` and return False, or return True when it is ready."""
    gap = missing(step)
    if gap:
        st.info(gap, icon=":material/info:")
        return False
    state.mark_visited(step)
    return True


def render_sidebar() -> None:
    """Project, step checklist and the active run's status."""
    wiz = state.wizard()
    with st.sidebar:
        st.caption(f"Project: **{wiz['project']}**")
        done = [slug for slug in WIZARD if is_done(slug)]
        st.progress(len(done) / 8, text=f"{len(done)} of 8 steps done")
        run = active_run()
        if run is not None:
            _run_caption(run)


def _run_caption(run: RunDir) -> None:
    """The active run's state, refreshed every few seconds while it is active."""
    active = run.read_status().get("state") in LIVE_STATES

    @st.fragment(run_every=5 if active else None)
    def caption() -> None:
        state_name = run.read_status().get("state", "?")
        place = f" ({describe_position(run)})" if state_name == WAITING else ""
        st.caption(f"Active run: `{run.name}` — **{state_name.capitalize()}**{place}")

    caption()
