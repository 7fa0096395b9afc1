"""Step 8: download the model in Hugging Face format, with its card and the recipe that reproduces it."""

import streamlit as st

from core import tasks
from core.packaging import usage_snippet
from core.rundir import read_json
from ui import ecosystem, steps, task_views

st.title("Download your model")
if not steps.require("export"):
    st.stop()
run = steps.active_run()
metrics = read_json(run.metrics) or {}
report = read_json(run.report) or {}
task = task_views.report_task(report)
st.caption(f"Run `{run.name}` · {task_views.headline_caption(task, metrics)}")

if not run.archive.exists():
    st.error("The model archive is missing. Re-run the training to export it again.")
    st.stop()
size_mb = run.archive.stat().st_size / 1e6
with run.archive.open("rb") as handle:
    st.download_button(f"Download model ({size_mb:.0f} MB zip)", handle.read(), file_name=f"{run.name}.zip",
                       mime="application/zip", type="primary", icon=":material/download:")
st.caption("The zip holds `model/` (config, safetensors weights, tokenizer, model card), the recipe and the test "
           "metrics." + (" A LoRA adapter is merged into the weights." if task == tasks.INSTRUCTION else ""))
adapter = run.path / "adapter.zip"
if adapter.exists():
    st.download_button(f"Download the LoRA adapter alone ({adapter.stat().st_size / 1e6:.1f} MB zip)",
                       adapter.read_bytes(), file_name=f"{run.name}-adapter.zip", mime="application/zip",
                       icon=":material/download:", help="Load it with peft on top of the base model "
                       "(PeftModel.from_pretrained(base_model, folder)); much smaller than the merged model.")

st.subheader("Use it in Python")
recipe = task_views.recipe_of(run)
snippet = usage_snippet(task, "model", task_views.example_text(report), pair=bool(recipe and recipe.text_pair_column))
st.code(f"# after unzipping {run.name}.zip\n{snippet}", language="python")

st.subheader("Reproduce it")
st.code(f"python -m core train --config {run.recipe} --output {run.path.with_name(run.name + '-again')}",
        language="bash", wrap_lines=True)
ecosystem.distributed_section(run)

with st.expander("Model card (model/README.md)"):
    card = run.model / "README.md"
    st.markdown(card.read_text(encoding="utf-8") if card.exists() else "(missing)")

if task != tasks.INSTRUCTION:  # the ONNX export and its parity check are built for classifier heads
    ecosystem.onnx_section(run)
ecosystem.hub_section(run)
