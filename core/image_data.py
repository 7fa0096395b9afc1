"""Image classification data: class folders, ZIPs of them or CSVs of paths, read into (image, label) frames.

A prepared image frame has an `image` column (an absolute file path) and a `label` column (the class name).
Sources per split: a folder with one sub-folder per class, a ZIP of such a folder (unpacked once with
`core.archives.safe_extract` into the workspace cache), or a table (CSV, JSON...) with a path column and a label
column, its paths relative to the table's folder and never outside it.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path

import pandas as pd

from core import tasks
from core.archives import is_zip, safe_extract
from core.config import TrainConfig
from core.errors import DataError
from core.preparation import SPLITS, PreparedData, split_frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
PATH_COLUMNS = ("image", "path", "file", "filename", "filepath", "image_path", "img")


def to_rgb(image):
    """Any PIL image as 8-bit RGB: palettes and alpha are composited on white, 16-bit and CMYK converted."""
    from PIL import Image

    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA"}:
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode == "I":
        image = image.point(lambda v: v / 256).convert("L")  # 16-bit grey to 8-bit
    return image.convert("RGB")


def load_image(path: str | Path):
    """The image at `path` as RGB, fully decoded.

    Raises:
        DataError: The file is missing, not an image, or damaged.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns on odd but readable metadata
            with Image.open(path) as image:
                image.load()
                return to_rgb(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"The image {Path(path).name} cannot be read ({type(exc).__name__}).",
                        "Remove the file or replace it with a valid JPEG or PNG.") from None


def unpack_zip(archive: str | Path) -> Path:
    """The folder a ZIP of images unpacks to, in $FINETUNE_HOME/cache/images/<content hash> (reused)."""
    from core.workspace import workspace_home

    digest = hashlib.sha256()
    with open(archive, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    target = workspace_home() / "cache" / "images" / digest.hexdigest()[:24]
    if not (target / ".complete").is_file():
        for warning in safe_extract(archive, target):
            logger.warning(warning)
        (target / ".complete").write_text("", encoding="utf-8")
    return target


def class_root(folder: Path) -> Path:
    """The folder whose sub-folders are the classes; a ZIP often wraps them in one top folder (or a split name)."""
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        dirs = [p for p in entries if p.is_dir()]
        wrapper = len(dirs) == 1 and any(p.is_dir() for p in dirs[0].iterdir())  # not itself a class folder
        if wrapper and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in entries if p.is_file()):
            folder = dirs[0]
            continue
        return folder


