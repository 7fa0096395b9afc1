"""Step 6: start training as a background process and watch it live; stop and resume it."""

import shlex

import streamlit as st

from core.config import TrainConfig
from core.device_queue import list_queue
from core.errors import FineTuneError
from core.launcher import flags_command, start_run, train_command
from core.rundir import LIVE_STATES
from core.workspace import new_run_dir
from ui import state, steps
from ui.live import render_run

st.title("Train")
if not steps.require("train"):
    st.stop()
steps.warm_engine()  # the run this page may start begins without waiting for imports
wiz = state.wizard()
run = steps.active_run()
status = run.read_status() if run else {}
active = status.get("state") in LIVE_STATES
busy = bool(list_queue())  # another job holds the device or waits for it

left, middle, right = st.columns([1, 1, 2])
start = left.button("Start training", type="primary", disabled=active, icon=":material/play_arrow:")
queue = middle.button("Queue this run", disabled=active or not busy, icon=":material/queue:",
                      help="Waits in line while another run or search uses the processor, then starts by itself.")
if start or queue:
    try:
        cfg = state.config()
        cfg.validate()
        run = new_run_dir(wiz["project"])
        start_run(cfg, run, wait=queue)  # a plain start is refused while another job is active or waiting
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        st.info("Press **Queue this run** to start it by itself once the jobs ahead of it end.",
                icon=":material/queue:")
        st.stop()
    state.update(active_run=run.name)
    st.rerun()
right.caption(f"Preset **{wiz['preset']}**, model **{wiz['config']['model']}**, strategy "
              f"**{wiz['config']['strategy']}**, {wiz['config']['epochs']:g} epoch(s). Training runs in the "
              "background: you can close this tab or reload; it keeps going and this page picks it up again.")

if run is None:
    st.info("No run yet. Press **Start training**.", icon=":material/info:")
    st.stop()

with st.expander("The same run from the command line"):
    st.caption("What this page launched:")
    st.code(shlex.join(["python", *train_command(run)[1:]]), language="bash")
    st.caption("Or with flags (settings that differ from the defaults):")
    recipe = TrainConfig.load(run.request) if run.request.exists() else state.config()
    st.code(flags_command(recipe, str(run.path)), language="bash")

render_run(run)
