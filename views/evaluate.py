"""Step 7: honest test-split results, against baselines, with the errors and a box to try the model."""

import pandas as pd
import streamlit as st

from core.errors import FineTuneError
from core.inference import predict_texts
from core.rundir import read_json
from ui import charts, steps
from ui.data_access import predictor_for

st.title("Evaluation")
if not steps.require("evaluate"):
    st.stop()
run = steps.active_run()
report = read_json(run.report)
if not report:
    st.error("This run has no evaluation report. Resume or re-run it.")
    st.stop()
metrics = report["metrics"]
st.caption(f"Run `{run.name}` · measured on **{report['test_rows']:,} held-out test rows** the model never saw.")

for hint in report.get("advice", []):
    st.info(hint, icon=":material/tips_and_updates:")
baselines = report["baselines"]
cols = st.columns(3)
cols[0].metric("Accuracy", f"{metrics['accuracy']:.1%}",
               delta=f"{metrics['accuracy'] - baselines['tfidf_logreg']['accuracy']:+.1%} vs TF-IDF baseline")
cols[1].metric("Macro F1", f"{metrics['f1_macro']:.3f}",
               delta=f"{metrics['f1_macro'] - baselines['tfidf_logreg']['f1_macro']:+.3f} vs TF-IDF baseline")
cols[2].metric("Misclassified", f"{report['error_count']:,}")
rows = [{"model": "your model", **metrics}] + [{"model": name.replace("_", " "), **m} for name, m in baselines.items()]
st.plotly_chart(charts.metric_bars(rows))

left, right = st.columns([3, 2])
left.plotly_chart(charts.confusion(report["confusion_matrix"], report["labels"]))
per_class = pd.DataFrame(report["per_class"])
right.dataframe(per_class, hide_index=True, column_config={
    "label": "class", "precision": st.column_config.NumberColumn(format="%.3f"),
    "recall": st.column_config.NumberColumn(format="%.3f"), "f1": st.column_config.NumberColumn("F1", format="%.3f"),
    "support": st.column_config.NumberColumn("test rows")})

st.subheader("Mistakes")
errors = pd.DataFrame(report["errors"])
if errors.empty:
    st.success("No mistakes on the test split.")
else:
    f1, f2 = st.columns(2)
    true_filter = f1.multiselect("True label", report["labels"])
    pred_filter = f2.multiselect("Predicted label", report["labels"])
    shown = errors[errors["label"].isin(true_filter or report["labels"])
                   & errors["predicted"].isin(pred_filter or report["labels"])]
    st.caption("Most confident mistakes first: these are often label errors in the data, worth a look.")
    st.dataframe(shown, hide_index=True, height=300,
                 column_config={"confidence": st.column_config.ProgressColumn(min_value=0, max_value=1)})

st.subheader("Try it")
example = str(report["errors"][0]["text"])[:80] if report["errors"] else "a sentence like your training data"
text = st.text_area("Type a text to classify", placeholder=f"e.g. {example}")
if st.button("Classify", disabled=not text.strip()):
    try:
        scores = predict_texts(predictor_for(run.model), [text])[0]
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
    else:
        best = next(iter(scores))
        st.markdown(f"Prediction: **{best}** ({scores[best]:.1%})")
        st.plotly_chart(charts.probabilities(scores))
st.page_link("views/export.py", label="Next: download the model", icon=":material/arrow_forward:")
