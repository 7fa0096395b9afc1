"""Tiny generated images and a tiny random MobileNetV2 for the image-classification tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

COLOURS = {"red": (200, 40, 40), "blue": (40, 60, 200)}


def make_image(colour: tuple[int, int, int], seed: int, size: int = 40, mode: str = "RGB"):
    """A noisy image around one colour, in the given PIL mode."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (size, size, 3)), 0, 255).astype("uint8")
    return Image.fromarray(pixels).convert(mode)


def make_image_folder(root: Path, per_class: int = 12, suffix: str = ".png") -> Path:
    """root/<class>/<n><suffix> for the classes of COLOURS; returns root."""
    for k, (name, colour) in enumerate(COLOURS.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            make_image(colour, seed=100 * k + i).save(root / name / f"{i}{suffix}")
    return root


def zip_folder(folder: Path, archive: Path, top: str = "photos") -> Path:
    """A ZIP holding `folder`'s files under one top folder, as users zip a folder."""
    with zipfile.ZipFile(archive, "w") as bundle:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                bundle.write(file, f"{top}/{file.relative_to(folder)}")
    return archive


def save_tiny_mobilenet(folder: Path) -> Path:
    """A randomly initialised, very thin MobileNetV2 with a 32-pixel image processor, in HF format."""
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification, MobileNetV2ImageProcessorPil

    config = MobileNetV2Config(depth_multiplier=0.1, min_depth=4, image_size=32, tf_padding=False, num_labels=3)
    MobileNetV2ForImageClassification(config).save_pretrained(folder)
    MobileNetV2ImageProcessorPil(size={"shortest_edge": 36}, crop_size={"height": 32, "width": 32}).save_pretrained(
        folder)
    return folder
