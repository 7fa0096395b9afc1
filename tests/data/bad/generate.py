"""Regenerate the bad-input corpus and its manifest: `python tests/data/bad/generate.py`.

Each entry of expected.json names a file, the stage that reads it and either the message fragment it
must produce (`error`) or what must come out when it is odd but readable (`ok`). The very large
cases (a 200 MB table, a ZIP bomb, a 40,000×40,000 PNG header, 100 KB cells, 10,000 labels) are
built inside the tests instead of being committed.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROWS = "".join(f"review {i} was {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}\n" for i in range(40))
GOOD = "text,label\n" + ROWS
CLS = {"task": "text-classification", "text_column": "text", "label_column": "label"}
REG = {"task": "text-regression", "text_column": "text", "label_column": "score"}
NER = {"task": "token-classification", "text_column": "tokens", "label_column": "ner_tags"}
MANIFEST: dict[str, dict] = {}


def add(name: str, content: bytes | str, stage: str, error: str | None = None, ok: dict | None = None,
        **recipe) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (HERE / name).write_bytes(data)
    entry = {"stage": stage, **({"recipe": recipe} if recipe else {})}
    entry.update({"error": error} if error else {"ok": ok or {}})
    MANIFEST[name] = entry


def zip_bytes(members: list[tuple[str, bytes, int | None]]) -> bytes:
    """A ZIP whose members may carry a unix mode (for symlinks)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            bundle.writestr(info, data)
    return buffer.getvalue()


def png_bytes(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 64, height: int = 64) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def tables() -> None:
    """Text tables read by core.tables.load_table (stage "table") or all the way to the split ("prepare")."""
    add("empty.csv", b"", "table", "is empty")
    add("whitespace_only.csv", "   \n\n \t\n", "table", "is empty")
    add("header_only.csv", "text,label\n", "table", "no data rows")
    add("header_without_newline.csv", "text,label", "table", "no data rows")
    add("one_row.csv", "text,label\nonly one example here,pos\n", "prepare", "only 1 example row", **CLS)
    add("binary_garbage.csv", bytes(range(256)) * 40, "table", "binary file")
    add("exe_renamed.csv", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500, "table", "binary file")
    add("utf16_le_bom.csv", b"\xff\xfe" + GOOD.encode("utf-16-le"), "prepare", ok={"rows": 40}, **CLS)
    add("utf16_be_bom.csv", b"\xfe\xff" + GOOD.encode("utf-16-be"), "prepare", ok={"rows": 40}, **CLS)
    add("cp1252.csv", ("text,label\n" + ROWS.replace("review", "café résumé – naïve")).encode("cp1252"), "prepare",
        ok={"rows": 40, "contains": "café"}, **CLS)
    add("utf8_bom.csv", b"\xef\xbb\xbf" + GOOD.encode(), "prepare", ok={"rows": 40}, **CLS)
    mixed = "".join(line + ("\r\n" if i % 3 == 0 else "\r" if i % 3 == 1 else "\n")
                    for i, line in enumerate(GOOD.splitlines()))
    add("mixed_line_endings.csv", mixed, "prepare", ok={"rows": 40}, **CLS)
    add("ragged_rows.csv", GOOD + "one,two,three,four\n" + ROWS, "table", "wrong number of columns")
    add("unclosed_quote.csv", GOOD + '"this quote never closes,pos\n' + ROWS, "table", "quote")
    add("semicolon_excel_export.csv", GOOD.replace(",", ";"), "prepare", ok={"rows": 40}, **CLS)
    add("same_label_everywhere.csv", "text,label\n" + "".join(f"sample {i},pos\n" for i in range(40)), "prepare",
        "only one", **CLS)
    add("no_text_column.csv", "id,label\n" + "".join(f"{i},pos\n" for i in range(40)), "prepare",
        "no column 'text'", **CLS)
    add("empty_text_column.csv", "text,label\n" + "".join(f",{'pos' if i % 2 else 'neg'}\n" for i in range(40)),
        "prepare", "is empty", **CLS)
    add("html_error_page.csv", "<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n", "prepare",
        "no column 'text'", **CLS)
    add("formula_injection.csv", "text,label\n" + "".join(
        f"{p}cmd|' /C calc'!A0 {i},{'pos' if i % 2 else 'neg'}\n" for i, p in enumerate("=+-@" * 10)), "prepare",
        ok={"rows": 40}, **CLS)
    add("unknown_type.docx", b"PK\x03\x04not really a document", "table", "unsupported type")
    add("pdf_renamed.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n\x00\x00", "table", "binary file")
    add("nan_inf_target.csv", "text,score\n" + "".join(
        f"row {i},{['nan', 'inf', '-inf', str(i / 4)][i % 4]}\n" for i in range(60)), "prepare",
        ok={"rows": 15, "warning": "no usable number"}, **REG)
    add("text_in_regression_target.csv", "text,score\n" + "".join(f"row {i},high\n" for i in range(40)), "prepare",
        "non-numbers", **REG)


