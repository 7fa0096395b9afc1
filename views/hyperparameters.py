"""Step 5: a preset for beginners, every engine option for experts, and a duration estimate."""

import streamlit as st

from core.config import DEFAULT_LEARNING_RATES, load_presets
from core.errors import FineTuneError
from core.estimate import estimate_recipe
from ui import state, steps
from ui.data_access import cached_prepare
from ui.forms import OPTIONS, models_for_new_task, option_widget, options_for_task

st.title("Training settings")
if not steps.require("hyperparameters"):
    st.stop()
steps.warm_engine()  # the run this page may start begins without waiting for imports
wiz = state.wizard()
presets = load_presets()

names = list(presets)
preset = st.radio("Preset", names, index=names.index(wiz["preset"]) if wiz["preset"] in names else 1, horizontal=True,
                  help="Pick one and go; open the advanced panel only if you want to change details.")
st.caption(presets[preset]["about"])
if preset != wiz["preset"]:
    state.update(preset=preset)
    settings = presets[preset]["settings"]
    state.update_config(**settings, **models_for_new_task(wiz["task"], {**wiz["config"], **settings}))
    st.rerun()

cfg = wiz["config"]
GROUPS = {"strategy": "Which parameters train", "optimization": "Optimizer and schedule",
          "regularization": "Regularisation and early stopping", "training": "Inputs, seed and device",
          "tracking": "Experiment tracking (optional)", "balance": "Class balance"}
with st.expander("Advanced settings", expanded=False):
    st.caption("Every change is saved; the preset name stays as a reminder of where you started.")
    for group, title in GROUPS.items():
        st.markdown(f"**{title}**")
        cols = st.columns(3)
        members = options_for_task([name for name, o in OPTIONS.items() if o["group"] == group], cfg["task"])
        for i, name in enumerate(members):
            with cols[i % 3]:
                option_widget(name)
    if cfg["learning_rate"] is None:
        st.caption(f"Learning rate left empty: {DEFAULT_LEARNING_RATES[cfg['strategy']]:g} will be used "
                   f"for the {cfg['strategy']} strategy.")

try:
    config = state.config()
    config.validate()
    prepared = cached_prepare(config)
    planned = estimate_recipe(config, prepared)
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()
seconds = planned["seconds"]
left, right = st.columns([2, 3])
left.metric("Estimated duration on this machine", f"{seconds / 60:.0f} min" if seconds > 90 else f"{seconds:.0f} s",
            help="From a short timed calibration of this model at this max length on this machine, scaled by your "
                 "rows, their token lengths, the epochs and the validation passes; early stopping can make it "
                 "shorter. The run records how close it came.")
if not planned["calibrated"] and planned["can_calibrate"]:
    right.caption("A rough figure: this model is not yet timed on this machine, so it comes from its size alone. "
                  "Training times it anyway, or time it now (a few seconds, once per model and max length).")
    if right.button("Time this model now", icon=":material/timer:"):
        with st.spinner("Timing a few training steps…"):
            estimate_recipe(config, prepared, calibrate_now=True)
        st.rerun()
st.page_link("views/train.py", label="Next: train", icon=":material/arrow_forward:")
