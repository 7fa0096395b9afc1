"""What the wizard shows for instruction tuning: column mapping and a rendered chat on the Data step; before/after
scores, base-versus-tuned answers and a streaming chat box on the Evaluate step."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from core import instruct, tasks
from core.errors import FineTuneError
from core.rundir import RunDir
from ui import charts, state
from ui.data_access import cached_chat_model, cached_prepare
from ui.forms import option_checkbox

LAYOUTS = {"alpaca": ("Alpaca: instruction, input, output", ["Instruction", "Input (optional)", "Output"]),
           "pair": ("Prompt and response", ["Prompt", "Response"]),
           "messages": ("Chat messages (one column of role/content lists)", ["Messages"])}
NONE = "— none —"


def _layout_of(columns: list[str]) -> str:
    return {1: "messages", 2: "pair", 3: "alpaca"}.get(len(columns), "alpaca")


def _carry_over(current: list[str], roles: int) -> list[str | None]:
    """The saved columns carried into a layout with `roles` roles: the prompt first and the answer last."""
    if len(current) == roles:
        return list(current)
    if roles == 1 or len(current) < 2:
        return [None] * roles
    return [current[0], current[-1]] if roles == 2 else [current[0], None, current[-1]]


def map_columns(table: pd.DataFrame, saved: list[str]) -> list[str]:
    """The layout radio and one selectbox per role; returns the chosen instruction columns."""
    try:
        detected = instruct.detect_columns(table)
    except FineTuneError as exc:
        detected = []
        if not saved:
            st.info(f"{exc} Below, the columns are picked in file order.", icon=":material/info:")
    current = saved or detected
    names = list(LAYOUTS)
    layout = st.radio("Layout of your data", names, index=names.index(_layout_of(current)), horizontal=True,
                      format_func=lambda n: LAYOUTS[n][0], help=instruct.__doc__.split("\n\n")[1])
    columns = [str(c) for c in table.columns]
    roles = LAYOUTS[layout][1]
    guesses = _carry_over(current, len(roles))
    chosen = []
    for column, role, guess in zip(st.columns(len(roles)), roles, guesses, strict=True):
        options = ([NONE] if role.endswith("(optional)") else []) + columns
        guess = guess if guess in options else None
        fallback = 0 if role.endswith("(optional)") else min(len(chosen), len(options) - 1)  # distinct by position
        value = column.selectbox(role, options, index=options.index(guess) if guess else fallback)
        chosen.append("" if value == NONE else value)
    if layout == "alpaca" and not chosen[1]:
        chosen = [chosen[0], chosen[2]]  # no input column: the instruction is the whole prompt
    return chosen


def rendered_chat_html(parts: list[tuple[str, bool]]) -> str:
    """The rendered chat with the learned answer highlighted (escaped: it is the user's text)."""
    pieces = [f'<mark style="background:#BBF7D0">{html.escape(t)}</mark>' if answer else html.escape(t)
              for t, answer in parts]
    return f'<pre style="white-space:pre-wrap;font-size:0.85rem">{"".join(pieces)}</pre>'


def show_data(table: pd.DataFrame, cfg: dict) -> None:
    """The instruction-tuning part of the Data step, from column mapping to the split and a rendered sample."""
    chosen = map_columns(table, list(cfg.get("instruction_columns") or []))
    if chosen != list(cfg.get("instruction_columns") or []):
        state.update_config(instruction_columns=chosen)
    cols = st.columns(2)
    for column, name in zip(cols, ("drop_empty", "drop_duplicates"), strict=True):
        with column:
            option_checkbox(name)
    try:
        prepared = cached_prepare(state.config())
    except FineTuneError as exc:
        state.update(data={**state.wizard()["data"], "columns_ok": False})
        st.error(f"**{exc.kind}:** {exc}")
        st.stop()
    if not state.wizard()["data"].get("columns_ok"):
        state.update(data={**state.wizard()["data"], "columns_ok": True})
        st.rerun()
    for warning in prepared.warnings:
        st.warning(warning)
    rows = prepared.report["rows"]
    m1, m2, m3 = st.columns(3)
    m1.metric("Training chats", f"{rows['train']:,}")
    m2.metric("Validation chats", f"{rows['validation']:,}")
    m3.metric("Test chats", f"{rows['test']:,}")
    show_sample_and_lengths(prepared.frames["train"], cfg)


def show_sample_and_lengths(train: pd.DataFrame, cfg: dict) -> None:
    """One training chat as the model reads it (answer highlighted) and the token lengths against the max length."""
    for finding in instruct.instruction_findings(train):
        st.warning(f"{finding.message} {finding.fix}")
    left, right = st.columns(2)
    try:
        number = left.number_input("Show training chat", 1, len(train), 1) - 1
        left.caption("How the model reads it, with its chat template. It learns only the highlighted answer.")
        left.html(rendered_chat_html(instruct.rendered_parts(cfg["model"], train["messages"][number])))
        lengths = instruct.chat_lengths(cfg["model"], train["messages"].tolist())
    except FineTuneError as exc:
        left.warning(f"The chat template needs the model's tokenizer: {exc}")
        return
    right.plotly_chart(charts.token_histogram(lengths, cfg["max_length"]))
    share = sum(n > cfg["max_length"] for n in lengths) / max(len(lengths), 1)
    right.caption(f"{share:.1%} of chats are longer than the max length ({cfg['max_length']} tokens): their answers "
                  "are cut at the end. Change it under Settings.")


def show_instruction(report: dict, run: RunDir) -> None:
    """Evaluate step: loss and perplexity before and after, answers side by side, and a chat with the model."""
    from ui.task_views import show_headline  # lazy: task_views maps every task to its view, this one included

    show_headline(report, tasks.INSTRUCTION, ("Test chats", f"{report['test_rows']:,}"))
    before = report.get("baselines", {}).get("base_model", {})
    st.dataframe(pd.DataFrame([{"model": "base model (before tuning)", **before},
                               {"model": "your tuned model", **report["metrics"]}]), hide_index=True,
                 column_config={"loss": st.column_config.NumberColumn("test loss", format="%.4f"),
                                "perplexity": st.column_config.NumberColumn("perplexity", format="%.3f")})
    st.caption("Loss is the mean cross-entropy on the test answers' tokens; perplexity is e to that power (how many "
               "tokens the model hesitates between). Lower is better for both.")
    st.subheader("Answers side by side (held-out prompts, greedy decoding with a repetition penalty)")
    for row in report.get("side_by_side", []):
        with st.container(border=True):
            st.markdown(f"**Prompt:** {row['prompt']}")
            base, tuned, reference = st.columns(3)
            base.caption("Base model")
            base.write(row["base"] or "(no answer)")
            tuned.caption("Tuned model")
            tuned.write(row["tuned"] or "(no answer)")
            reference.caption("Reference answer")
            reference.write(row["reference"])
    chat_box(run)


def chat_box(run: RunDir) -> None:
    """A chat with the exported model; the answer streams in token by token."""
    st.subheader("Chat with your model")
    history = state.chat_history(run.name)
    for message in history:
        st.chat_message(message["role"]).write(message["content"])
    prompt = st.chat_input("Ask your model something")
    if not prompt:
        return
    history.append({"role": "user", "content": prompt})
    st.chat_message("user").write(prompt)
    try:
        model, tokenizer = cached_chat_model(run.model)
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        history.pop()
        return
    from core.chat import stream_answer

    with st.chat_message("assistant"):
        reply = st.write_stream(stream_answer(model, tokenizer, history))
    history.append({"role": "assistant", "content": reply})
