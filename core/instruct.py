"""Instruction data: detecting its format, turning rows into chats, and tokenising them with loss on answers only.

Three row formats are read, from JSON/JSONL/CSV/Parquet/Excel via `core.tables.load_table`:
- Alpaca: `instruction`, optional `input`, `output`;
- prompt/response (also question/answer, prompt/completion);
- chat: one column of `messages` lists of {"role", "content"} (OpenAI / ShareGPT-style after renaming).
Every row becomes a chat that ends with an assistant turn. The prepared frame has `messages` (the chat),
`text` (the last user turn, for display and de-duplication) and `label` (the last answer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core import cleaning
from core.config import TrainConfig
from core.errors import DataError, ModelError
from core.findings import Finding
from core.tables import load_table

if TYPE_CHECKING:
    from core.preparation import PreparedData

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # positions the loss skips (torch.nn.CrossEntropyLoss's default ignore_index)
MESSAGE_COLUMNS = ("messages", "conversations", "conversation", "chat")
PAIR_COLUMNS = (("instruction", "input", "output"), ("prompt", "response"), ("prompt", "completion"),
                ("question", "answer"), ("instruction", "output"), ("instruction", "response"))
ROLES = {"user", "assistant", "system"}
ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}
# A minimal ChatML template for models that ship without one (the layout SmolLM2 and Qwen use).
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
MIN_ANSWER_TOKENS = 8  # a row whose prompt leaves fewer answer tokens than this teaches nothing: it is dropped


def detect_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that hold the chats: [messages], [prompt, response] or [instruction, input, output].

    Raises:
        DataError: None of the known layouts is present.
    """
    lower = {str(c).lower(): c for c in frame.columns}
    for name in MESSAGE_COLUMNS:
        if name in lower:
            return [lower[name]]
    for names in PAIR_COLUMNS:
        if all(n in lower for n in names):
            return [lower[n] for n in names]
    raise DataError(f"No instruction columns were found (the columns are: {', '.join(map(str, frame.columns[:12]))}).",
                    "Use instruction/input/output (Alpaca), prompt/response, or a 'messages' column of chats, "
                    "or pick the columns yourself.")


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _parse_chat(value: object, row: int, name: str) -> list[dict[str, str]]:
    """One cell of a messages column as a clean list of {role, content} (JSON text is parsed, e.g. from CSV)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if isinstance(value, np.ndarray):  # Parquet lists arrive as arrays
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise DataError(f"Row {row + 1} of {name} is not a list of chat messages.",
                        'Write each chat as [{"role": "user", "content": "..."}, {"role": "assistant", ...}].')
    chat = []
    for message in value:
        role = str(message.get("role", message.get("from", ""))).lower()
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise DataError(f"Row {row + 1} of {name} has a message with the role '{role}'.",
                            "Use the roles user, assistant and system.")
        chat.append({"role": role, "content": _text(message.get("content", message.get("value")))})
    return chat


def to_chats(frame: pd.DataFrame, columns: list[str], name: str = "the data") -> pd.DataFrame:
    """Rows as chats: `messages` (ending with an answer), `text` (the last user turn) and `label` (the answer).

    Args:
        frame: The table as loaded.
        columns: One messages column, prompt and response, or instruction, input and output (see detect_columns).
        name: The file name, for messages.

    Raises:
        DataError: A column is missing, or a chat does not end with an assistant answer.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing or not 1 <= len(columns) <= 3:
        raise DataError(f"{name} has no column '{missing[0] if missing else columns}' for instruction data.",
                        f"Pick columns among: {', '.join(map(str, frame.columns[:12]))}.")
    named = [c for c in columns if c]
    if len(set(named)) < len(named):
        raise DataError("The same column is picked for two roles.", "Pick a different column for each role.")
    if len(columns) == 1:
        chats = [_parse_chat(v, i, name) for i, v in enumerate(frame[columns[0]])]
    else:
        prompt, answer = frame[columns[0]].map(_text), frame[columns[-1]].map(_text)
        if len(columns) == 3:  # Alpaca: the optional input follows the instruction after a blank line
            extra = frame[columns[1]].map(_text)
            prompt = [f"{p}\n\n{x}".strip() if x.strip() else p for p, x in zip(prompt, extra, strict=True)]
        chats = [[{"role": "user", "content": p}, {"role": "assistant", "content": a}]
                 for p, a in zip(prompt, answer, strict=True)]
    for row, chat in enumerate(chats):
        if not chat or chat[-1]["role"] != "assistant":
            raise DataError(f"Row {row + 1} of {name} does not end with an assistant answer.",
                            "End every chat with the answer the model should learn to give.")
    users = [next((m["content"] for m in reversed(c) if m["role"] == "user"), "") for c in chats]
    return pd.DataFrame({"messages": chats, "text": users, "label": [c[-1]["content"] for c in chats]})


