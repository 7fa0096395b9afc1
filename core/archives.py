"""Unpacking user ZIP files safely: no path escapes the destination, no symlinks, no ZIP bombs."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import DataError

# Limits for one upload: generous for real image folders, far below what would fill a disk.
MAX_FILES = 200_000
MAX_TOTAL_BYTES = 8 * 1024**3
# A real archive of photos compresses by ~1.1x, of text by ~5x; 200x only comes from crafted bombs.
MAX_RATIO = 200
CHUNK = 1 << 20


def member_path(name: str) -> PurePosixPath | None:
    """The relative path an archive member may be written to, or None for names that would escape."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    return path


def safe_extract(archive: str | Path, destination: str | Path) -> list[str]:
    """Extract a ZIP into `destination`, refusing anything that could escape it or exhaust the disk.

    Members with absolute paths, `..` parts, drive letters or symlink modes are skipped and
    named in the returned warnings; macOS resource forks are skipped silently.

    Raises:
        DataError: The file is not a ZIP, is encrypted, or declares more files, bytes or a
            higher compression ratio than an honest upload would.
    """
    archive, destination = Path(archive), Path(destination)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{archive.name} is not a readable ZIP file ({error}).",
                        "Create the archive again with your system's 'Compress' command.") from error
    warnings: list[str] = []
    with bundle:
        members = bundle.infolist()
        _check_sizes(archive.name, members)
        destination.mkdir(parents=True, exist_ok=True)
        root = destination.resolve()
        for info in members:
            path = member_path(info.filename)
            if path is None:
                warnings.append(f"Skipped '{info.filename}': its path points outside the archive.")
                continue
            if path.parts and (path.parts[0] == "__MACOSX" or path.name.startswith("._")):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                warnings.append(f"Skipped '{info.filename}': links are not allowed in uploads.")
                continue
            if info.flag_bits & 0x1:
                raise DataError(f"{archive.name} is password-protected.", "Upload an archive without a password.")
            target = (root / path).resolve()
            if not target.is_relative_to(root):
                warnings.append(f"Skipped '{info.filename}': its path points outside the archive.")
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_limited(bundle, info, target, archive.name)
    return warnings


def _check_sizes(name: str, members: list[zipfile.ZipInfo]) -> None:
    """Refuse archives whose declared contents are bombs or simply too large."""
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if len(members) > MAX_FILES:
        raise DataError(f"{name} holds {len(members):,} files, more than the {MAX_FILES:,} allowed.",
                        "Split the data into smaller archives.")
    if total > MAX_TOTAL_BYTES:
        raise DataError(f"{name} would unpack to {total / 1024**3:.1f} GB, more than the "
                        f"{MAX_TOTAL_BYTES / 1024**3:.0f} GB allowed.", "Upload a smaller archive.")
    if packed and total / packed > MAX_RATIO and total > 100 * 1024**2:
        raise DataError(f"{name} unpacks {total / packed:.0f} times larger than it is: that is a ZIP bomb, "
                        "not a data set.", "Upload the original files in a normal ZIP.")


def _copy_limited(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one member, stopping if it turns out larger than it declared (a lying header)."""
    written = 0
    with bundle.open(info) as source, open(target, "wb") as sink:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:
                sink.close()
                target.unlink(missing_ok=True)
                raise DataError(f"{name} is corrupt: '{info.filename}' is larger than its header says.",
                                "Create the archive again.")
            sink.write(chunk)


def is_zip(path: str | Path) -> bool:
    """Whether the file is a ZIP, judged by its content rather than its name."""
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False

