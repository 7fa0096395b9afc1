"""The quality report on the Data step: findings worst first, each with its one-click fix."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.fixes import FIXES
from ui import state

ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}
SHOW = {"error": st.error, "warning": st.warning, "info": st.info}
# Findings whose fix is a cleaning setting of the recipe rather than a recorded fix step.
SETTINGS = {"drop_duplicates": "Drop exact duplicates (cleaning setting)",
            "drop_empty": "Drop rows with an empty text or answer (cleaning setting)",
            "class_weights": "Use balanced class weights"}


def is_done(action: str, cfg: dict) -> bool:
    """Whether the recipe already applies this fix."""
    if action == "class_weights":
        return cfg["class_weights"] == "balanced"
    return bool(cfg[action]) if action in SETTINGS else action in cfg["fixes"]


def apply_action(action: str) -> None:
    """Record a one-click fix in the recipe (fixes replay in the headless run) or turn on class weights."""
    cfg = state.wizard()["config"]
    if action == "class_weights":
        state.update_config(class_weights="balanced")
    elif action in SETTINGS:
        state.update_config(**{action: True})
    elif action in FIXES and action not in cfg["fixes"]:
        state.update_config(fixes=[*cfg["fixes"], action])


def show_finding(finding: dict, index: int) -> None:
    """One finding: message, fix, examples, and its button when a one-click fix exists."""
    cfg = state.wizard()["config"]
    SHOW[finding["severity"]](f"**{finding['check'].replace('_', ' ').capitalize()}:** {finding['message']} "
                              f"{finding['fix']}", icon=ICONS[finding["severity"]])
    examples = finding["examples"]
    if examples:
        with st.expander(f"Examples ({min(len(examples), 20)} of {finding['count']:,})"):
            frame = pd.DataFrame(examples) if isinstance(examples[0], dict) else pd.DataFrame({"example": examples})
            st.dataframe(frame, hide_index=True)
    action = finding.get("action")
    if not action:
        return
    if action not in SETTINGS and action not in FIXES:
        return
    done = is_done(action, cfg)
    label = SETTINGS[action] if action in SETTINGS else FIXES[action][1]
    if done:
        st.caption(f"✓ {label}: recorded in the recipe.")
    elif st.button(label, key=f"fix_{index}_{action}"):
        apply_action(action)
        st.rerun()
    if action == "drop_label_errors" and not done and "relabel_label_errors" not in cfg["fixes"]:
        if st.button(FIXES["relabel_label_errors"][1], key=f"fix_{index}_relabel"):
            apply_action("relabel_label_errors")
            st.rerun()


def show_report(report: dict) -> None:
    """Every finding of the report, and the fixes already chosen (with a way to undo them)."""
    st.caption(f"{len(report['findings'])} finding(s) in {report['seconds']:.1f} s.")
    for i, finding in enumerate(report["findings"]):
        show_finding(finding, i)
    fixes = state.wizard()["config"]["fixes"]
    if fixes and st.button("Undo all one-click fixes", key="fix_undo"):
        state.update_config(fixes=[])
        st.rerun()