def scan_folder(folder: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """(image, label) rows for every image under a class folder, and the files that were not images.

    Images in nested folders below a class folder count for that class.

    Raises:
        DataError: The folder does not exist or has no class sub-folders holding images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"The image folder {folder} does not exist.", "Check the path or upload the ZIP again.")
    root = class_root(folder)
    rows, skipped = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))):
        for file in sorted(class_dir.rglob("*")):
            if not file.is_file() or file.name.startswith("."):
                continue
            if file.suffix.lower() in IMAGE_SUFFIXES:
                rows.append({"image": str(file.resolve()), "label": class_dir.name})
            else:
                skipped.append(str(file.relative_to(root)))
    if not rows:
        raise DataError(f"{folder.name} holds no class sub-folders with images.",
                        "Put the images of each class in its own sub-folder (e.g. cats/1.jpg, dogs/2.jpg) and zip "
                        "the folder.")
    return pd.DataFrame(rows), skipped


def read_image_table(path: Path, cfg: TrainConfig) -> pd.DataFrame:
    """(image, label) rows from a table of image paths (relative to the table's folder, which they may not leave).

    Raises:
        DataError: No path or label column, or a path that points outside the table's folder.
    """
    from core.tables import load_table

    frame = load_table(str(path))
    column = next((c for c in (cfg.text_column, *PATH_COLUMNS) if c in frame.columns), None)
    if column is None or cfg.label_column not in frame.columns:
        raise DataError(f"{path.name} needs a column of image paths and a '{cfg.label_column}' column.",
                        f"Name the path column one of: {', '.join(PATH_COLUMNS)}.")
    root = path.parent.resolve()
    images = []
    for value in frame[column].astype(str):
        resolved = (root / value).resolve()
        if not resolved.is_relative_to(root):
            raise DataError(f"The image path '{value}' in {path.name} points outside the table's folder.",
                            "Keep the images in the table's folder or below it and use relative paths.")
        images.append(str(resolved))
    labels = frame[cfg.label_column].map(tasks.label_to_str)
    return pd.DataFrame({"image": images, "label": labels}).dropna().reset_index(drop=True)


def load_image_split(source: str, cfg: TrainConfig) -> tuple[pd.DataFrame, list[str]]:
    """(image, label) rows of one split's source (folder, ZIP or table) and the non-image files skipped."""
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"The image data {source} does not exist.", "Check the path or upload the ZIP again.")
    if path.is_dir():
        return scan_folder(path)
    if is_zip(path):
        return scan_folder(unpack_zip(path))
    return read_image_table(path, cfg), []


def drop_unreadable(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows whose file is a real, decodable image of a sensible size (`core.uploads.check_image`: content, not
    name; no decompression bombs, nothing under 8 pixels a side), and why each other one is not."""
    from core.uploads import check_image

    good, bad = [], []
    for path in frame["image"]:
        try:
            check_image(path)
            good.append(True)
        except (DataError, OSError) as exc:
            good.append(False)
            bad.append(exc.problem if isinstance(exc, DataError) else f"{Path(path).name} ({exc})")
    return frame[good].reset_index(drop=True), bad


def prepare_image_data(cfg: TrainConfig) -> PreparedData:
    """Load, check and split the image data a recipe names (see `core.preparation.prepare_data` for text).

    Raises:
        DataError: With the problem and the fix, for data that cannot be trained on.
    """
    files = {name: getattr(cfg, name) for name in SPLITS if getattr(cfg, name)}
    frames, warnings_, skipped = {}, [], {}
    for name, source in files.items():
        frame, skipped[name] = load_image_split(source, cfg)
        frame, bad = drop_unreadable(frame)
        if bad:
            warnings_.append(f"{len(bad)} {name} image(s) cannot be used and are skipped: {' '.join(bad[:5])}")
        if skipped[name]:
            warnings_.append(f"{len(skipped[name])} {name} file(s) are not images and are ignored: "
                             f"{', '.join(skipped[name][:5])}.")
        if frame.empty:
            raise DataError(f"No readable images are left in the {name} data.", "Upload JPEG or PNG files.")
        frames[name] = frame
    counts = frames["train"]["label"].value_counts()
    rare = counts[counts < cfg.min_examples_per_class].index.tolist()
    if rare:
        warnings_.append(f"Classes with fewer than {cfg.min_examples_per_class} images are dropped: "
                         f"{', '.join(map(str, rare[:10]))}.")
        frames["train"] = frames["train"][~frames["train"]["label"].isin(rare)].reset_index(drop=True)
    tasks.check_train_labels(frames, cfg)
    frames.update(split_frame(frames["train"], cfg, "validation" not in frames, "test" not in frames))
    if cfg.max_train_rows and len(frames["train"]) > cfg.max_train_rows:
        frames["train"] = frames["train"].sample(cfg.max_train_rows, random_state=cfg.seed).reset_index(drop=True)
    labels = tasks.label_list(frames, cfg)
    tasks.check_held_out_labels(frames, labels, cfg)
    report = {"files": files, "rows": {k: len(v) for k, v in frames.items()}, "labels": labels,
              "warnings": warnings_, "task": cfg.task, "skipped_files": skipped,
              "class_counts": {k: tasks.label_summary(v, cfg) for k, v in frames.items()}}
    return PreparedData(frames=frames, labels=labels, report=report)
