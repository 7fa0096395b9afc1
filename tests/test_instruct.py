"""Instruction tuning: data formats, answer-only loss masks, LoRA and full training, export, the GGUF model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core import instruct
from core.config import TrainConfig
from core.errors import ConfigError, DataError

WORDS = ["apple", "river", "stone", "cloud", "green", "tiger", "paper", "music", "light", "ocean", "bread", "chair"]


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random Llama with the bundled MiniLM tokenizer plus ChatML markers and template."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from core.catalogue import find_entry, package_folder

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(package_folder(find_entry("all-minilm-l6-v2").location))
    tokenizer.add_special_tokens({"eos_token": "<|im_end|>", "additional_special_tokens": ["<|im_start|>"]})
    tokenizer.chat_template = instruct.CHATML
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # a decoder takes no token types
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm(tiny_lm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_lm_dir)


def alpaca_rows(count: int = 48) -> list[dict]:
    """A learnable pattern: repeat a word twice (some rows with an input, as Alpaca has)."""
    rows = []
    for i in range(count):
        word = WORDS[i % len(WORDS)]
        asked = ("Repeat the word twice.", f"{word} {i}") if i % 2 else (f"Repeat the word {word} twice ({i}).", "")
        rows.append({"instruction": asked[0], "input": asked[1], "output": f"{word} {word}"})
    return rows


@pytest.fixture
def alpaca_jsonl(tmp_path) -> Path:
    path = tmp_path / "alpaca.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in alpaca_rows()), encoding="utf-8")
    return path


# --- formats -------------------------------------------------------------------------------------------------------


def test_detects_alpaca_prompt_response_and_messages():
    assert instruct.detect_columns(pd.DataFrame(alpaca_rows(2))) == ["instruction", "input", "output"]
    assert instruct.detect_columns(pd.DataFrame({"Prompt": ["a"], "Response": ["b"]})) == ["Prompt", "Response"]
    assert instruct.detect_columns(pd.DataFrame({"id": [1], "messages": [[]]})) == ["messages"]
    with pytest.raises(DataError, match="No instruction columns"):
        instruct.detect_columns(pd.DataFrame({"text": ["a"], "label": ["b"]}))


def test_alpaca_input_joins_the_instruction():
    chats = instruct.to_chats(pd.DataFrame(alpaca_rows(2)), ["instruction", "input", "output"])
    assert chats["messages"][0] == [{"role": "user", "content": "Repeat the word apple twice (0)."},
                                    {"role": "assistant", "content": "apple apple"}]
    assert chats["messages"][1][0]["content"] == "Repeat the word twice.\n\nriver 1"
    assert chats["label"].tolist() == ["apple apple", "river river"]


def test_messages_from_csv_text_and_sharegpt_roles():
    chat = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]
    frame = instruct.to_chats(pd.DataFrame({"messages": [json.dumps(chat)]}), ["messages"])
    assert frame["messages"][0] == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    with pytest.raises(DataError, match="does not end with an assistant"):
        instruct.to_chats(pd.DataFrame({"messages": [[{"role": "user", "content": "hi"}]]}), ["messages"])
    with pytest.raises(DataError, match="role 'robot'"):
        instruct.to_chats(pd.DataFrame({"messages": [[{"role": "robot", "content": "x"}]]}), ["messages"])
    with pytest.raises(DataError, match="not a list of chat messages"):
        instruct.to_chats(pd.DataFrame({"messages": ["plain text"]}), ["messages"])


def test_cleaning_drops_empty_answers_and_duplicates():
    frame = instruct.to_chats(pd.DataFrame({"prompt": ["a", "a", "b"], "response": ["x", "x", " "]}),
                              ["prompt", "response"])
    cleaned, warnings = instruct.clean_chats(frame, drop_empty=True, drop_duplicates=True)
    assert cleaned["text"].tolist() == ["a"]
    assert len(warnings) == 2
    checks = {f.check for f in instruct.instruction_findings(frame)}
    assert checks == {"empty_responses", "exact_duplicates"}


# --- masking -------------------------------------------------------------------------------------------------------


def test_loss_only_on_the_answer_tokens(tiny_lm):
    chat = [{"role": "user", "content": "say hello please"}, {"role": "assistant", "content": "hello there friend"}]
    row = instruct.encode_chat(tiny_lm, chat, max_length=128)
    answer_ids = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != instruct.IGNORE_INDEX]
    assert answer_ids == row["labels"][-len(answer_ids):]  # the answer is the end of the chat
    assert tiny_lm.decode(answer_ids) == "hello there friend <|im_end|>"  # with the end-of-turn marker
    prompt_ids = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label == instruct.IGNORE_INDEX]
    assert "say hello please" in tiny_lm.decode(prompt_ids)


def test_every_assistant_turn_of_a_conversation_is_learned(tiny_lm):
    chat = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "first reply"},
            {"role": "user", "content": "two"}, {"role": "assistant", "content": "second reply"}]
    row = instruct.encode_chat(tiny_lm, chat, max_length=128)
    learned = tiny_lm.decode([t for t in row["labels"] if t != instruct.IGNORE_INDEX])
    assert learned == "first reply <|im_end|> second reply <|im_end|>"


def test_truncation_keeps_the_prompt_and_drops_chats_without_room(tiny_lm):
    long_answer = " ".join(WORDS * 10)
    chat = [{"role": "user", "content": "list words"}, {"role": "assistant", "content": long_answer}]
    row = instruct.encode_chat(tiny_lm, chat, max_length=40)
    assert len(row["input_ids"]) == 40 and "list words" in tiny_lm.decode(row["input_ids"])
    crowded = [{"role": "user", "content": long_answer}, {"role": "assistant", "content": "ok"}]
    rows, dropped = instruct.encode_chats(tiny_lm, [chat, crowded], max_length=40)
    assert (len(rows), dropped) == (1, 1)


def test_config_rules_for_instruction_tuning():
    base = {"task": "instruction-tuning", "train": "x.jsonl"}
    TrainConfig(**base, strategy="lora").validate()
    with pytest.raises(ConfigError, match="frozen strategy"):
        TrainConfig(**base, strategy="frozen").validate()
    with pytest.raises(ConfigError, match="augmentation"):
        TrainConfig(**base, strategy="lora", augment=["swap"], augment_copies=1).validate()
    assert TrainConfig(**base).best_metric == "loss"


def test_a_classifier_from_the_catalogue_is_refused(alpaca_jsonl, tmp_path, home):
    from core.api import train

    with pytest.raises(ConfigError, match="not a chat model"):
        train(task="instruction-tuning", train=str(alpaca_jsonl), output=str(tmp_path / "run"), strategy="lora")


# --- training end to end ---------------------------------------------------------------------------------------------


def _train(tiny_lm_dir, data: Path, output: Path, **options) -> dict:
    from core.api import train

    settings = {"task": "instruction-tuning", "train": str(data), "model": str(tiny_lm_dir), "epochs": 2,
                "batch_size": 8, "max_length": 64, "evaluations_per_epoch": 1, "early_stopping_patience": 0}
    return train(output=str(output), **{**settings, **options})


def test_full_tuning_lowers_held_out_loss_and_exports_a_pipeline_model(tiny_lm_dir, alpaca_jsonl, tmp_path, home):
    from transformers import pipeline

    run = tmp_path / "run"
    metrics = _train(tiny_lm_dir, alpaca_jsonl, run, strategy="full", learning_rate=3e-3, epochs=4)
    assert metrics["loss"] < metrics["base_loss"] and metrics["perplexity"] < metrics["base_perplexity"]
    report = json.loads((run / "report.json").read_text())
    assert len(report["side_by_side"]) == 5
    assert {"prompt", "reference", "base", "tuned"} <= set(report["side_by_side"][0])
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("eval_perplexity" in r for r in evals)
    chat = pipeline("text-generation", model=str(run / "model"))
    out = chat([{"role": "user", "content": "Repeat the word apple twice."}], max_new_tokens=4, do_sample=False)
    assert out[0]["generated_text"][-1]["role"] == "assistant"
    assert "text-generation" in (run / "model" / "README.md").read_text()
    assert not (run / "adapter").exists()


def test_lora_exports_merged_weights_and_the_adapter_alone(tiny_lm_dir, alpaca_jsonl, tmp_path, home):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run = tmp_path / "run"
    _train(tiny_lm_dir, alpaca_jsonl, run, strategy="lora", lora_r=4, lora_target_modules=["q_proj", "v_proj"],
           epochs=1)
    assert (run / "adapter" / "adapter_config.json").is_file() and (run / "adapter.zip").is_file()
    assert json.loads((run / "adapter" / "adapter_config.json").read_text())["r"] == 4
    merged = AutoModelForCausalLM.from_pretrained(run / "model")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    stacked = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_lm_dir), run / "adapter")
    ids = torch.tensor([[5, 6, 7, 8]])
    torch.testing.assert_close(merged(ids).logits, stacked.eval()(ids).logits, atol=1e-4, rtol=1e-4)


def test_cli_trains_from_chat_messages(tiny_lm_dir, tmp_path, home):
    from core.cli import main

    data = tmp_path / "chats.json"
    rows = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": r["instruction"]},
                          {"role": "assistant", "content": r["output"]}]} for r in alpaca_rows(40)]
    data.write_text(json.dumps(rows), encoding="utf-8")
    code = main(["train", "--task", "instruction-tuning", "--train", str(data), "--model", str(tiny_lm_dir),
                 "--strategy", "lora", "--lora-target-modules", "all-linear", "--epochs", "1", "--batch-size", "8",
                 "--max-length", "64", "--output", str(tmp_path / "run")])
    assert code == 0
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "completed" and set(status["metrics"]) == {"loss", "perplexity"}


def test_bad_target_modules_are_a_config_error(tiny_lm_dir, alpaca_jsonl, tmp_path, home):
    with pytest.raises(ConfigError, match="LoRA cannot wrap"):
        _train(tiny_lm_dir, alpaca_jsonl, tmp_path / "run", strategy="lora", lora_target_modules=["no_such_layer"])


# --- the bundled model ---------------------------------------------------------------------------------------------


def test_converter_refuses_site_packages(tmp_path):
    import sysconfig

    from core.errors import ModelError
    from core.gguf_models import convert_smollm2

    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF")
    with pytest.raises(ModelError, match="inside an installed package"):
        convert_smollm2(Path(sysconfig.get_path("purelib")) / "converted", source)


@pytest.mark.slow
def test_bundled_smollm2_converts_answers_and_tunes(tmp_path, home):
    from core.api import train
    from core.catalogue import resolve_model

    folder, source = resolve_model("smollm2-135m-instruct")
    facts = json.loads((Path(folder) / "conversion.json").read_text())
    assert source == "converted" and "paris" in facts["check"]["answer"].lower()
    data = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "alpaca_en_demo" / "train.jsonl"
    if not data.is_file():
        data = tmp_path / "alpaca.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in alpaca_rows(60)), encoding="utf-8")
    metrics = train(task="instruction-tuning", train=str(data), model="smollm2-135m-instruct", strategy="lora",
                    output=str(tmp_path / "run"), max_train_rows=32, validation_size=0.05, test_size=0.02,
                    epochs=1, batch_size=8, max_length=128, early_stopping_patience=0)
    assert metrics["loss"] < metrics["base_loss"] + 0.05
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
