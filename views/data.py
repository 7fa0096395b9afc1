"""Step 2: upload data, map columns, clean it, check it and see the split."""

import pandas as pd
import streamlit as st

from core.errors import FineTuneError
from core.inspection import token_lengths, truncated_share
from core.workspace import store_upload
from ui import charts, state
from ui.data_access import SAMPLES, cached_prepare, cached_table, guess
from ui.forms import option_checkbox

st.title("Your data")
wiz = state.wizard()
state.mark_visited("data")
TYPES = ["csv", "tsv", "txt", "json", "jsonl", "parquet", "xlsx"]

left, right = st.columns([3, 1])
upload = left.file_uploader("Upload data", type=TYPES, help="One row per example: a text column and a label column.")
if upload is not None and upload.name != wiz["data"].get("source_name"):
    path = store_upload(wiz["project"], upload.name, upload.getvalue())
    state.update(data={"train": str(path), "source_name": upload.name, "columns_ok": False})
with right:
    st.write("New here?")
    if st.button("Use a sample dataset", help="360 banking questions in 6 intents (BANKING77, CC BY 4.0)."):
        state.update(data={"train": str(SAMPLES["banking77"]), "source_name": "banking77_sample.csv",
                           "columns_ok": False})
        state.update_config(text_column="text", label_column="label")

if not wiz["data"].get("train"):
    st.info("Upload a CSV, TSV, JSON, JSONL, Parquet or Excel file to begin.", icon=":material/upload_file:")
    st.stop()

try:
    table = cached_table(wiz["data"]["train"])
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()

st.caption(f"**{wiz['data'].get('source_name')}** — {len(table):,} rows, {len(table.columns)} columns")
st.dataframe(table.head(100), height=220)

columns = list(table.columns)
text_guess, label_guess = guess(table)
cfg = wiz["config"]
text_default = cfg["text_column"] if cfg["text_column"] in columns else text_guess
label_default = cfg["label_column"] if cfg["label_column"] in columns else label_guess
c1, c2 = st.columns(2)
text_col = c1.selectbox("Text column", columns, index=columns.index(text_default) if text_default in columns else 0,
                        help="The column the model reads.")
label_col = c2.selectbox("Label column", columns,
                         index=columns.index(label_default) if label_default in columns else min(1, len(columns) - 1),
                         help="The column the model learns to predict.")
if (text_col, label_col) != (cfg["text_column"], cfg["label_column"]):
    state.update_config(text_column=text_col, label_column=label_col)

with st.expander("Held-out data and split"):
    for split in ("validation", "test"):
        extra = st.file_uploader(f"Optional {split} file", type=TYPES, key=f"upload_{split}")
        if extra is not None and wiz["data"].get(f"{split}_name") != extra.name:
            path = store_upload(wiz["project"], f"{split}-{extra.name}", extra.getvalue())
            state.update(data={**wiz["data"], split: str(path), f"{split}_name": extra.name})
        if wiz["data"].get(split) and st.button(f"Remove the {split} file", key=f"drop_{split}"):
            state.update(data={k: v for k, v in wiz["data"].items() if not k.startswith(split)})
            st.rerun()
    s1, s2 = st.columns(2)
    val = s1.slider("Validation share", 0.05, 0.3, float(cfg["validation_size"]), 0.05,
                    disabled=bool(wiz["data"].get("validation")))
    test = s2.slider("Test share", 0.05, 0.3, float(cfg["test_size"]), 0.05, disabled=bool(wiz["data"].get("test")))
    if (val, test) != (cfg["validation_size"], cfg["test_size"]):
        state.update_config(validation_size=val, test_size=test)

st.subheader("Cleaning")
cols = st.columns(4)
CLEANING = ["drop_empty", "normalize_whitespace", "drop_duplicates", "normalize_labels"]
for column, name in zip(cols, CLEANING, strict=True):
    with column:
        option_checkbox(name)

try:
    prepared = cached_prepare(state.config())
except FineTuneError as exc:
    state.update(data={**wiz["data"], "columns_ok": False})
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()
if not wiz["data"].get("columns_ok"):
    state.update(data={**wiz["data"], "columns_ok": True})
    st.rerun()

steps = [{"step": s["description"], "split": split, "before": s["rows_before"], "after": s["rows_after"],
          "removed": s["removed"]} for split, rows in prepared.report["cleaning"].items() for s in rows]
st.dataframe(pd.DataFrame(steps), hide_index=True)
for warning in prepared.warnings:
    st.warning(warning)

rows = prepared.report["rows"]
m1, m2, m3, m4 = st.columns(4)
m1.metric("Training rows", f"{rows['train']:,}")
m2.metric("Validation rows", f"{rows['validation']:,}")
m3.metric("Test rows", f"{rows['test']:,}")
m4.metric("Classes", len(prepared.labels))

chart_left, chart_right = st.columns(2)
chart_left.plotly_chart(charts.class_balance(prepared.report["class_counts"]["train"]))
try:
    lengths = token_lengths(cfg["model"], prepared.frames["train"]["text"].tolist())
except FineTuneError as exc:
    chart_right.warning(f"Token lengths need the model's tokenizer: {exc}")
else:
    chart_right.plotly_chart(charts.token_histogram(lengths, cfg["max_length"]))
    share = truncated_share(lengths, cfg["max_length"])
    chart_right.caption(f"{share:.1%} of texts are longer than the max length ({cfg['max_length']} tokens) "
                        "and would be cut. Change it under Settings.")
st.page_link("views/augment.py", label="Next: augmentation", icon=":material/arrow_forward:")
