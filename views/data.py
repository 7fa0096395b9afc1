"""Step 2: upload data, map columns, clean it, check it and see the split."""

import pandas as pd
import streamlit as st

from core import ner, tasks
from core.errors import FineTuneError
from core.inspection import token_lengths, truncated_share
from core.workspace import store_upload
from ui import charts, instruct_views, state
from ui.data_access import SAMPLE_FOR_TASK, SAMPLES, cached_quality, cached_table, guess, prepared_or_stop
from ui.forms import option_checkbox
from ui.quality_view import show_report

st.title("Your data")
wiz = state.wizard()
state.mark_visited("data")
TASK = wiz["task"]
if TASK == tasks.IMAGE:
    from ui.image_views import data_step

    data_step(wiz)
    st.page_link("views/augment.py", label="Next: augmentation", icon=":material/arrow_forward:")
    st.stop()
TYPES = ["csv", "tsv", "txt", "json", "jsonl", "parquet", "xlsx"]
if TASK == tasks.NER:
    TYPES = ["conll", "iob", "bio", "txt", "tsv", "json", "jsonl", "parquet"]
HINTS = {tasks.CLASSIFICATION: "One row per example: a text column (two for text pairs) and a label column.",
         tasks.MULTI_LABEL: "One row per example: a text column and a column with all its labels in one cell.",
         tasks.REGRESSION: "One row per example: a text column (two for text pairs) and a column of numbers.",
         tasks.NER: "CoNLL text (a word and its tag per line, blank line between sentences) or JSON/JSONL rows "
                    "with a list of tokens and a list of tags.",
         tasks.INSTRUCTION: "JSON/JSONL (or a table) with instruction/input/output, prompt/response, or a 'messages' "
                            "list of chat turns per row."}
left, right = st.columns([3, 1])
upload = left.file_uploader("Upload data", type=TYPES, help=HINTS[TASK])


def keep_upload(name: str, content: bytes):
    """The stored upload's path, or None after showing why it was refused (too large, not a table)."""
    try:
        return store_upload(wiz["project"], name, content)
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        return None


if upload is not None and upload.name != wiz["data"].get("source_name"):
    if (path := keep_upload(upload.name, upload.getvalue())) is not None:
        state.update(data={"train": str(path), "source_name": upload.name, "columns_ok": False})
with right:
    st.write("New here?")
    sample = SAMPLE_FOR_TASK.get(TASK)
    if sample and st.button("Use a sample dataset", help=sample["about"]):
        state.update(data={"train": str(SAMPLES[sample["name"]]), "source_name": SAMPLES[sample["name"]].name,
                           "columns_ok": False})
        state.update_config(**sample["columns"])

if not wiz["data"].get("train"):
    st.info(f"Upload a {', '.join(t.upper() for t in TYPES)} file to begin. {HINTS[TASK]}",
            icon=":material/upload_file:")
    st.stop()

try:
    table = cached_table(wiz["data"]["train"], TASK)
except FineTuneError as exc:
    st.error(f"**{exc.kind}:** {exc}")
    st.stop()

st.caption(f"**{wiz['data'].get('source_name')}** — {len(table):,} rows, {len(table.columns)} columns")
shown = table.head(100)
st.dataframe(shown.map(lambda v: " ".join(map(str, v)) if isinstance(v, list) else v) if TASK == tasks.NER else shown,
             height=220)

if TASK == tasks.INSTRUCTION:  # chats: their own column mapping, sample and lengths
    instruct_views.show_data(table, wiz["config"])
    st.page_link("views/augment.py", label="Next: augmentation", icon=":material/arrow_forward:")
    st.stop()
columns = list(table.columns)
cfg = wiz["config"]
guessed = guess(table, TASK)
NONE = "— none —"


def pick(column, label: str, role: str, help: str, optional: bool = False) -> str | None:
    """A column selectbox defaulting to the saved choice, else the guess for the role."""
    options = ([NONE] if optional else []) + columns
    current = cfg[f"{role}_column"] if cfg[f"{role}_column"] in columns else guessed.get(role)
    index = options.index(current) if current in options else (0 if optional else min(1, len(options) - 1))
    value = column.selectbox(label, options, index=index, help=help)
    return None if value == NONE else value


LABEL_NAMES = {tasks.CLASSIFICATION: ("Label column", "The column the model learns to predict."),
               tasks.MULTI_LABEL: ("Labels column", "All labels of a row in one cell, split by the separator."),
               tasks.REGRESSION: ("Target column (numbers)", "The number the model learns to predict."),
               tasks.NER: ("Tags column", "One tag per token: B-TYPE, I-TYPE or O.")}
if TASK == tasks.NER:
    c1, c2 = st.columns(2)
    mapping = {"text_column": pick(c1, "Tokens column", "text", "The list of words of each sentence."),
               "label_column": pick(c2, *LABEL_NAMES[TASK][:1], "label", LABEL_NAMES[TASK][1]),
               "text_pair_column": None}
