"""Step 8: download the model in Hugging Face format, with its card and the recipe that reproduces it."""

import streamlit as st

from core.rundir import read_json
from ui import ecosystem, steps

st.title("Download your model")
if not steps.require("export"):
    st.stop()
run = steps.active_run()
metrics = read_json(run.metrics) or {}
st.caption(f"Run `{run.name}` · test accuracy **{metrics.get('accuracy', 0):.1%}**, "
           f"macro F1 **{metrics.get('f1_macro', 0):.3f}**")

if not run.archive.exists():
    st.error("The model archive is missing. Re-run the training to export it again.")
    st.stop()
size_mb = run.archive.stat().st_size / 1e6
with run.archive.open("rb") as handle:
    st.download_button(f"Download model ({size_mb:.0f} MB zip)", handle.read(), file_name=f"{run.name}.zip",
                       mime="application/zip", type="primary", icon=":material/download:")
st.caption("The zip holds `model/` (config, safetensors weights, tokenizer, model card), the recipe and the test "
           "metrics.")

st.subheader("Use it in Python")
st.code(f'''from transformers import pipeline

# after unzipping {run.name}.zip
classifier = pipeline("text-classification", model="model")
print(classifier("your text here"))''', language="python")

st.subheader("Reproduce it")
st.code(f"python -m core train --config {run.recipe} --output {run.path.with_name(run.name + '-again')}",
        language="bash", wrap_lines=True)
ecosystem.distributed_section(run)

with st.expander("Model card (model/README.md)"):
    card = run.model / "README.md"
    st.markdown(card.read_text(encoding="utf-8") if card.exists() else "(missing)")

ecosystem.onnx_section(run)
ecosystem.hub_section(run)
