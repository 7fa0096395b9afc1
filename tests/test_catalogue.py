"""core.catalogue: the bundled catalogue, and turning a model choice into a safe, loadable location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.catalogue import find_entry, load_catalogue, models_for_task, resolve_model
from core.errors import ModelError


def test_catalogue_loads_with_unique_ids():
    entries = load_catalogue()
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)) >= 1
    assert all(e.source in {"package", "converted", "local", "hub"} and e.tasks for e in entries)


def test_default_model_is_offline_and_resolves_to_a_model_folder():
    entry = find_entry("all-minilm-l6-v2")
    assert entry is not None and entry.available_offline
    location, source = resolve_model("all-minilm-l6-v2")
    assert source == "package"
    assert (Path(location) / "config.json").is_file()
    assert any(Path(location).glob("*.safetensors"))


def test_offline_models_are_listed_first():
    entries = models_for_task("text-classification")
    offline = [e.available_offline for e in entries]
    assert offline == sorted(offline, reverse=True)
    assert models_for_task("no-such-task") == []


def test_local_folder(tiny_model_dir):
    location, source = resolve_model(str(tiny_model_dir))
    assert (Path(location), source) == (tiny_model_dir.resolve(), "local")


def test_hub_id():
    assert resolve_model("someone/some-model") == ("someone/some-model", "hub")
    assert resolve_model("  bert-base-cased ") == ("bert-base-cased", "hub")


def test_catalogue_hub_entry_resolves_to_its_hub_location():
    entry = find_entry("distilbert-base-uncased")
    assert resolve_model("distilbert-base-uncased") == (entry.location, "hub")


def test_pickle_only_folder_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ModelError) as caught:
        resolve_model(str(tmp_path))
    assert "pickle" in str(caught.value) and "pytorch_model.bin" in str(caught.value)


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_folder_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="no model weights"):
        resolve_model(str(tmp_path))


def test_missing_folder_path_is_refused(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "absent"))


@pytest.mark.parametrize("choice", ["not a model!!", "", "   ", "a/b/c"])
def test_garbage_is_refused(choice):
    with pytest.raises(ModelError):
        resolve_model(choice)
