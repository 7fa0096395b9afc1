"""The wizard for instruction tuning (AppTest): task switch, data, augmentation off, evaluate, chat, download."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from core import tasks
from tests.test_instruct import alpaca_rows, tiny_lm_dir  # noqa: F401 - tiny_lm_dir is a fixture used here
from tests.test_pages import blank_wizard, by_label, metric_values, open_page, saved_wizard, texts

RUN = "tiny-chat"


def write_alpaca(folder: Path) -> Path:
    path = folder / "alpaca.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in alpaca_rows()), encoding="utf-8")
    return path


def chat_wizard(data: Path, model: Path, **changes) -> dict:
    from core.config import TrainConfig

    config = {**TrainConfig(task=tasks.INSTRUCTION, model=str(model), strategy="lora", max_length=64).to_dict()}
    return blank_wizard(task=tasks.INSTRUCTION, config=config,
                        data={"train": str(data), "source_name": data.name, "columns_ok": True}, **changes)


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory, tiny_lm_dir) -> tuple[Path, Path]:  # noqa: F811 - the imported fixture
    """(a finished LoRA run of the tiny chat model, its data), trained once for this module."""
    from core.api import train

    folder = tmp_path_factory.mktemp("chat-run")
    data = write_alpaca(folder)
    train(task=tasks.INSTRUCTION, train=str(data), model=str(tiny_lm_dir), output=str(folder / "run"),
          strategy="lora", epochs=1, batch_size=8, max_length=64, early_stopping_patience=0)
    return folder / "run", data


@pytest.fixture
def placed(home, chat_run, tiny_lm_dir) -> dict:  # noqa: F811
    run, data = chat_run
    shutil.copytree(run, home / "runs" / RUN, ignore=shutil.ignore_patterns("checkpoints"))
    return chat_wizard(data, tiny_lm_dir, active_run=RUN)


def test_choosing_instruction_tuning_switches_to_a_chat_model_and_lora(home):
    at = open_page("task")
    by_label(at.radio, "Task").set_value(tasks.INSTRUCTION).run()
    assert not at.exception
    config = saved_wizard(home)["config"]
    assert (config["task"], config["model"], config["strategy"]) == (tasks.INSTRUCTION, "smollm2-135m-instruct",
                                                                     "lora")


def test_data_step_detects_alpaca_and_highlights_the_learned_answer(home, tmp_path, tiny_lm_dir):  # noqa: F811
    at = open_page("data", chat_wizard(write_alpaca(tmp_path), tiny_lm_dir))
    assert by_label(at.radio, "Layout of your data").value == "alpaca"
    assert [by_label(at.selectbox, role).value for role in ("Instruction", "Input (optional)", "Output")] == \
        ["instruction", "input", "output"]
    assert int(metric_values(at)["Training chats"].replace(",", "")) > 30
    rendered = "\n".join(element.proto.body for element in at.get("html"))
    prompt, marked = re.fullmatch(r'(?s).*?(&lt;\|im_start\|&gt;user.*)<mark[^>]*>(.*)</mark></pre>', rendered).groups()
    word = marked.split()[0]
    assert marked.startswith(f"{word} {word}&lt;|im_end|&gt;") and word in prompt and "<mark" not in prompt
    by_label(at.radio, "Layout of your data").set_value("pair").run()
    assert not at.exception
    assert saved_wizard(home)["config"]["instruction_columns"] == ["instruction", "output"]


def test_data_step_says_when_it_finds_no_instruction_columns(home, tmp_path, tiny_lm_dir):  # noqa: F811
    data = tmp_path / "plain.csv"
    data.write_text("text,label\nhello,greeting\n", encoding="utf-8")
    at = open_page("data", chat_wizard(data, tiny_lm_dir))
    assert "No instruction columns were found" in texts(at.info)
    assert [by_label(at.selectbox, role).value for role in ("Instruction", "Input (optional)", "Output")] == \
        ["text", "— none —", "label"]


def test_augmentation_is_off_for_instruction_tuning(home, tmp_path, tiny_lm_dir):  # noqa: F811
    at = open_page("augment", chat_wizard(write_alpaca(tmp_path), tiny_lm_dir))
    assert "off for instruction tuning" in texts(at.info)
    assert not at.multiselect


def test_settings_offer_lora_and_full_only_with_the_target_layers(home, tmp_path, tiny_lm_dir):  # noqa: F811
    at = open_page("hyperparameters", chat_wizard(write_alpaca(tmp_path), tiny_lm_dir))
    assert by_label(at.selectbox, "Fine-tuning strategy").options == ["LoRA adapters", "Full fine-tuning"]
    target = by_label(at.text_input, "LoRA target layers")
    assert "q_proj" in target.value
    target.set_value("q_proj, v_proj").run()
    assert saved_wizard(home)["config"]["lora_target_modules"] == ["q_proj", "v_proj"]


def test_evaluate_shows_before_after_and_answers_side_by_side(placed, chat_run):
    report = json.loads((chat_run[0] / "report.json").read_text())
    at = open_page("evaluate", placed)
    metrics = metric_values(at)
    assert metrics["Test loss"] == f"{report['metrics']['loss']:.4f}"
    assert metrics["Perplexity"] == f"{report['metrics']['perplexity']:.3f}"
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["base model (before tuning)", "your tuned model"]
    prompts = [m.value for m in at.markdown if m.value.startswith("**Prompt:**")]
    assert len(prompts) == len(report["side_by_side"]) == 5


def test_chat_box_streams_an_answer_and_keeps_the_conversation(placed):
    at = open_page("evaluate", placed)
    at.chat_input[0].set_value("Repeat the word apple twice.").run()
    assert not at.exception
    roles = [message.name for message in at.chat_message]
    assert roles == ["user", "assistant"]
    at.chat_input[0].set_value("And river?").run()
    assert [message.name for message in at.chat_message] == ["user", "assistant", "user", "assistant"]


def test_download_offers_the_merged_model_and_the_adapter(placed):
    at = open_page("export", placed)
    labels = [button.proto.label for button in at.get("download_button")]
    assert any(label.startswith("Download model") for label in labels)
    assert any(label.startswith("Download the LoRA adapter alone") for label in labels)
    assert 'pipeline("text-generation", model="model")' in at.code[0].value
