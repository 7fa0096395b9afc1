"""Judging uploads by their content, not their name: size cap, file-type sniffing and image validation."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from core.errors import DataError

# Matches `server.maxUploadSize` in .streamlit/config.toml; the engine enforces it too, for CLI and API callers.
DEFAULT_MAX_UPLOAD_MB = 200
# Signatures of files that are never data, however they are named (Windows/Linux/macOS programs, scripts).
PROGRAMS = {b"MZ": "a Windows program", b"\x7fELF": "a Linux program", b"\xcf\xfa\xed\xfe": "a macOS program",
            b"\xca\xfe\xba\xbe": "a macOS or Java program", b"#!": "a script"}
IMAGES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP"}
ARCHIVES = {b"PK\x03\x04": "ZIP", b"PK\x05\x06": "ZIP", b"\x1f\x8b": "gzip", b"7z\xbc\xaf": "7-Zip",
            b"Rar!": "RAR", b"%PDF": "PDF"}
# 40 megapixels: any camera photo fits; a 40,000×40,000 "decompression bomb" (1.6 gigapixels) does not.
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 8
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp"}


def max_upload_bytes() -> int:
    """The upload size cap: $FINETUNE_MAX_UPLOAD_MB megabytes, else 200 MB."""
    try:
        megabytes = float(os.environ.get("FINETUNE_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))
    except ValueError:
        megabytes = DEFAULT_MAX_UPLOAD_MB
    return int(megabytes * 1024 * 1024)


def sniff(head: bytes) -> tuple[str, str]:
    """(family, description) of a file from its first bytes: program, image, archive, or data."""
    if head[4:8] in {b"ftyp"}:
        return "media", "a video or HEIC photo"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "WEBP"
    for families, family in ((PROGRAMS, "program"), (IMAGES, "image"), (ARCHIVES, "archive")):
        for magic, description in families.items():
            if head.startswith(magic):
                return family, description
    return "data", "data"


def check_upload(filename: str, size: int, head: bytes, kind: str = "table") -> None:
    """Refuse an upload that is too large or whose content is not what it should hold.

    Args:
        filename: The name the user's browser sent (used only for messages and the suffix).
        size: The size in bytes.
        head: The first bytes of the content (64 are enough).
        kind: "table" for a data file, "images" for a ZIP of image folders.

    Raises:
        DataError: Over the size cap, or the content is a program, an image, a PDF or an archive
            (except an Excel workbook, which is a ZIP inside).
    """
    name = Path(filename.replace("\\", "/")).name or "upload"
    limit = max_upload_bytes()
    if size > limit:
        raise DataError(f"{name} is {size / 1024**2:,.0f} MB, over the upload limit of {limit / 1024**2:,.0f} MB.",
                        "Upload a smaller sample, or raise FINETUNE_MAX_UPLOAD_MB (and server.maxUploadSize).")
    family, what = sniff(head)
    if kind == "images":
        if what != "ZIP":
            raise DataError(f"{name} is not a ZIP archive (its content reads as {what}).",
                            "Zip the folder of class sub-folders and upload the .zip file.")
        return
    if family == "data" or (what == "ZIP" and Path(name).suffix.lower() == ".xlsx"):
        return
    if family == "image":
        problem = f"{name} is a {what} image, not a table."
    else:
        problem = f"{name} is {what if what.startswith('a') else 'a ' + what + ' file'}, not a table of data."
    raise DataError(problem, "Upload a CSV, TSV, JSON, JSONL, Parquet or Excel file.")


def check_image(path: str | Path) -> tuple[int, int]:
    """Check that a file is a real, decodable image of a sensible size, judged by content.

    Returns:
        (width, height) in pixels.

    Raises:
        DataError: Not an image (e.g. a program renamed .jpg), corrupt or truncated, too small
            (under 8 pixels a side), or so large its header is a decompression bomb.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    with path.open("rb") as handle:
        family, what = sniff(handle.read(16))
    if family != "image":
        raise DataError(f"{path.name} is not an image: its content is {what if family != 'data' else 'not a picture'}.",
                        "Remove it from the folder; only JPEG, PNG, GIF, BMP and WEBP pictures are read.")
    fix = "Remove it or export it again from an image editor."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                _check_dimensions(path.name, width, height)
                image.verify()  # structure and checksums, without decoding
            with Image.open(path) as image:
                image.load()  # verify() misses truncated JPEG data; decoding does not
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{path.name} declares a picture of hundreds of megapixels: a decompression bomb, far over "
                        f"the {MAX_IMAGE_PIXELS / 1e6:.0f} megapixel limit.",
                        "Resize it below 6,000 pixels a side.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path.name} is a corrupt {what} image ({str(exc)[:120]}).", fix) from None
    return width, height


def _check_dimensions(name: str, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{name} declares {width:,}×{height:,} pixels, over the {MAX_IMAGE_PIXELS / 1e6:.0f} megapixel "
                        "limit (a decompression bomb or a scan far larger than a model can use).",
                        "Resize it below 6,000 pixels a side.")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise DataError(f"{name} is only {width}×{height} pixels, too small to learn from.",
                        f"Remove it or use pictures at least {MIN_IMAGE_SIDE} pixels a side.")
