"""Step 3: choose text augmentations and see what they do to real rows before training."""

import streamlit as st

from core.augmentation import AUGMENTERS, Resources, build_vocabulary, preview_augmentations
from core.augmented_data import effective_rows
from core.errors import FineTuneError
from ui import state, steps
from ui.data_access import cached_prepare, cached_synonyms
from ui.text_diff import diff_markdown

st.title("Augmentation")
if not steps.require("augment"):
    st.stop()
cfg = state.wizard()["config"]
if cfg["task"] == "image-classification":
    from ui.image_views import augment_step

    augment_step(cfg)
    st.page_link("views/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
    st.stop()
OFF = {"token-classification": "Text augmentation is off for named entities: swapping, deleting or inserting words "
                               "would move the words away from their tags. Go on to the model.",
       "instruction-tuning": "Text augmentation is off for instruction tuning: altered words in an answer would "
                             "teach the model to make the same mistakes. Go on to the model."}
if cfg["task"] in OFF:
    st.info(OFF[cfg["task"]], icon=":material/info:")
    st.page_link("views/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
    st.stop()
st.write("Augmentation shows the model slightly altered variants of your training rows, drawn afresh every epoch, "
         "so it sees more variety. It helps most with small datasets. Validation and test rows are never altered.")

names = list(AUGMENTERS)
chosen = st.multiselect("Augmentations", names, default=[n for n in cfg["augment"] if n in names],
                        format_func=lambda n: f"{n.replace('_', ' ')} — {AUGMENTERS[n][1]}")
left, right = st.columns(2)
copies = left.number_input("Augmented variants per training row and epoch", 0, 5, int(cfg["augment_copies"]),
                           help="0 turns augmentation off. Each variant is one freshly altered version of every "
                                "row per epoch; the originals are always kept.")
strength = right.slider("Strength", 0.05, 0.5, float(cfg["augment_strength"]), 0.05,
                        help="Share of a text's words each augmentation touches: 0.1 is a safe default.")
if chosen and not cfg["augment"] and copies == 0:
    copies = 1  # picking an augmentation means using it: start with one variant per row
if chosen != cfg["augment"] or copies != cfg["augment_copies"] or strength != cfg["augment_strength"]:
    state.update_config(augment=chosen, augment_copies=int(copies), augment_strength=float(strength))
    st.rerun()

try:
    prepared = cached_prepare(state.config())
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()

train_rows = prepared.report["rows"]["train"]
effective = effective_rows(train_rows, chosen, int(copies))
c1, c2 = st.columns(2)
c1.metric("Training rows", f"{train_rows:,}")
c2.metric("Examples the model trains on per epoch", f"{effective:,}",
          delta=f"+{effective - train_rows:,} fresh variants" if effective > train_rows else None)

st.subheader("Preview")
if not chosen:
    st.caption("Pick an augmentation above to see its effect on five of your rows.")
    st.page_link("views/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
    st.stop()
synonyms = None
if "synonym_replacement" in chosen:
    try:
        synonyms = cached_synonyms(cfg["model"])
    except FineTuneError as exc:
        st.warning(f"Synonym replacement needs the model's vocabulary: {exc}")
if st.button("Re-roll", icon=":material/casino:", help="Other rows and other variants."):
    st.session_state["augment_preview_seed"] = st.session_state.get("augment_preview_seed", 0) + 1
seed = st.session_state.get("augment_preview_seed", 0)
train = prepared.frames["train"]
resources = Resources(vocabulary=build_vocabulary(train["text"]), synonyms=synonyms)
preview = preview_augmentations(train, chosen, resources, rows=5, seed=seed, strength=float(strength))
for _, row in preview.iterrows():
    original, variants = st.columns([2, 3])
    original.markdown(f"**Original:** {row['original']}")
    variants.markdown("  \n".join(f"*{name.replace('_', ' ')}:* {diff_markdown(row['original'], row[name])}"
                                  for name in chosen))
    st.divider()
st.page_link("views/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
