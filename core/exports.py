"""Writing CSV files users open in spreadsheets, with formula injection neutralised (OWASP CSV injection)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Google Sheets.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# RFC 4180 line ends: with them the csv writer also quotes cells holding a bare CR, which "\n" endings leave
# unquoted (a spreadsheet would then split the row there).
LINE_END = "\r\n"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with `'`; everything else unchanged.

    Numbers (also negative ones written as text, like "-1.5") stay as they are: they are not formulas.
    """
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _is_number(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell and column name neutralised; numeric columns untouched."""
    safe = frame.copy()
    for column in safe.columns:
        if not (pd.api.types.is_numeric_dtype(safe[column]) or pd.api.types.is_bool_dtype(safe[column])):
            safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(str(c)) for c in safe.columns]
    return safe


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` as a UTF-8 CSV without its index, with formula injection neutralised."""
    path = Path(path)
    neutralise_frame(frame).to_csv(path, index=False, lineterminator=LINE_END)
    return path


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The neutralised CSV as bytes, for a download button."""
    return neutralise_frame(frame).to_csv(index=False, lineterminator=LINE_END).encode("utf-8")
