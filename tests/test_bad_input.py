"""The bad-input corpus (tests/data/bad/expected.json) through every door: loaders, upload, CLI and Data page."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest

from core.archives import safe_extract
from core.catalogue import resolve_model
from core.cli import EXIT_USER_ERROR, main
from core.config import TrainConfig
from core.errors import DataError, FineTuneError, ModelError
from core.preparation import prepare_data
from core.tables import load_table
from core.uploads import check_image
from core.workspace import store_upload, workspace_home
from tests.test_pages import open_page

BAD = Path(__file__).resolve().parent / "data" / "bad"
CASES = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
TABLE_CASES = {n: c for n, c in CASES.items() if c["stage"] in {"table", "prepare"}}


def cases(*stages: str) -> list[str]:
    return [name for name, case in CASES.items() if case["stage"] in stages]


def recipe(name: str, case: dict) -> TrainConfig:
    return TrainConfig(train=str(BAD / name), **case.get("recipe", {}))


def test_the_corpus_is_big_and_every_file_is_there():
    assert len(CASES) >= 40
    assert all((BAD / name).exists() for name in CASES)


@pytest.mark.parametrize("name", cases("table"))
def test_table_loader(name):
    case = CASES[name]
    if "error" in case:
        with pytest.raises(DataError, match=case["error"]):
            load_table(BAD / name)
    else:
        assert len(load_table(BAD / name)) > 0


@pytest.mark.parametrize("name", cases("prepare"))
def test_preparation(name):
    case = CASES[name]
    if "error" in case:
        with pytest.raises(DataError, match=case["error"]):
            prepare_data(recipe(name, case))
        return
    prepared = prepare_data(recipe(name, case))
    assert sum(prepared.report["rows"].values()) == case["ok"]["rows"]
    assert list(prepared.frames["train"].columns[:2]) == ["text", "label"]  # a BOM does not stick to 'text'
    if "contains" in case["ok"]:
        assert prepared.frames["train"]["text"].str.contains(case["ok"]["contains"]).any()
    if "warning" in case["ok"]:
        assert any(case["ok"]["warning"] in w for w in prepared.warnings)


@pytest.mark.parametrize("name", [n for n, c in TABLE_CASES.items() if "error" in c])
def test_cli_prints_the_message_and_exits_2(name, tmp_path, capsys):
    case = CASES[name]
    request = tmp_path / "recipe.json"
    recipe(name, case).save(request)
    code = main(["train", "--config", str(request), "--output", str(tmp_path / "run")])
    assert code == EXIT_USER_ERROR
    assert case["error"] in capsys.readouterr().err
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and case["error"] in status["message"]


@pytest.mark.parametrize("name", cases("upload"))
def test_upload_refused_by_content_whatever_the_name(name, home):
    with pytest.raises(DataError, match=CASES[name]["error"]):
        store_upload("p", name, (BAD / name).read_bytes())
    assert not list((home / "projects" / "p" / "uploads").glob("*")), "nothing refused is kept"


@pytest.mark.parametrize("name", cases("zip"))
def test_zip_unpacks_only_inside_the_destination(name, tmp_path):
    case, target = CASES[name], tmp_path / "out"
    if "error" in case:
        with pytest.raises(DataError, match=case["error"]):
            safe_extract(BAD / name, target)
        return
    warnings = safe_extract(BAD / name, target)
    assert any(case["ok"]["warning"] in w for w in warnings)
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == case["ok"]["files"]
    assert not (tmp_path / "evil.txt").exists() and not any(p.is_symlink() for p in target.rglob("*"))


@pytest.mark.parametrize("name", cases("image"))
def test_image_validator(name):
    with pytest.raises(DataError, match=CASES[name]["error"]):
        check_image(BAD / name)


def test_zip_of_images_keeps_the_pictures_and_names_the_rest(home):
    """The image loader's own path: non-image names are listed as skipped, a renamed .exe is refused by content."""
    from core.image_data import drop_unreadable, load_image_split

    case = CASES["images_with_junk.zip"]
    frame, skipped = load_image_split(str(BAD / "images_with_junk.zip"), TrainConfig(task="image-classification",
                                                                                      train="x"))
    frame, bad = drop_unreadable(frame)
    assert sorted(Path(p).name for p in frame["image"]) == ["a.jpg", "b.png"] and len(frame) == case["ok"]["good"]
    assert [Path(s).name for s in skipped] == ["notes.txt"]
    assert len(bad) == 1 and "setup.jpg" in bad[0] and case["ok"]["warning"] in bad[0]


