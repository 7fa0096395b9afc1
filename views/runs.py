"""Every run on disk: status and metrics, compare curves, open one, delete with confirmation."""

import datetime as dt

import pandas as pd
import streamlit as st

from core.device_queue import list_queue, ordinal, queue_places
from core.errors import FineTuneError
from core.rundir import read_json
from core.workspace import delete_run, list_runs, list_trials, recipe_differences, run_by_name
from ui import charts, ecosystem, state
from ui.forms import METRIC_NAMES
from ui.live import run_metric

st.title("All runs")
runs = list_runs()
if not runs:
    st.info("No runs yet. They appear here once you start training.", icon=":material/info:")
    st.stop()

table = pd.DataFrame(runs)
queue = list_queue()  # one scan of the workspace for the state column and the queue table
places = {path.name: place for path, place in queue_places(queue).items()}
table["state"] = [f"waiting ({places[name]})" if name in places else state_name
                  for name, state_name in zip(table["name"], table["state"], strict=True)]
table["started"] = table["started"].map(lambda t: dt.datetime.fromtimestamp(float(t)).strftime("%Y-%m-%d %H:%M"))
table["metric"] = table["metric"].map(lambda m: METRIC_NAMES.get(m, m))
st.dataframe(table[["name", "state", "started", "task", "model", "strategy", "metric", "score"]], hide_index=True,
             column_config={"name": "run", "state": "status", "metric": "headline test metric",
                            "score": st.column_config.NumberColumn("test score", format="%.4f")})

if len(queue) > 1 or any(job.position for job in queue):
    st.subheader("Queue")
    st.caption("One job uses the processor at a time; the waiting ones start by themselves, in this order.")
    st.dataframe(pd.DataFrame([{"place": ordinal(job.position) if job.position else "now", "kind": job.kind,
                                "name": job.run.name, "status": job.state} for job in queue]), hide_index=True)

names = table["name"].tolist()
st.subheader("Compare")
candidates = {**{name: run_by_name(name) for name in names}, **list_trials()}
picked = st.multiselect("Runs and search trials to compare", list(candidates), default=names[: min(2, len(names))])
if picked:
    curves = {name: candidates[name].read_metrics() for name in picked}
    c1, c2 = st.columns(2)
    metric = run_metric(candidates[picked[0]])
    c1.plotly_chart(charts.compare_runs(curves, f"eval_{metric}"), key="cmp_acc")
    c2.plotly_chart(charts.compare_runs(curves, "eval_loss"), key="cmp_loss")
    rows = []
    for name in picked:
        run = candidates[name]
        recipe, metrics = read_json(run.recipe) or {}, read_json(run.metrics) or {}
        rows.append({"run": name, **{k: recipe.get(k) for k in ("model", "strategy", "learning_rate", "epochs",
                                                                  "batch_size")},
                     f"validation {METRIC_NAMES.get(metric, metric)}": metrics.get(f"validation_{metric}"),
                     f"test {METRIC_NAMES.get(metric, metric)}": metrics.get(metric),
                     "wall time (s)": metrics.get("wall_time_s")})
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if len(picked) > 1:
        differences = recipe_differences({name: read_json(candidates[name].recipe) or {} for name in picked})
        st.markdown("**What differs between their recipes**")
        if differences:
            st.dataframe(pd.DataFrame(differences), hide_index=True)
        else:
            st.caption("Their recipes are identical.")

st.subheader("Open or delete")
chosen = st.selectbox("Run", names)
ecosystem.tracking_section(run_by_name(chosen))
o1, o2 = st.columns(2)
if o1.button("Open in Train / Evaluate / Download", icon=":material/open_in_new:"):
    state.update(active_run=chosen)
    st.success(f"`{chosen}` is now the active run.")
confirm = o2.checkbox("Yes, delete this run and its model for good")
if o2.button("Delete run", icon=":material/delete:", disabled=not confirm):
    try:
        delete_run(run_by_name(chosen))
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
    else:
        if state.wizard().get("active_run") == chosen:
            state.update(active_run=None)
        st.rerun()
