"""Step 1: choose what the model predicts from what, and name the project."""

import pandas as pd
import streamlit as st

from core.config import load_tasks
from core.workspace import list_projects
from ui import state
from ui.forms import models_for_new_task

st.title("What should your model learn?")
wiz = state.wizard()
state.mark_visited("task")

with st.container(border=True):
    left, right = st.columns([2, 1])
    project = left.text_input("Project name", value=wiz["project"],
                              help="Your choices are saved under this name and come back after a reload.")
    others = [p for p in list_projects() if p != wiz["project"]]
    opened = right.selectbox("Open another project", ["—", *others], index=0)
    if project and project != wiz["project"]:
        state.switch_project(project)
        st.rerun()
    if opened != "—":
        state.switch_project(opened)
        st.rerun()

tasks = load_tasks()
titles = {t["id"]: t["title"] + ("" if t["available"] else " (coming soon)") for t in tasks}
available = [t["id"] for t in tasks if t["available"]]
choice = st.radio("Task", list(titles), format_func=titles.get, index=list(titles).index(wiz["task"]),
                  horizontal=True)
task = next(t for t in tasks if t["id"] == choice)
if not task["available"]:
    st.warning(f"{task['title']} is not available yet. Choose one of the text tasks for now.")
else:
    if choice != wiz["task"]:
        # Columns and metrics mean different things per task: map them again on the Data step.
        state.update(task=choice, data={**wiz["data"], "columns_ok": False})
        state.update_config(task=choice, early_stopping_metric="auto", text_pair_column=None,
                            **models_for_new_task(choice, wiz["config"]))
    st.subheader(task["title"])
    st.write(task["summary"])
    st.info(task["explanation"], icon=":material/lightbulb:")
    st.caption("Your data should look like this — one row per example:")
    st.dataframe(pd.DataFrame(task["example"]), hide_index=True, width="content")
    st.page_link("views/data.py", label="Next: upload your data", icon=":material/arrow_forward:")
