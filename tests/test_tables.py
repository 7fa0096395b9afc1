"""core.tables: every supported format and encoding reads to the same frame; bad files give a DataError."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.errors import DataError
from core.tables import guess_columns, load_table
from tests.conftest import make_sentiment_frame

ROWS = [{"text": "a fine film", "label": "pos"}, {"text": "a dull film", "label": "neg"},
        {"text": "hello, world", "label": "pos"}]


def assert_rows(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["text", "label"]
    assert frame.to_dict(orient="records") == ROWS


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "content"), [
    ("d.csv", 'text,label\na fine film,pos\na dull film,neg\n"hello, world",pos\n'),
    ("d.tsv", "text\tlabel\na fine film\tpos\na dull film\tneg\nhello, world\tpos\n"),
    ("d.txt", "text\tlabel\na fine film\tpos\na dull film\tneg\nhello, world\tpos\n"),
    ("d.csv", "text;label\na fine film;pos\na dull film;neg\nhello, world;pos\n"),
    ("d.csv", "text|label\na fine film|pos\na dull film|neg\nhello, world|pos\n"),
], ids=["csv", "tsv", "tab-separated txt", "semicolon csv", "pipe csv"])
def test_delimited_text_with_detected_separator(tmp_path, name, content):
    assert_rows(load_table(write(tmp_path, name, content)))


def test_json_list_of_records(tmp_path):
    assert_rows(load_table(write(tmp_path, "d.json", json.dumps(ROWS))))


def test_json_wrapped_in_data_key(tmp_path):
    assert_rows(load_table(write(tmp_path, "d.json", json.dumps({"data": ROWS}))))


def test_json_dict_of_columns(tmp_path):
    columns = {"text": [r["text"] for r in ROWS], "label": [r["label"] for r in ROWS]}
    assert_rows(load_table(write(tmp_path, "d.json", json.dumps(columns))))


def test_jsonl_skips_blank_lines(tmp_path):
    assert_rows(load_table(write(tmp_path, "d.jsonl", "\n".join(json.dumps(r) for r in ROWS) + "\n\n")))


def test_jsonl_with_unicode_line_separator_inside_a_string(tmp_path):
    rows = [{"text": "first part\u2028second part", "label": "pos"}, {"text": "next\x85row", "label": "neg"}]
    content = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    assert load_table(write(tmp_path, "d.jsonl", content)).to_dict(orient="records") == rows


def test_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame(ROWS).to_parquet(path)
    assert_rows(load_table(path))


def test_excel(tmp_path):
    path = tmp_path / "d.xlsx"
    pd.DataFrame(ROWS).to_excel(path, index=False, engine="openpyxl")
    assert_rows(load_table(path))


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path):
    frame = load_table(write(tmp_path, "d.csv", "text,label\ncafé crème,pos\nnaïve plot,neg\n".encode("utf-8-sig")))
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["café crème", "naïve plot"]


def test_cp1252_bytes_decode(tmp_path):
    raw = "text,label\ncafé crème – “great”,pos\nnaïve plot,neg\n".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the file really is not UTF-8
    frame = load_table(write(tmp_path, "d.csv", raw))
    assert frame["text"].tolist() == ["café crème – “great”", "naïve plot"]


def test_utf16_with_bom(tmp_path):
    frame = load_table(write(tmp_path, "d.csv", "text,label\ncafé,pos\nnaïve,neg\n".encode("utf-16")))
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["café", "naïve"]


def test_column_names_are_trimmed(tmp_path):
    frame = load_table(write(tmp_path, "d.csv", " text , label \nhi,pos\nbye,neg\n"))
    assert list(frame.columns) == ["text", "label"]


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("empty.csv", "", "is empty"),
    ("blank.csv", "  \n\n", "is empty"),
    ("header.csv", "text,label\n", "no data rows"),
    ("binary.csv", b"PK\x03\x04\x00\x00\x08\x00garbage\x00\x01\x02", "binary"),
    ("ragged.csv", "text,label\na,pos\nb,neg,extra,more\nc,pos\n", "wrong number of columns"),
    ("scalar.json", "[1, 2, 3]", "not a list of records"),
    ("object.json", '{"text": "a", "label": "b"}', "not a list of records"),
    ("broken.json", '[{"text": "a", "label": "b"},', "not valid JSON"),
    ("data.xlsx", b"this is not a spreadsheet", "not a readable Excel file"),
    ("data.parquet", b"this is not parquet", "not a readable Parquet file"),
    ("data.docx", "text,label\na,b\n", "unsupported type '.docx'"),
])
def test_bad_files_raise_data_error(tmp_path, name, content, fragment):
    with pytest.raises(DataError) as caught:
        load_table(write(tmp_path, name, content))
    assert fragment in str(caught.value)
    assert caught.value.fix  # every data error tells the user what to do


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_table(tmp_path / "nope.csv")


def test_jsonl_error_names_the_broken_line(tmp_path):
    lines = [json.dumps(ROWS[0]), '{"text": "cut off", "lab', json.dumps(ROWS[1])]
    with pytest.raises(DataError) as caught:
        load_table(write(tmp_path, "d.jsonl", "\n".join(lines) + "\n"))
    assert "line 2" in str(caught.value)


def test_guess_columns_by_name():
    assert guess_columns(make_sentiment_frame()) == ("text", "label")


def test_guess_columns_by_content():
    frame = make_sentiment_frame().rename(columns={"text": "comment", "label": "sentiment"})
    frame.insert(0, "id", range(len(frame)))
    frame["shop"] = "main street"  # one value only: not a label
    assert guess_columns(frame) == ("comment", "sentiment")


def test_csv_without_header_row_gets_generic_column_names(tmp_path):
    path = tmp_path / "nohead.csv"
    path.write_text("great movie,positive\nbad film,negative\nloved it,positive\nawful,negative\n", encoding="utf-8")
    frame = load_table(path)
    assert list(frame.columns) == ["column_1", "column_2"]
    assert len(frame) == 4
    assert frame.loc[0, "column_1"] == "great movie"


def test_header_row_is_kept_when_names_are_not_values(tmp_path):
    path = tmp_path / "head.csv"
    path.write_text("text,label\ngreat movie,positive\nbad film,negative\nfine,positive\n", encoding="utf-8")
    assert list(load_table(path).columns) == ["text", "label"]
