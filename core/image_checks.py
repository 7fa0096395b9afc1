"""Data checks for image classification, reported as `core.findings.Finding`s for the quality report.

Each image is opened once: unreadable files, tiny images, non-RGB modes, exact duplicate files (by content
hash, flagging copies filed under different classes), placeholder graphics (nearly one flat colour, as an
"image not found" picture saved instead of a photo), files that are not images, images in nested folders, and
the balance between classes.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.findings import Finding

MIN_SIDE = 32  # pixels; below this most pretrained models see mush
# With colours binned 8 levels per channel, the commonest bin covers at most ~70 % of a photo's pixels (dark or
# grey ones included; measured on hymenoptera) but ~96 % of a rendered "image not found" placeholder on white.
FLAT_SHARE = 0.9
IMBALANCE_RATIO = 3.0
FEW_PER_CLASS = 5


@dataclass
class ImageFacts:
    """What one file is, as far as the checks need to know."""

    path: str
    label: str
    readable: bool
    mode: str = ""
    width: int = 0
    height: int = 0
    flat_share: float = 0.0  # share of pixels in the commonest coarse colour
    digest: str = ""


def file_digest(path: str) -> str:
    """SHA-256 of a file's bytes ("" when it cannot be read): equal digests are the same image."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def inspect_image(path: str, label: str) -> ImageFacts:
    """Open one file and measure it; never raises."""
    from PIL import Image

    try:
        data = Path(path).read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.load()
                mode, (width, height) = image.mode, image.size
                bins = np.asarray(image.convert("RGB"), dtype=np.int32) // 32
    except Exception:  # noqa: BLE001 - any failure to read or decode means "unreadable"
        return ImageFacts(path, label, readable=False)
    key = (bins[..., 0] * 64 + bins[..., 1] * 8 + bins[..., 2]).ravel()
    share = float(np.bincount(key, minlength=512).max() / max(1, key.size))
    return ImageFacts(path, label, True, mode, width, height, share, hashlib.sha256(data).hexdigest())


def image_findings(frame: pd.DataFrame, skipped: list[str] | None = None) -> list[Finding]:
    """Every problem found in an (image, label) frame, most severe first.

    Args:
        frame: Rows with `image` (file path) and `label`, as `core.image_data.load_image_split` returns them.
        skipped: Files of the upload that were not images (from `load_image_split`).
    """
    facts = [inspect_image(p, str(label)) for p, label in zip(frame["image"], frame["label"], strict=True)]
    readable = [f for f in facts if f.readable]
    found = [_unreadable(facts), _tiny(readable), _graphics(readable), *_duplicates(readable), _modes(readable),
             _not_images(skipped or []), _nested(readable), *_balance(frame)]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted((f for f in found if f is not None), key=lambda f: order[f.severity])


def _names(facts: list[ImageFacts]) -> list[str]:
    return [f"{f.label}/{Path(f.path).name}" for f in facts[:5]]


def _unreadable(facts: list[ImageFacts]) -> Finding | None:
    bad = [f for f in facts if not f.readable]
    if not bad:
        return None
    return Finding("unreadable_images", "warning", f"{len(bad)} file(s) cannot be read as images; training skips "
                   "them.", "Replace them with valid JPEG or PNG files, or delete them.", len(bad), _names(bad))


def _tiny(facts: list[ImageFacts]) -> Finding | None:
    small = [f for f in facts if min(f.width, f.height) < MIN_SIDE]
    if not small:
        return None
    return Finding("tiny_images", "warning", f"{len(small)} image(s) are smaller than {MIN_SIDE} pixels on a side; "
                   "upscaled, they carry little detail.", "Use larger originals where you have them.", len(small),
                   _names(small))


def _graphics(facts: list[ImageFacts]) -> Finding | None:
    flat = [f for f in facts if f.flat_share >= FLAT_SHARE]
    if not flat:
        return None
    return Finding("placeholder_images", "warning", f"{len(flat)} image(s) are almost one flat colour: they look "
                   "like placeholders, icons or blank frames rather than photos.",
                   "Open them; remove any that are not real examples of their class.", len(flat), _names(flat))


def _duplicates(facts: list[ImageFacts]) -> list[Finding]:
    groups: dict[str, list[ImageFacts]] = defaultdict(list)
    for fact in facts:
        groups[fact.digest].append(fact)
    copies = [g for g in groups.values() if len(g) > 1]
    conflicting = [g for g in copies if len({f.label for f in g}) > 1]
    found = []
    if copies:
        found.append(Finding("duplicate_images", "warning", f"{sum(len(g) - 1 for g in copies)} image file(s) are "
                             "exact copies of another; they count twice and can leak between splits.",
                             "Delete the copies.", sum(len(g) - 1 for g in copies),
                             [[f"{f.label}/{Path(f.path).name}" for f in g] for g in copies[:5]], "drop_duplicates"))
    if conflicting:
        found.append(Finding("conflicting_duplicates", "error", f"{len(conflicting)} identical image(s) are filed "
                             "under different classes.", "Keep each picture in the one class it belongs to.",
                             len(conflicting), [[f"{f.label}/{Path(f.path).name}" for f in g]
                                                for g in conflicting[:5]]))
    return found


def _modes(facts: list[ImageFacts]) -> Finding | None:
    other = [f for f in facts if f.mode != "RGB"]
    if not other:
        return None
    modes = sorted({f.mode for f in other})
    return Finding("non_rgb_images", "info", f"{len(other)} image(s) are not RGB ({', '.join(modes)}); they are "
                   "converted to RGB (transparency on white).", "Nothing to do.", len(other), _names(other))


def _not_images(skipped: list[str]) -> Finding | None:
    if not skipped:
        return None
    return Finding("non_image_files", "info", f"{len(skipped)} file(s) in the upload are not images and are "
                   "ignored.", "Remove them from the ZIP to keep it small.", len(skipped), skipped[:5])


def _nested(facts: list[ImageFacts]) -> Finding | None:
    nested = [f for f in facts if Path(f.path).parent.name != f.label]
    if not nested:
        return None
    return Finding("nested_folders", "info", f"{len(nested)} image(s) sit in folders below their class folder; "
                   "they count for the class folder above them.", "Flatten the folders if the sub-folders are "
                   "really other classes.", len(nested), _names(nested))


def _balance(frame: pd.DataFrame) -> list[Finding]:
    counts = frame["label"].astype(str).value_counts()
    found = []
    if len(counts) > 1 and counts.max() / counts.min() > IMBALANCE_RATIO:
        found.append(Finding("class_imbalance", "warning", f"The largest class has {counts.max()} images and the "
                             f"smallest {counts.min()} ({counts.max() / counts.min():.1f}x).",
                             "Add images of the small classes; accuracy alone will flatter the model.",
                             len(counts), [f"{k}: {v}" for k, v in counts.items()][:10]))
    few = counts[counts < FEW_PER_CLASS]
    if len(few):
        found.append(Finding("few_images_per_class", "warning", f"{len(few)} class(es) have fewer than "
                             f"{FEW_PER_CLASS} images.", "Aim for at least 20 images per class.", len(few),
                             [f"{k}: {v}" for k, v in few.items()]))
    return found
