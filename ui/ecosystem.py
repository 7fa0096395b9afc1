"""Page sections for the ecosystem: ONNX export with parity figures, Hub push, multi-GPU commands, tracking links."""

from __future__ import annotations

import os
import shlex

import pandas as pd
import streamlit as st

from core.distributed import launch_commands
from core.errors import FineTuneError
from core.hub import hub_status, push_model, read_push
from core.onnx_export import ONNX_TASKS, export_command, read_onnx_report, run_export_process
from core.rundir import RunDir, read_json
from core.tracking import read_tracking


def onnx_table(result: dict) -> pd.DataFrame:
    """One row per format: size, max |logit diff| vs PyTorch, agreement and the test metrics."""
    rows = [{"format": "PyTorch", **result["pytorch"]["metrics"]}]
    for key, name in (("onnx", "ONNX"), ("onnx_int8", "ONNX int8")):
        if key in result:
            item = result[key]
            rows.append({"format": name, **item["metrics"], "size (MB)": item["size_mb"],
                         "max |logit diff|": item["max_abs_logit_diff"],
                         "same prediction": item["prediction_agreement"]})
    return pd.DataFrame(rows)


def onnx_section(run: RunDir) -> None:
    """Export to ONNX (a child process running the CLI) and show the parity figures from onnx_report.json."""
    st.subheader("ONNX for production")
    task = (read_json(run.recipe) or {}).get("task", "text-classification")
    if task not in ONNX_TASKS:
        st.caption("ONNX export with its parity check covers classification, multi-label and regression models; "
                   "for named entities use the Hugging Face model above (it runs in any transformers pipeline).")
        return
    st.caption("Runs anywhere onnxruntime does (servers, C#, Java, the browser). Checked against PyTorch on the "
               "test rows before you rely on it.")
    quantize = st.checkbox("Also an int8 variant (about 4× smaller, usually a little less accurate)")
    if st.button("Export to ONNX and check it", icon=":material/deployed_code:"):
        with st.spinner("Exporting and comparing on the test split… (under a minute for small models)"):
            ok, message = run_export_process(run.path, quantize)
        if not ok:
            st.error(message or "The ONNX export failed; see the command below to run it yourself.")
    result = read_onnx_report(run.path)
    if result:
        st.dataframe(onnx_table(result), hide_index=True)
        st.caption(f"Max absolute logit difference of the ONNX model vs PyTorch on {result['test_rows']} test rows: "
                   f"**{result['onnx']['max_abs_logit_diff']:.1e}**. Files in `model/onnx/` (also in the zip); the "
                   "figures are in the model card.")
    st.code("python " + shlex.join(export_command(run.path, quantize)[1:]), language="bash")


@st.cache_data(ttl=60, show_spinner=False)
def cached_hub_status() -> tuple[bool, str]:
    status = hub_status()
    return status.online, status.reason


def hub_section(run: RunDir) -> None:
    """Push model/ (with its card) to the Hub; disabled with the reason when offline. The token is never saved."""
    st.subheader("Share on the Hugging Face Hub")
    online, reason = cached_hub_status()
    pushed = read_push(run.path)
    if pushed:
        st.success(f"Pushed to [{pushed['repo_id']}]({pushed['url']}).", icon=":material/cloud_done:")
    repo_id = st.text_input("Repository", placeholder="your-name/model-name", disabled=not online)
    token = st.text_input("Hub write token", type="password", disabled=not online,
                          help="Used for this upload only and never saved. Empty uses the HF_TOKEN variable.")
    public = st.checkbox("Public repository", disabled=not online)
    if not online:
        st.caption(f":material/cloud_off: Pushing is off: {reason}")
    if st.button("Push to the Hub", icon=":material/cloud_upload:", disabled=not online or not repo_id):
        try:
            with st.spinner("Uploading…"):
                record = push_model(run.path, repo_id, token or os.environ.get("HF_TOKEN", ""), private=not public)
        except FineTuneError as exc:
            st.error(f"**{exc.kind}:** {exc}")
        else:
            st.success(f"Pushed to [{repo_id}]({record['url']}).")


def distributed_section(run: RunDir) -> None:
    """Ready-to-copy commands that train this recipe on several GPUs or machines."""
    with st.expander("Train this recipe on several GPUs or machines"):
        st.caption("One process per GPU; only the first writes the run directory. On a cluster, see "
                   "`docs/distributed.md` (Slurm example).")
        for title, command in launch_commands(run.recipe, run.path.with_name(run.name + "-multi")).items():
            st.markdown(f"**{title}**")
            st.code(command, language="bash", wrap_lines=True)


def tracking_section(run: RunDir) -> None:
    """Where the run was tracked (MLflow store and run id, TensorBoard logs) and the commands that open them."""
    tracking = read_tracking(run.path)
    if not tracking:
        st.caption("This run was not tracked. Turn on MLflow or TensorBoard under Training settings → "
                   "Experiment tracking.")
        return
    if "mlflow" in tracking:
        info = tracking["mlflow"]
        uri = info["tracking_uri"]
        link = f"[{uri}]({uri})" if uri.startswith("http") else f"`{uri}`"
        st.markdown(f"**MLflow** · experiment `{info['experiment']}` · run `{info['run_id']}` · store {link}")
        st.code(info["ui_command"], language="bash")
    if "tensorboard" in tracking:
        st.markdown(f"**TensorBoard** · logs in `{tracking['tensorboard']['logdir']}`")
        st.code(tracking["tensorboard"]["command"], language="bash")
