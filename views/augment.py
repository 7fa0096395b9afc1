"""Step 3: choose text augmentations and see what they do to real rows before training."""

import streamlit as st

from core.augmentation import AUGMENTERS, preview_augmentations
from core.errors import FineTuneError
from ui import state, steps
from ui.data_access import cached_prepare

st.title("Augmentation")
if not steps.require("augment"):
    st.stop()
cfg = state.wizard()["config"]
OFF = {"token-classification": "Text augmentation is off for named entities: swapping, deleting or inserting words "
                               "would move the words away from their tags. Go on to the model.",
       "instruction-tuning": "Text augmentation is off for instruction tuning: altered words in an answer would "
                             "teach the model to make the same mistakes. Go on to the model."}
if cfg["task"] in OFF:
    st.info(OFF[cfg["task"]], icon=":material/info:")
    st.page_link("views/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
    st.stop()
st.write("Augmentation adds slightly altered copies of your training rows, so the model sees more variety. "
         "It helps most with small datasets. Validation and test rows are never altered.")

names = list(AUGMENTERS)
chosen = st.multiselect("Augmentations", names, default=[n for n in cfg["augment"] if n in names],
                        format_func=lambda n: f"{n.replace('_', ' ')} — {AUGMENTERS[n][1]}")
copies = st.number_input("Augmented copies per training row", 0, 5, int(cfg["augment_copies"]),
                         help="0 turns augmentation off. Each copy adds one altered version of every row.")
if chosen and not cfg["augment"] and copies == 0:
    copies = 1  # picking an augmentation means using it: start with one copy per row
if chosen != cfg["augment"] or copies != cfg["augment_copies"]:
    state.update_config(augment=chosen, augment_copies=int(copies))
    st.rerun()

try:
    prepared = cached_prepare(state.config())
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()

train_rows = prepared.report["rows"]["train"]
effective = train_rows * (1 + (copies if chosen else 0))
c1, c2 = st.columns(2)
c1.metric("Training rows", f"{train_rows:,}")
c2.metric("Rows the model trains on per epoch", f"{effective:,}", delta=f"+{effective - train_rows:,}" if
          effective > train_rows else None)

st.subheader("Preview")
if not chosen:
    st.caption("Pick an augmentation above to see its effect on five of your rows.")
else:
    seed = st.number_input("Preview seed", 0, 10_000, 0, help="Change it to see other rows and other variants.")
    preview = preview_augmentations(prepared.frames["train"], chosen, rows=5, seed=int(seed))
    st.dataframe(preview.rename(columns=lambda c: c.replace("_", " ")), hide_index=True)
st.page_link("views/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
