"""Answering chats with a causal language model: greedy answers for reports, streamed tokens for the chat box."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import torch

from core.errors import ModelError
from core.instruct import ensure_chat_template

DEFAULT_NEW_TOKENS = 128
# Greedy decoding of small chat models loops on long answers ("They can be used to help users... They can be
# used to help users..."); the CTRL paper's penalty of 1.2 on tokens already generated stops that and keeps the
# answers deterministic. The exported model's own generation_config is left as the base model had it.
REPETITION_PENALTY = 1.2


def load_chat_model(folder: str | Path):
    """(model, tokenizer) of an exported text-generation folder, in eval mode on the CPU.

    Raises:
        ModelError: The folder is not a causal language model.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise ModelError(f"The chat model in {folder} could not be loaded: {str(exc).splitlines()[0][:160]}",
                         "Train an instruction-tuning run first, or check the folder.") from None
    ensure_chat_template(tokenizer)
    return model.eval(), tokenizer


def _generation_inputs(model, tokenizer, messages: list[dict], max_new_tokens: int) -> dict:
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    ids = {key: inputs[key].to(model.device) for key in ("input_ids", "attention_mask")}  # no token types
    return {**ids, "max_new_tokens": max_new_tokens, "do_sample": False, "repetition_penalty": REPETITION_PENALTY,
            "pad_token_id": tokenizer.pad_token_id}


@torch.no_grad()
def answer(model, tokenizer, messages: list[dict], max_new_tokens: int = DEFAULT_NEW_TOKENS) -> str:
    """The model's greedy answer to a chat, repetition-penalised (deterministic: base and tuned compare fairly)."""
    inputs = _generation_inputs(model, tokenizer, messages, max_new_tokens)
    output = model.generate(**inputs)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def stream_answer(model, tokenizer, messages: list[dict], max_new_tokens: int = 256) -> Iterator[str]:
    """The answer piece by piece as it is generated (transformers' TextIteratorStreamer; generate runs in a thread,
    as its documentation shows, because the streamer is read while generation goes on)."""
    from transformers import TextIteratorStreamer

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120)
    inputs = _generation_inputs(model, tokenizer, messages, max_new_tokens)
    worker = threading.Thread(target=torch.no_grad()(model.generate), kwargs={**inputs, "streamer": streamer},
                              daemon=True)
    worker.start()
    yield from streamer
    worker.join()
