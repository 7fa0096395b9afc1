"""Random image augmentations for training images, on the fly and seeded, built with albumentations.

albumentations (MIT) works on numpy arrays with OpenCV and needs no torchvision, so the pinned torch stack stays
as it is. Augmentations apply to the training split only, never to validation or test images. One `strength`
in [0, 1] scales every transform's range (0.5 is the usual Teachable-Machine-like setting).
"""

from __future__ import annotations

import os

import numpy as np

from core.errors import ConfigError

IMAGE_AUGMENTERS = {
    "flip": "Mirror left-right (half the images).",
    "rotate": "Rotate by up to 30° × strength.",
    "crop": "Random resized crop keeping 50–100 % of the area (more cut at higher strength).",
    "color": "Colour jitter: brightness, contrast, saturation and hue.",
    "blur": "Gaussian blur on some images.",
}


def check_image_names(names: list[str]) -> list[str]:
    """The names that are not image augmentations."""
    return [n for n in names if n not in IMAGE_AUGMENTERS]


def build_augmenter(names: list[str], strength: float, size: int, seed: int):
    """An albumentations pipeline for `names` (in a fixed order), reproducible for a given seed.

    Args:
        names: Keys of IMAGE_AUGMENTERS.
        strength: 0 (off) to 1 (strong).
        size: Side in pixels of the square random crop (the model's resize size).
        seed: Seeds the pipeline's own random generator.

    Raises:
        ConfigError: An unknown name or a strength outside [0, 1].
    """
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # its import would otherwise ask PyPI for a newer version
    import albumentations as A

    unknown = check_image_names(names)
    if unknown or not 0 <= strength <= 1:
        raise ConfigError(f"Unknown image augmentation(s) {unknown} or strength {strength} outside [0, 1].",
                          f"Use {', '.join(IMAGE_AUGMENTERS)} and a strength between 0 and 1.")
    s = strength
    steps = {
        "flip": lambda: A.HorizontalFlip(p=0.5),
        "rotate": lambda: A.Rotate(limit=30 * s, border_mode=0, p=0.7),
        "crop": lambda: A.RandomResizedCrop(size=(size, size), scale=(1 - 0.5 * s, 1.0), p=1.0),
        "color": lambda: A.ColorJitter(brightness=0.4 * s, contrast=0.4 * s, saturation=0.4 * s, hue=0.1 * s,
                                       p=0.8),
        "blur": lambda: A.GaussianBlur(sigma_limit=(0.1, 0.1 + 2 * s), p=0.3),
    }
    return A.Compose([steps[name]() for name in IMAGE_AUGMENTERS if name in names], seed=seed)


def augment_image(augmenter, image):
    """One augmented RGB PIL image from `image` (a PIL image)."""
    from PIL import Image

    return Image.fromarray(augmenter(image=np.asarray(image))["image"])


def preview_image_augmentations(paths: list[str], names: list[str], strength: float, seed: int = 0,
                                copies: int = 3, size: int = 224) -> list[dict]:
    """For each image: the original and `copies` augmented versions, for the Augment page's grid."""
    from core.image_data import load_image

    augmenter = build_augmenter(names, strength, size, seed)
    rows = []
    for path in paths:
        image = load_image(path)
        image.thumbnail((size, size))
        rows.append({"image": path, "original": image,
                     "augmented": [augment_image(augmenter, image) for _ in range(copies)]})
    return rows