else:
    c1, c2, c3 = st.columns(3)
    mapping = {"text_column": pick(c1, "Text column", "text", "The column the model reads."),
               "text_pair_column": pick(c2, "Second text (optional)", "text_pair",
                                        "For pairs: the second text of each example (e.g. the answer to a question, "
                                        "the sentence to compare). Both are read together.", optional=True),
               "label_column": pick(c3, LABEL_NAMES[TASK][0], "label", LABEL_NAMES[TASK][1])}
if any(mapping[k] != cfg[k] for k in mapping):
    state.update_config(**mapping)
if TASK == tasks.MULTI_LABEL:
    separator = st.text_input("Separator between labels", value=cfg["label_separator"], max_chars=3,
                              help="The character between the labels in one cell, e.g. ',' in 'billing,refund'.")
    if separator and separator != cfg["label_separator"]:
        state.update_config(label_separator=separator)
if TASK == tasks.REGRESSION:
    option_checkbox("scale_target")

with st.expander("Held-out data and split"):
    for split in ("validation", "test"):
        extra = st.file_uploader(f"Optional {split} file", type=TYPES, key=f"upload_{split}")
        if extra is not None and wiz["data"].get(f"{split}_name") != extra.name:
            if (path := keep_upload(f"{split}-{extra.name}", extra.getvalue())) is not None:
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
CLEANING = ["drop_empty", "normalize_whitespace", "drop_duplicates"]
if TASK == tasks.CLASSIFICATION:
    CLEANING.append("normalize_labels")  # label spellings only merge for single class names
cols = st.columns(4)
for column, name in zip(cols, CLEANING, strict=False):
    with column:
        option_checkbox(name)

prepared = prepared_or_stop(wiz)

st.subheader("Quality report")
show_report(cached_quality(state.config()))
st.markdown("**What cleaning and the fixes did** (rows before and after each step)")
steps = [{"step": s["description"], "split": split, "before": s["rows_before"], "after": s["rows_after"],
          "removed": s["removed"]} for split, rows in prepared.report["cleaning"].items() for s in rows]
st.dataframe(pd.DataFrame(steps), hide_index=True)
for warning in prepared.warnings:
    st.warning(warning)

rows = prepared.report["rows"]
summary = prepared.report["class_counts"]["train"]
m1, m2, m3, m4 = st.columns(4)
m1.metric("Training rows" if TASK != tasks.NER else "Training sentences", f"{rows['train']:,}")
m2.metric("Validation rows", f"{rows['validation']:,}")
m3.metric("Test rows", f"{rows['test']:,}")
if TASK == tasks.REGRESSION:
    m4.metric("Target range", f"{summary['min']:g} – {summary['max']:g}", help=f"mean {summary['mean']:.3g}, "
              f"standard deviation {summary['std']:.3g}")
elif TASK == tasks.NER:
    m4.metric("Entity types", len(ner.entity_types(prepared.labels)))
else:
    m4.metric("Labels" if TASK == tasks.MULTI_LABEL else "Classes", len(prepared.labels))

chart_left, chart_right = st.columns(2)
if TASK == tasks.REGRESSION:
    chart_left.plotly_chart(charts.target_histogram(prepared.frames["train"]["label"].astype(float).tolist()))
else:
    title = {tasks.MULTI_LABEL: "Rows per label (training split)",
             tasks.NER: "Entities per type (training split)"}.get(TASK, "Examples per class (training split)")
    chart_left.plotly_chart(charts.class_balance(summary, title))
    if TASK == tasks.MULTI_LABEL:
        per_row = prepared.frames["train"]["label"].map(lambda v: len(tasks.split_labels(v, cfg["label_separator"])))
        chart_left.caption(f"{per_row.mean():.2f} labels per row on average; {int((per_row == 0).sum()):,} rows "
                           f"have none and {int((per_row > 1).sum()):,} have several.")
train_frame = prepared.frames["train"]
texts = train_frame["text"].astype(str)
if "text_pair" in train_frame.columns:
    texts = texts + " " + train_frame["text_pair"].astype(str)
try:
    lengths = token_lengths(cfg["model"], texts.tolist())
except FineTuneError as exc:
    chart_right.warning(f"Token lengths need the model's tokenizer: {exc}")
else:
    chart_right.plotly_chart(charts.token_histogram(lengths, cfg["max_length"]))
    share = truncated_share(lengths, cfg["max_length"])
    what = "sentences" if TASK == tasks.NER else ("pairs" if "text_pair" in train_frame.columns else "texts")
    chart_right.caption(f"{share:.1%} of {what} are longer than the max length ({cfg['max_length']} tokens) "
                        "and would be cut. Change it under Settings.")
st.page_link("views/augment.py", label="Next: augmentation", icon=":material/arrow_forward:")
