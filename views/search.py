"""Hyperparameter search: choose the space and budget, watch trials live, promote the best one."""

import pandas as pd
import streamlit as st

from core.config import greater_is_better
from core.device_queue import describe_position, list_queue
from core.errors import FineTuneError
from core.launcher import resume_search, start_promote, start_search
from core.rundir import ACTIVE_STATES, LIVE_STATES, WAITING
from core.search import METHODS, SearchConfig, default_space, grid_size, search_report
from core.workspace import new_run_dir
from ui import charts, forms, state, steps

st.title("Hyperparameter search")
if not steps.require("search"):
    st.stop()
steps.warm_engine()  # the run this page may start begins without waiting for imports
wiz = state.wizard()
cfg = state.config()
st.caption("Trains several short variants of your recipe, scores each on the **validation** split, and lets you "
           "promote the best one to a final model tested on the held-out test split.")

space = default_space(cfg)
# Values offered for the categorical parameters (the recipe-based defaults are pre-selected).
CANDIDATES = {"epochs": [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30], "batch_size": [8, 16, 32, 64], "lora_r": [4, 8, 16, 32]}
with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    method = c1.selectbox("Method", METHODS, format_func={"tpe": "Bayesian (TPE)", "random": "Random",
                                                          "grid": "Grid"}.get)
    trials = c2.number_input("Trials", 2, 200, 8, help="Finished trials to reach; bad ones are pruned early.")
    minutes = c3.number_input("Time budget (minutes, 0 = none)", 0, 24 * 60, 0)
    metric = c4.selectbox("Optimise", forms.metric_choices(cfg.task), format_func=forms.METRIC_NAMES.get,
                          help="Measured on the validation split, never on the test split.")
    chosen = st.multiselect("Parameters to search", list(space), default=list(space),
                            help="Ranges are set around your recipe; unpicked parameters keep the recipe's value.")
    low, high = space["learning_rate"]["low"], space["learning_rate"]["high"]
    if "learning_rate" in chosen:
        r1, r2 = st.columns(2)
        low = r1.number_input("Learning rate from", value=low, format="%g", step=low / 2)
        high = r2.number_input("Learning rate to", value=high, format="%g", step=high / 2)
    space = {name: spec for name, spec in space.items() if name in chosen}
    if "learning_rate" in space:
        space["learning_rate"] = {"low": min(low, high), "high": max(low, high), "log": True}
    columns = st.columns(3)
    for i, (name, spec) in enumerate(sorted((n, s) for n, s in space.items() if n != "learning_rate")):
        with columns[i % 3]:
            if "choices" in spec:
                picked = st.multiselect(name.replace("_", " ").capitalize(), CANDIDATES.get(name, spec["choices"]),
                                        default=spec["choices"], key=f"space_{name}")
                space[name] = {"choices": picked or spec["choices"]}
            else:
                low_high = st.slider(name.replace("_", " ").capitalize(), 0.0, 0.5, (spec["low"], spec["high"]),
                                     step=0.01, key=f"space_{name}")
                space[name] = {"low": low_high[0], "high": low_high[1]}
    if method == "grid" and space:
        st.caption(f"The grid has {grid_size(space)} combinations.")

folder = steps.active_search()
status = folder.read_status() if folder else {}
running = status.get("state") in LIVE_STATES
busy = bool(list_queue())  # another job holds the device or waits for it
left, right = st.columns([1, 3])
start = left.button("Start search", type="primary", disabled=running or not space, icon=":material/play_arrow:")
queue = right.button("Queue this search", disabled=running or not space or not busy, icon=":material/queue:",
                     help="Waits in line while another run or search uses the processor, then starts by itself.")
if start or queue:
    search = SearchConfig(method=method, trials=int(trials), timeout_s=minutes * 60 or None, metric=metric, space=space)
    folder = new_run_dir(wiz["project"], kind="searches")
    try:
        start_search(cfg, search, folder, wait=queue)
    except FineTuneError as exc:  # another run or search holds the machine
        st.error(f"**{exc.kind}:** {exc} Or press **Queue this search**.")
        st.stop()
    state.update(active_search=folder.name)
    st.rerun()
if folder is None:
    st.stop()


@st.fragment(run_every=3 if running else None)
def live() -> None:
    status = folder.read_status()
    if running and status.get("state") not in LIVE_STATES:
        # Stop polling (and enable Start search): a timer left running races the Promote click's page switch
        # and can leave the Train page blank.
        st.rerun(scope="app")
    st.markdown(f"### Search `{folder.name}`: **{status.get('state', 'queued').capitalize()}**")
    if status.get("state") == WAITING:
        st.caption(f"{describe_position(folder) or 'In the queue'}; it starts by itself.")
        if st.button("Leave the queue", icon=":material/cancel:"):
            folder.request_stop()
    if status.get("state") in {"failed", "crashed"}:
        st.error(status.get("message") or "The search stopped unexpectedly.")
        st.code(folder.tail_log(20), language="text")
    if status.get("state") in {"failed", "crashed", "stopped"} and st.button("Resume search", icon=":material/replay:",
                                                                             help="Continues the same study."):
        resume_search(folder)
        st.rerun(scope="app")
    report = search_report(folder.path)
    table = pd.DataFrame(report["trials"])
    if table.empty:
        st.caption("Trials appear here as they finish.")
        return
    if status.get("state") in ACTIVE_STATES and st.button("Stop search", icon=":material/stop:"):
        folder.request_stop()
    st.dataframe(table, hide_index=True)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.search_history(table, greater_is_better(metric)), key="history")
    c2.plotly_chart(charts.parallel_params(table), key="parallel")
    if report["importances"]:
        st.plotly_chart(charts.importances(report["importances"]), key="importances")
    if report["best"]:
        best = report["best"]
        st.success(f"Best so far: trial {best['number']} with validation {metric} {best['value']:.4f}.")
        if st.button("Promote best trial", icon=":material/workspace_premium:",
                     help="Trains the final model with these settings, tests it and makes it the active run."):
            run = new_run_dir(wiz["project"])
            start_promote(folder, run, wait=bool(list_queue()))  # queued behind any job holding the device
            state.update(active_run=run.name)
            st.switch_page("views/train.py")


try:
    live()
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