def clean_chats(frame: pd.DataFrame, drop_empty: bool, drop_duplicates: bool) -> tuple[pd.DataFrame, list[str]]:
    """Drop chats without an answer and exact duplicate chats; whitespace inside answers is kept (code, lists)."""
    warnings = []
    if drop_empty:
        empty = frame["label"].str.strip().eq("")
        if empty.any():
            warnings.append(f"{int(empty.sum())} row(s) with an empty answer were dropped.")
        frame = frame[~empty]
    if drop_duplicates:
        key = frame["messages"].map(lambda c: json.dumps(c, sort_keys=True))
        duplicated = key.duplicated()
        if duplicated.any():
            warnings.append(f"{int(duplicated.sum())} duplicate row(s) were dropped.")
        frame = frame[~duplicated]
    return frame.reset_index(drop=True), warnings


def prepare_chats(cfg: TrainConfig) -> PreparedData:
    """Load the recipe's instruction files as chats, clean them and split off validation and test chats.

    Raises:
        DataError: The files hold no instruction layout, or nothing usable is left after cleaning.
    """
    from core.preparation import SPLITS, PreparedData, split_frame  # lazy: preparation hands this task here

    files = {name: getattr(cfg, name) for name in SPLITS if getattr(cfg, name)}
    frames, warnings = {}, []
    for name, path in files.items():
        table = load_table(path)
        columns = list(cfg.instruction_columns) or detect_columns(table)
        frames[name], dropped = clean_chats(to_chats(table, columns, Path(path).name),
                                                     cfg.drop_empty, cfg.drop_duplicates)
        warnings += [f"{name}: {w}" for w in dropped]
        if frames[name].empty:
            raise DataError(f"No usable chats are left in the {name} data after cleaning.",
                            "Check that the answer column holds text.")
    frames.update(split_frame(frames["train"], cfg, "validation" not in frames, "test" not in frames))
    if cfg.drop_duplicates:
        frames["train"], leak = cleaning.drop_leaked(frames["train"], pd.concat([frames["validation"], frames["test"]]))
        if leak.removed:
            warnings.append(f"{leak.removed} training chat(s) whose prompt is also held out were dropped.")
    if cfg.max_train_rows and len(frames["train"]) > cfg.max_train_rows:
        frames["train"] = frames["train"].sample(cfg.max_train_rows, random_state=cfg.seed).reset_index(drop=True)
    report = {"files": files, "task": cfg.task, "rows": {k: len(v) for k, v in frames.items()}, "labels": [],
              "warnings": warnings, "columns": list(cfg.instruction_columns) or "detected"}
    return PreparedData(frames=frames, labels=[], report=report)


def ensure_chat_template(tokenizer) -> None:
    """Give a tokenizer without a chat template the ChatML one, and a pad token (the end-of-text one) if it has none."""
    if not getattr(tokenizer, "chat_template", None):
        logger.warning("The tokenizer has no chat template; using ChatML (<|im_start|>role ... <|im_end|>).")
        tokenizer.chat_template = CHATML
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token


def render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The chat as the model reads it, through the tokenizer's own chat template."""
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except Exception as exc:  # noqa: BLE001 - jinja raises its own errors for templates that reject a chat
        raise ModelError(f"The model's chat template rejects this chat: {str(exc)[:160]}",
                         "Check the roles (user/assistant alternating), or pick an instruct model.") from None


