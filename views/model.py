"""Step 4: pick a pretrained model from the catalogue, a local folder or a Hub id."""

import pandas as pd
import streamlit as st

from core.catalogue import models_for_task, resolve_model
from core.errors import FineTuneError
from core.estimate import examples_per_second
from core.modeling import check_model
from ui import state, steps
from ui.forms import option_checkbox

st.title("Choose a starting model")
if not steps.require("model"):
    st.stop()
wiz = state.wizard()
current = wiz["config"]["model"]
entries = models_for_task(wiz["task"])

table = pd.DataFrame([{
    "model": e.name, "id": e.id, "parameters (M)": round(e.parameters / 1e6, 1), "licence": e.licence,
    "languages": e.languages, "works offline": "yes" if e.available_offline else "needs internet",
    "speed": round(examples_per_second(e.parameters, 32), 1),
    "about": e.description} for e in entries])
st.dataframe(table, hide_index=True, column_config={
    "id": None, "parameters (M)": st.column_config.NumberColumn("size (M params)", format="%.1f"),
    "works offline": "offline?",
    "speed": st.column_config.NumberColumn("rows/s here", help="Estimated training speed on this machine for "
                                           "~32-token texts.", format="%.0f"),
    "about": st.column_config.TextColumn("about", width="large")})

ids = [e.id for e in entries]
source = st.radio("Where does the model come from?", ["Catalogue", "Local folder", "Hub id"], horizontal=True,
                  index=0 if current in ids else (1 if current.startswith(("/", ".", "~")) else 2))
if source == "Catalogue":
    names = {e.id: e.name + ("" if e.available_offline else " (needs internet)") for e in entries}
    choice = st.selectbox("Model", ids, index=ids.index(current) if current in ids else 0, format_func=names.get)
else:
    label = ("Model folder (Hugging Face format)" if source == "Local folder"
             else "Hub id, e.g. distilbert/distilbert-base-uncased")
    choice = st.text_input(label, value="" if current in ids else current).strip()

if choice:
    try:
        # A "converted" catalogue model is unpacked into the user cache on first use (seconds, once).
        with st.spinner("Preparing the model (converted once on first use)…"):
            location, kind = resolve_model(choice)
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
    else:
        if choice != current:
            state.update_config(model=choice)
        if kind == "hub":
            st.info("This model is downloaded from the Hugging Face Hub when training starts, which needs "
                    "internet. If you are offline, pick the bundled MiniLM.", icon=":material/cloud_download:")
            if st.button("Check that it loads", help="Downloads its config and tokenizer now."):
                try:
                    st.success(f"Loads: {check_model(choice)}.", icon=":material/check_circle:")
                except FineTuneError as exc:
                    st.error(f"**{exc.kind}:** {exc}")
            option_checkbox("trust_remote_code")
            if wiz["config"]["trust_remote_code"]:
                st.warning("The Python code in this model's Hub repository will run on this machine with your "
                           "permissions. Turn this on only for authors you trust.", icon=":material/warning:")
        else:
            st.success(f"Ready: **{choice}** ({kind}, works offline).", icon=":material/check_circle:")
st.page_link("views/hyperparameters.py", label="Next: training settings", icon=":material/arrow_forward:")
