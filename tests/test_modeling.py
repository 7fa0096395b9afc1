"""core.modeling on a tiny random BERT: what each strategy trains, dropout, and LoRA merging for export."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from core.config import TrainConfig
from core.errors import ConfigError, ModelError
from core.modeling import count_parameters, load_classifier, load_tokenizer, merge_for_export, pick_device

LABELS = ["negative", "positive"]


def classifier(tiny_model_dir, **settings):
    torch.manual_seed(0)
    return load_classifier(TrainConfig(train="x.csv", model=str(tiny_model_dir), **settings), LABELS)


def trainable_names(model: nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


def test_head_has_the_labels(tiny_model_dir):
    model = classifier(tiny_model_dir)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    assert model.classifier.out_features == 2


def test_strategies_train_the_expected_parameters(tiny_model_dir):
    counts = {s: count_parameters(classifier(tiny_model_dir, strategy=s, trainable_layers=1))
              for s in ("full", "frozen", "top_layers", "lora")}
    full_trainable, total = counts["full"]
    assert full_trainable == total
    assert counts["frozen"][0] < counts["top_layers"][0] < full_trainable
    assert all(counts[s][1] == total for s in ("frozen", "top_layers"))  # freezing removes nothing
    lora_trainable, lora_total = counts["lora"]
    assert 0 < lora_trainable < 0.01 * lora_total


def test_frozen_trains_only_head_and_pooler(tiny_model_dir):
    names = trainable_names(classifier(tiny_model_dir, strategy="frozen"))
    assert names and all(n.startswith(("classifier.", "bert.pooler.")) for n in names)
    assert any(n.startswith("classifier.") for n in names)


def test_top_layers_unfreezes_the_last_layers_only(tiny_model_dir):
    names = trainable_names(classifier(tiny_model_dir, strategy="top_layers", trainable_layers=1))
    assert any(n.startswith("bert.encoder.layer.1.") for n in names)
    assert not any(n.startswith(("bert.encoder.layer.0.", "bert.embeddings.")) for n in names)


def test_lora_trains_adapters_and_head(tiny_model_dir):
    names = trainable_names(classifier(tiny_model_dir, strategy="lora", lora_r=4))
    assert any("lora_A" in n for n in names) and any("lora_B" in n for n in names)
    assert all("lora_" in n or "classifier" in n for n in names)


def test_dropout_override_is_applied(tiny_model_dir):
    default = classifier(tiny_model_dir)
    assert default.config.hidden_dropout_prob == pytest.approx(0.1)
    model = classifier(tiny_model_dir, dropout=0.35)
    assert model.config.hidden_dropout_prob == pytest.approx(0.35)
    assert model.config.attention_probs_dropout_prob == pytest.approx(0.35)
    rates = {m.p for m in model.modules() if isinstance(m, nn.Dropout)}
    assert rates and all(rate == pytest.approx(0.35) for rate in rates)


def test_merge_for_export_gives_a_plain_model_with_the_same_outputs(tiny_model_dir, tmp_path):
    model = classifier(tiny_model_dir, strategy="lora", lora_r=4).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:  # B starts at zero; make the adapters matter
                param.copy_(torch.randn_like(param) * 0.5)
    inputs = {"input_ids": torch.tensor([[101, 2023, 2003, 1037, 3231, 102]]),
              "attention_mask": torch.ones(1, 6, dtype=torch.long)}
    with torch.no_grad():
        expected = model(**inputs).logits
    plain = merge_for_export(model)
    assert isinstance(plain, PreTrainedModel) and not hasattr(plain, "peft_config")
    assert not any("lora" in key for key in plain.state_dict())
    plain.save_pretrained(tmp_path / "export", safe_serialization=True)
    assert (tmp_path / "export" / "model.safetensors").is_file()
    assert not list((tmp_path / "export").glob("*.bin"))
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "export").eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(**inputs).logits, expected, atol=1e-5)
    assert reloaded.config.id2label == {0: "negative", 1: "positive"}


def test_merge_for_export_leaves_plain_models_alone(tiny_model_dir):
    model = classifier(tiny_model_dir)
    assert merge_for_export(model) is model


def test_tokenizer_loads_from_a_folder(tiny_model_dir):
    assert load_tokenizer(str(tiny_model_dir))("a fine film")["input_ids"][0] == 101


def test_unloadable_folder_is_a_model_error(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match="could not be loaded"):
        load_classifier(TrainConfig(train="x.csv", model=str(tmp_path)), LABELS)


def test_pick_device():
    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError):
            pick_device("cuda")