def json_files() -> None:
    add("not_records.json", "[1, 2, 3]", "table", "not a list of records")
    add("scalar.json", '"just a string"', "table", "not a list of records")
    add("dict_of_scalars.json", '{"text": "hello", "label": "pos"}', "table", "not a list of records")
    add("invalid.json", '[{"text": "a", "label": "pos"},', "table", "not valid JSON")
    add("deeply_nested.json", "[" * 5_000 + "]" * 5_000, "table", "nested too deeply")
    lines = [json.dumps({"text": f"row {i}", "label": "pos" if i % 2 else "neg"}) for i in range(20)]
    add("broken_line.jsonl", "\n".join(lines[:5] + ['{"text": "broken", "label": '] + lines[5:]), "table",
        "line 6 is not valid JSON")
    add("jsonl_of_numbers.jsonl", "1\n2\n3\n", "table", "not a list of records")
    add("ner_token_tag_mismatch.jsonl", "\n".join(json.dumps({"tokens": ["a", "b", "c"], "ner_tags": ["O", "O"]})
                                                  for _ in range(20)), "prepare", "3 tokens but 2 tags", **NER)
    add("ner_missing_tags.conll", "London\nis B-LOC\n\nParis O\n", "prepare", "tag", **NER)
    add("ner_wrong_suffix.csv", GOOD, "prepare", "not a CoNLL or JSON file", **NER)


def binary_tables() -> None:
    add("text_renamed.parquet", GOOD, "table", "not a readable Parquet file")
    add("text_renamed.xlsx", GOOD, "table", "not a readable Excel file")
    buffer = io.BytesIO()
    pd.DataFrame({"text": [{"title": f"t{i}", "body": [f"w{i}", "x"]} for i in range(40)],
                  "label": ["pos", "neg"] * 20}).to_parquet(buffer)
    add("nested_types.parquet", buffer.getvalue(), "prepare", "nested records or lists", **CLS)


def uploads() -> None:
    """Files refused when uploaded, by their content whatever their name (stage "upload")."""
    add("program_named.csv", b"MZ\x90\x00" + b"\x00" * 200, "upload", "a Windows program")
    add("linux_program_named.tsv", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "upload", "a Linux program")
    add("png_named.csv", png_bytes(16, 16), "upload", "PNG image, not a table")
    add("zip_named.json", zip_bytes([("a.csv", GOOD.encode(), None)]), "upload", "ZIP file, not a table")


def archives() -> None:
    """ZIPs unpacked with core.archives.safe_extract (stage "zip": fragment of the error or of a warning)."""
    add("zip_slip.zip", zip_bytes([("../../evil.txt", b"owned", None), ("ok.txt", b"fine", None)]), "zip",
        ok={"warning": "points outside", "files": ["ok.txt"]})
    add("absolute_path.zip", zip_bytes([("/tmp/evil.txt", b"owned", None), ("ok.txt", b"fine", None)]), "zip",
        ok={"warning": "points outside", "files": ["ok.txt"]})
    add("symlink.zip", zip_bytes([("link", b"/etc/passwd", stat.S_IFLNK | 0o777), ("ok.txt", b"fine", None)]),
        "zip", ok={"warning": "links are not allowed", "files": ["ok.txt"]})
    add("not_a_zip.zip", GOOD, "zip", "not a readable ZIP")
    add("images_with_junk.zip", zip_bytes([("cats/a.jpg", jpeg_bytes(), None), ("cats/b.png", png_bytes(32, 32), None),
                                           ("cats/notes.txt", b"not a picture", None),
                                           ("cats/setup.jpg", b"MZ\x90\x00" + b"\x00" * 64, None)]), "image_zip",
        ok={"good": 2, "warning": "not an image"})


def images() -> None:
    """Single images checked by core.uploads.check_image (stage "image")."""
    add("truncated.jpg", jpeg_bytes(256, 256)[:400], "image", "corrupt JPEG")
    add("one_pixel.png", png_bytes(1, 1), "image", "only 1×1 pixels")
    add("program.jpg", b"MZ\x90\x00\x03" + b"\x00" * 300, "image", "a Windows program")
    add("text.png", "just some text, not a picture\n", "image", "not an image")
    add("empty.jpg", b"", "image", "not an image")
    add("flipped_bytes.png", b"\x89PNG\r\n\x1a\n" + bytes(range(200)), "image", "corrupt PNG")


def model_folders() -> None:
    """Model folders checked by core.catalogue.resolve_model (stage "model"); `name` is a folder."""
    config = json.dumps({"model_type": "bert", "hidden_size": 32})
    for folder, files, error in (
            ("model_pickle_only", {"config.json": config, "pytorch_model.bin": b"\x80\x04K\x01."}, "only pickle"),
            ("model_pkl_only", {"config.json": config, "model.pkl": b"\x80\x04K\x01."}, "only pickle"),
            ("model_no_config", {"model.safetensors": b"{}"}, "no config.json"),
            ("model_no_weights", {"config.json": config}, "no model weights")):
        (HERE / folder).mkdir(exist_ok=True)
        for name, content in files.items():
            (HERE / folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
        MANIFEST[folder] = {"stage": "model", "error": error}


if __name__ == "__main__":
    for build in (tables, json_files, binary_tables, uploads, archives, images, model_folders):
        build()
    (HERE / "expected.json").write_text(json.dumps(MANIFEST, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(MANIFEST)} cases written to {HERE}")