@pytest.mark.parametrize("name", cases("model"))
def test_model_folder_refused(name):
    with pytest.raises(ModelError, match=CASES[name]["error"]):
        resolve_model(str(BAD / name))


@pytest.mark.parametrize("name", [n for n, c in TABLE_CASES.items() if "error" in c])
def test_data_page_shows_the_message_without_crashing(name, home):
    from tests.test_pages import ready_wizard

    case = CASES[name]
    wizard = ready_wizard(BAD / name, task=case.get("recipe", {}).get("task", "text-classification"))
    wizard["config"].update({k: v for k, v in case.get("recipe", {}).items() if k != "task"})
    at = open_page("data", wizard)  # asserts no exception reached the page
    shown = " ".join(e.value for e in at.error)
    # A file that cannot be read shows the loader's message; for a readable file the page re-guesses the
    # columns the recipe named, so its message may name a different problem, but it is a plain Data error.
    assert (case["error"] if case["stage"] == "table" else "**Data error:**") in shown, shown


# Generated cases: too large to commit.

def png_header(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width×height, with one tiny IDAT: a decompression-bomb header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_decompression_bomb_png_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header(40_000, 40_000))
    with pytest.raises(DataError, match="decompression bomb"):
        check_image(path)
    path.write_bytes(png_header(8_000, 8_000))  # under Pillow's own guard, over ours
    with pytest.raises(DataError, match="8,000×8,000 pixels"):
        check_image(path)


def test_zip_bomb_is_refused_before_unpacking(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("zeros.bin", "w", force_zip64=True) as member:
            block = b"\x00" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros packs to ~300 KB
                member.write(block)
    with pytest.raises(DataError, match="ZIP bomb"):
        safe_extract(bomb, tmp_path / "out")
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_upload_over_the_cap_is_refused_with_the_limit(home):
    content = b"text,label\n" + b"a,b\n" * (201 * 1024 * 1024 // 4)  # a 201 MB table
    with pytest.raises(DataError, match="over the upload limit of 200 MB"):
        store_upload("p", "big.csv", content)


def test_upload_cap_is_configurable(home, monkeypatch):
    monkeypatch.setenv("FINETUNE_MAX_UPLOAD_MB", "0.001")
    with pytest.raises(DataError, match="upload limit of 0 MB"):
        store_upload("p", "small.csv", b"text,label\n" + b"a,b\n" * 1000)


def test_column_of_100_kb_strings_loads_and_prepares(tmp_path):
    path = tmp_path / "long.csv"
    pd.DataFrame({"text": [("word " * 20_001)[:100_000] + str(i) for i in range(40)],
                  "label": ["a", "b"] * 20}).to_csv(path, index=False)
    prepared = prepare_data(TrainConfig(train=str(path)))
    assert prepared.frames["train"]["text"].str.len().min() >= 100_000


def test_ten_thousand_distinct_labels_get_a_message_naming_the_cause(tmp_path):
    path = tmp_path / "ids.csv"
    pd.DataFrame({"text": [f"text {i}" for i in range(10_000)], "label": [f"L{i}" for i in range(10_000)]}) \
        .to_csv(path, index=False)
    with pytest.raises(DataError, match="Dropped 10000 label"):
        prepare_data(TrainConfig(train=str(path)))


def test_nothing_on_disk_is_lost_when_a_bad_upload_arrives(home):
    kept = store_upload("p", "good.csv", (BAD / "utf8_bom.csv").read_bytes())
    before = kept.read_bytes()
    for name in cases("upload"):
        with pytest.raises(FineTuneError):
            store_upload("p", name, (BAD / name).read_bytes())
    assert kept.read_bytes() == before and list(kept.parent.iterdir()) == [kept]
    assert workspace_home() == home


def test_corpus_manifest_matches_the_generator(tmp_path):
    """The committed manifest is what generate.py writes (so a changed expectation is a visible diff)."""
    copy = tmp_path / "bad"
    shutil.copytree(BAD, copy)
    namespace = {"__name__": "__main__", "__file__": str(copy / "generate.py")}
    exec(compile((copy / "generate.py").read_text(), "generate.py", "exec"), namespace)  # noqa: S102
    assert json.loads((copy / "expected.json").read_text()) == CASES
