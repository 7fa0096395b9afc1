"""Safe ZIP extraction: path escapes, links and bombs are refused, honest archives unpack."""

import stat
import zipfile

import pytest

from core.archives import member_path, safe_extract
from core.errors import DataError


def make_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def test_member_path_refuses_escapes():
    assert member_path("ants/a.jpg").as_posix() == "ants/a.jpg"
    for bad in ("../evil.txt", "/etc/passwd", "a/../../b", "C:/x", "..\\x"):
        assert member_path(bad) is None, bad


def test_normal_archive_unpacks(tmp_path):
    archive = make_zip(tmp_path / "d.zip", {"ants/a.txt": b"1", "bees/b.txt": b"2", "__MACOSX/._a": b"x"})
    warnings = safe_extract(archive, tmp_path / "out")
    assert warnings == []
    assert (tmp_path / "out/ants/a.txt").read_bytes() == b"1"
    assert not (tmp_path / "out/__MACOSX").exists()


def test_zip_slip_and_absolute_paths_are_skipped(tmp_path):
    archive = make_zip(tmp_path / "d.zip", {"../escaped.txt": b"x", "/abs.txt": b"y", "ok/f.txt": b"z"})
    warnings = safe_extract(archive, tmp_path / "out")
    assert len(warnings) == 2
    assert not (tmp_path / "escaped.txt").exists()
    assert (tmp_path / "out/ok/f.txt").exists()


def test_symlink_member_is_skipped(tmp_path):
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(info, "/etc/passwd")
    warnings = safe_extract(archive, tmp_path / "out")
    assert "links are not allowed" in warnings[0]
    assert not (tmp_path / "out/link").exists()


def test_zip_bomb_is_refused(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (300 * 1024**2)})
    with pytest.raises(DataError, match="ZIP bomb"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out/zeros.bin").exists()


def test_not_a_zip_gets_a_message(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable ZIP"):
        safe_extract(fake, tmp_path / "out")
