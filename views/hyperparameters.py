"""Step 5: a preset for beginners, every engine option for experts, and a duration estimate."""

import streamlit as st

from core.catalogue import find_entry
from core.config import DEFAULT_LEARNING_RATES, load_presets
from core.errors import FineTuneError
from core.estimate import estimate_seconds
from ui import state, steps
from ui.data_access import cached_prepare
from ui.forms import OPTIONS, models_for_new_task, option_widget, options_for_task

st.title("Training settings")
if not steps.require("hyperparameters"):
    st.stop()
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
          "tracking": "Experiment tracking (optional)"}
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
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()

entry = find_entry(cfg["model"])
parameters = entry.parameters if entry else 110_000_000
rows = prepared.report["rows"]
train_rows = rows["train"] * (1 + (cfg["augment_copies"] if cfg["augment"] else 0))
train = prepared.frames["train"]
words = train["text"].astype(str).str.split().str.len()
if "text_pair" in train.columns:
    words = words + train["text_pair"].astype(str).str.split().str.len()
tokens = min(cfg["max_length"], words.mean() * 1.4 + 2)
evaluations = int(cfg["epochs"] * cfg["evaluations_per_epoch"]) + 1
seconds = estimate_seconds(parameters, train_rows, rows["validation"], rows["test"], tokens, cfg["epochs"],
                           evaluations, cfg["strategy"])
st.metric("Estimated duration on this machine", f"{seconds / 60:.0f} min" if seconds > 90 else f"{seconds:.0f} s",
          help="From this machine's measured speed and the model's size; early stopping can make it shorter.")
st.page_link("views/train.py", label="Next: train", icon=":material/arrow_forward:")
