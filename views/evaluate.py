"""Step 7: honest test-split results, against baselines, with the errors and a box to try the model."""

import streamlit as st

from core import tasks
from core.rundir import read_json
from ui import steps, task_views

st.title("Evaluation")
if not steps.require("evaluate"):
    st.stop()
run = steps.active_run()
report = read_json(run.report)
if not report:
    st.error("This run has no evaluation report. Resume or re-run it.")
    st.stop()
task = task_views.report_task(report)
rows = "sentences" if task == tasks.NER else "rows"
st.caption(f"Run `{run.name}` · measured on **{report['test_rows']:,} held-out test {rows}** the model never saw.")

for hint in report.get("advice", []):
    st.info(hint, icon=":material/tips_and_updates:")
if task == tasks.IMAGE:
    from ui.image_views import show_image_classification

    show_image_classification(report, run)
else:
    task_views.VIEWS.get(task, task_views.show_classification)(report, run)
st.page_link("views/export.py", label="Next: download the model", icon=":material/arrow_forward:")
