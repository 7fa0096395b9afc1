"""Reading user tables from any common format, with encoding and delimiter detection."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import pandas as pd

from core.errors import DataError

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUFFIXES = TEXT_SUFFIXES | JSON_SUFFIXES | {".parquet", ".pq", ".xlsx", ".xls"}
# Tried in order: BOM-aware UTF-8 first, then the Windows code page that most "ANSI" exports use.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = ",\t;|"


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a table file into a DataFrame of strings and numbers.

    Args:
        path: A CSV, TSV, TXT, JSON, JSONL, Parquet or Excel file.

    Returns:
        The table, one row per example, columns named by the header.

    Raises:
        DataError: The file is missing, empty, binary, malformed or of an unknown type.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The file {path} does not exist.", "Check the path or upload the file again.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path.name} has an unsupported type '{suffix}'.",
                        "Save it as CSV, TSV, JSON, JSONL, Parquet or Excel.")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path.name} is empty.", "Upload a file with a header row and at least a few examples.")
    if suffix in {".parquet", ".pq"}:
        frame = _read_binary(pd.read_parquet, raw, path.name, "Parquet")
    elif suffix in {".xlsx", ".xls"}:
        frame = _read_binary(pd.read_excel, raw, path.name, "Excel")
    else:
        text = decode_bytes(raw, path.name)
        frame = _read_json(text, path.name, suffix) if suffix in JSON_SUFFIXES else _read_delimited(text, path.name)
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{path.name} has a header but no data rows.", "Add examples below the header row.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def decode_bytes(raw: bytes, name: str) -> str:
    """Decode file bytes, detecting UTF-16/UTF-8 BOMs and falling back to cp1252 and latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if b"\x00" in raw[:8192]:
        raise DataError(f"{name} looks like a binary file, not text.",
                        "Export the data as a CSV or JSON text file and upload that.")
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig":
            logger.warning("%s is not UTF-8; read it as %s.", name, encoding)
        return text
    raise DataError(f"{name} has an unknown text encoding.", "Save it as UTF-8.")  # latin-1 never gets here


def sniff_delimiter(text: str) -> str:
    """Guess the column separator from the first lines."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.splitlines()[0].count(d) for d in DELIMITERS} if sample else {}
        return max(counts, key=counts.get) if counts and max(counts.values()) > 0 else ","


def header_is_data(frame: pd.DataFrame) -> bool:
    """True when a column's name is also one of its repeated values: the file has no header row."""
    for column in frame.columns:
        values = frame[column].dropna().astype(str)
        if values.nunique() < len(values) and str(column) in set(values):
            return True
    return False


def _read_delimited(text: str, name: str) -> pd.DataFrame:
    delimiter = sniff_delimiter(text)
    options = {"sep": delimiter, "dtype": str, "keep_default_na": False, "na_values": [""]}
    try:
        frame = pd.read_csv(io.StringIO(text), **options)
        if header_is_data(frame):
            logger.warning("%s seems to have no header row; columns are named column_1, column_2, ...", name)
            frame = pd.read_csv(io.StringIO(text), header=None, **options)
            frame.columns = [f"column_{i + 1}" for i in range(len(frame.columns))]
        return frame
    except pd.errors.ParserError as exc:
        raise DataError(f"{name} has rows with the wrong number of columns ({_short(exc)}).",
                        "Make every row have as many fields as the header, and quote cells with separators.") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} has no columns.", "Add a header row naming the columns.") from None


def _read_json(text: str, name: str, suffix: str) -> pd.DataFrame:
    stripped = text.lstrip()
    if suffix == ".json" and stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name} is not valid JSON (line {exc.lineno}: {exc.msg}).",
                            "Fix the file or export it again.") from None
        except RecursionError:  # thousands of nested brackets: an attack or a broken export, never a table
            raise DataError(f"{name} is nested too deeply to be a table.",
                            'Use [{"text": ..., "label": ...}, ...] or one JSON object per line.') from None
        return _records_to_frame(data, name)
    rows = []
    # split on "\n" only: U+2028 and friends are legal inside JSON strings, and splitlines() breaks on them
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except RecursionError:
            raise DataError(f"{name} line {number} is nested too deeply to be a record.",
                            "Fix or remove that line; each line must be one flat JSON object.") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{name} line {number} is not valid JSON ({exc.msg}).",
                            "Fix or remove that line; each line must be one JSON object.") from None
    return _records_to_frame(rows, name)


def _records_to_frame(data: object, name: str) -> pd.DataFrame:
    if isinstance(data, dict) and len(data) == 1:
        inner = next(iter(data.values()))
        if isinstance(inner, list) and inner and all(isinstance(r, dict) for r in inner):
            data = inner  # {"data": [...]} wrappers
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) == 1:
            return pd.DataFrame(data)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{name} is not a list of records.",
                        'Use [{"text": ..., "label": ...}, ...] or one JSON object per line.')
    return pd.DataFrame.from_records(data)


def _read_binary(reader, raw: bytes, name: str, kind: str) -> pd.DataFrame:
    try:
        return reader(io.BytesIO(raw))
    except ImportError as exc:
        raise DataError(f"Reading {kind} files needs an extra package ({exc}).",
                        "Install the project requirements.") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow/openpyxl raise many unrelated types for bad files
        raise DataError(f"{name} is not a readable {kind} file ({_short(exc)}).",
                        f"Open it in the program that made it and save it again as {kind} or CSV.") from None


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _is_nested(value: object) -> bool:
    return isinstance(value, dict | list | tuple) or (hasattr(value, "ndim") and getattr(value, "ndim", 0) > 0)


def describe_columns(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Per column: its kind (text, number, category, nested), distinct values, missing share and an example."""
    rows = []
    for column in frame.columns:
        series = frame[column]
        nested = series.map(_is_nested)
        if nested.any():  # JSON/Parquet records or lists: unhashable, and never a text or a label column
            series = series.map(lambda v: json.dumps(v, default=str) if _is_nested(v) else v)
        distinct = int(series.nunique(dropna=True))
        numeric = pd.to_numeric(series, errors="coerce").notna().mean() > 0.95
        mean_len = series.dropna().astype(str).str.len().mean() if series.notna().any() else 0.0
        kind = "number" if numeric else ("category" if distinct <= max(50, len(series) // 20) else "text")
        if kind == "category" and mean_len > 40:
            kind = "text"
        kind = "nested" if nested.any() else kind
        example = str(series.dropna().iloc[0])[:80] if series.notna().any() else ""
        rows.append({"column": column, "kind": kind, "distinct": distinct,
                     "missing": float(series.isna().mean()), "mean_length": float(mean_len or 0), "example": example})
    return rows


def guess_columns(frame: pd.DataFrame, columns: list[dict] | None = None) -> tuple[str | None, str | None]:
    """Guess (text column, label column): the longest free text, and a low-cardinality column.

    `columns` is `describe_columns(frame)` when the caller already has it.
    """
    columns = columns if columns is not None else describe_columns(frame)
    texts = sorted((c for c in columns if c["kind"] == "text"), key=lambda c: -c["mean_length"])
    text = texts[0]["column"] if texts else None
    named = [c["column"] for c in columns if c["column"].lower() in {"label", "labels", "label_name", "class",
                                                                       "category", "target", "intent"}]
    others = sorted((c for c in columns if c["column"] != text and c["distinct"] >= 2),
                    key=lambda c: (c["kind"] == "text", c["distinct"]))
    label = named[0] if named else (others[0]["column"] if others else None)
    return text, label
