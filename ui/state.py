"""The wizard's state: the only module that touches `st.session_state`, mirrored to disk per project."""

from __future__ import annotations

import copy
from typing import Any

import streamlit as st

from core.config import TrainConfig
from core.workspace import last_project, load_project, safe_name, save_project

KEY = "wizard"
DEFAULT_PROJECT = "my-first-model"


def blank_state(project: str = DEFAULT_PROJECT) -> dict[str, Any]:
    """A new project's wizard state: plain, JSON-ready data."""
    return {"project": safe_name(project), "task": "text-classification", "data": {}, "config": TrainConfig().to_dict(),
            "preset": "Balanced", "active_run": None, "visited": []}


def wizard() -> dict[str, Any]:
    """The current wizard state, restored from disk after a reload or a server restart."""
    if KEY not in st.session_state:
        name = last_project()
        saved = load_project(name) if name else {}
        state = blank_state(name or DEFAULT_PROJECT)
        state.update(saved)
        state["config"] = {**TrainConfig().to_dict(), **saved.get("config", {})}
        st.session_state[KEY] = state
    return st.session_state[KEY]


def save() -> None:
    """Write the wizard state to the project folder."""
    state = wizard()
    save_project(state["project"], state)


def update(**changes: Any) -> None:
    """Change top-level wizard fields and persist them."""
    wizard().update(changes)
    save()


def option_key(name: str) -> str:
    """The widget key of recipe option `name` (see ui/forms.py)."""
    return f"opt_{name}"


def update_config(**changes: Any) -> None:
    """Change recipe fields and persist them; the options' widgets then show the new values."""
    wizard()["config"].update(changes)
    for name in changes:
        # A keyed widget keeps its own value across reruns and would write the old one back (e.g. over a preset).
        st.session_state.pop(option_key(name), None)
    save()


def config() -> TrainConfig:
    """The recipe the wizard has built so far."""
    data = copy.deepcopy(wizard()["config"])
    data.update({k: v for k, v in wizard().get("data", {}).items() if k in {"train", "validation", "test"}})
    return TrainConfig.from_dict(data)


def switch_project(name: str) -> None:
    """Open (or create) another project."""
    name = safe_name(name)
    saved = load_project(name)
    state = blank_state(name)
    state.update(saved)
    state["config"] = {**TrainConfig().to_dict(), **saved.get("config", {})}
    st.session_state[KEY] = state
    save()


def mark_visited(step: str) -> None:
    if step not in wizard()["visited"]:
        wizard()["visited"].append(step)
        save()


def chat_history(run_name: str) -> list[dict[str, str]]:
    """The Evaluate step's chat with a run's model ({role, content} turns), kept for this browser session only."""
    return st.session_state.setdefault("chats", {}).setdefault(run_name, [])