def answer_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and the character spans of every assistant turn (with its end-of-turn marker).

    Each span runs from the end of the chat rendered up to that turn with the generation prompt, to the end of
    the chat rendered through that turn: the template's own boundaries, so it works for any template whose
    renderings of a chat's prefixes are prefixes of each other (ChatML, Llama 3, Mistral, Gemma, …).
    """
    text = render(tokenizer, messages)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(render(tokenizer, messages[:i], add_generation_prompt=True)) if i else 0
        end = len(render(tokenizer, messages[:i + 1]))
        if text[:end] != render(tokenizer, messages[:i + 1]):
            raise ModelError("The model's chat template does not render a chat as a continuation of its start.",
                             "Pick a model whose chat template renders turns one after another.")
        spans.append((start, end))
    return text, spans


def encode_chat(tokenizer, messages: list[dict], max_length: int) -> dict[str, list[int]] | None:
    """input_ids, attention_mask and labels (IGNORE_INDEX except on answer tokens) for one chat.

    Long chats keep their beginning, so the prompt stays whole and the answer is cut at the end; a chat whose
    prompt leaves fewer than MIN_ANSWER_TOKENS answer tokens returns None (the caller drops and counts it).
    """
    text, spans = answer_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = [token if any(a <= start < b for a, b in spans) else IGNORE_INDEX
              for token, (start, _end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)]
    answer_tokens = sum(label != IGNORE_INDEX for label in labels)
    labels = labels[:max_length]
    if sum(label != IGNORE_INDEX for label in labels) < min(MIN_ANSWER_TOKENS, answer_tokens):
        return None
    return {"input_ids": encoded["input_ids"][:max_length], "attention_mask": encoded["attention_mask"][:max_length],
            "labels": labels}


def encode_chats(tokenizer, chats: Iterable[list[dict]], max_length: int) -> tuple[list[dict], int]:
    """Encoded chats (see encode_chat) with a `length`, and how many were dropped for leaving no room to answer."""
    rows, dropped = [], 0
    for chat in chats:
        row = encode_chat(tokenizer, chat, max_length)
        if row is None:
            dropped += 1
            continue
        rows.append({**row, "length": len(row["input_ids"])})
    return rows, dropped


def prompt_of(messages: list[dict]) -> list[dict]:
    """The chat without its final answer: what the model is asked."""
    return messages[:-1]


def render_prompt(messages: list[dict]) -> str:
    """The prompt of a chat as plain text for tables: the question alone, or role-prefixed turns for longer chats."""
    prompt = prompt_of(messages)
    if len(prompt) == 1:
        return prompt[0]["content"]
    return "\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def instruction_findings(frame: pd.DataFrame, tokenizer=None, max_length: int = 256) -> list[Finding]:
    """Quality checks of prepared chats (see to_chats): empty answers, duplicates and chats over the max length."""
    findings = []
    empty = frame.index[frame["label"].str.strip().eq("")].tolist()
    if empty:
        findings.append(Finding("empty_responses", "warning", f"{len(empty)} row(s) have an empty answer.",
                                "Fill in the answers or drop those rows; they teach the model to say nothing.",
                                len(empty), empty[:5], "drop_empty"))
    key = frame["messages"].map(lambda c: json.dumps(c, sort_keys=True))
    duplicated = frame.index[key.duplicated()].tolist()
    if duplicated:
        findings.append(Finding("exact_duplicates", "warning", f"{len(duplicated)} row(s) repeat an earlier chat.",
                                "Drop the duplicates so they do not weigh more in training.", len(duplicated),
                                duplicated[:5], "drop_duplicates"))
    if tokenizer is not None and len(frame):
        lengths = frame["messages"].map(lambda c: len(tokenizer(render(tokenizer, c), add_special_tokens=False)
                                                      ["input_ids"]))
        over = frame.index[lengths > max_length].tolist()
        if over:
            share = len(over) / len(frame)
            findings.append(Finding("over_length", "warning" if share > 0.1 else "info",
                                    f"{share:.0%} of the chats are longer than {max_length} tokens; their answers "
                                    "are cut.", "Raise the max length, or accept shorter answers.", len(over),
                                    over[:5]))
    return findings


@lru_cache(maxsize=2)
def chat_tokenizer(model: str):
    """The tokenizer of a catalogue id, folder or Hub id, with a chat template and pad token (cached)."""
    from core.modeling import load_tokenizer  # lazy: modeling imports torch

    tokenizer = load_tokenizer(model)
    ensure_chat_template(tokenizer)
    return tokenizer


def chat_lengths(model: str, chats: list[list[dict]], limit: int = 1000) -> list[int]:
    """Token counts of (the first `limit`) chats as the model's template renders them, for the Data step."""
    tokenizer = chat_tokenizer(model)
    texts = [render(tokenizer, chat) for chat in chats[:limit]]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def rendered_parts(model: str, chat: list[dict]) -> list[tuple[str, bool]]:
    """The chat as the model reads it, cut into (text, is_learned_answer) pieces, for showing what the loss sees."""
    text, spans = answer_spans(chat_tokenizer(model), chat)
    parts, position = [], 0
    for start, end in spans:
        parts += [(text[position:start], False), (text[start:end], True)]
        position = end
    return [p for p in [*parts, (text[position:], False)] if p[0]]
