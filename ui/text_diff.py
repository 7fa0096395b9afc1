"""Word-level differences between an original and an augmented text, as Streamlit markdown."""

from __future__ import annotations

import difflib
import re

SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$<>])")


def _escape(word: str) -> str:
    return SPECIAL.sub(r"\\\1", word)


def diff_markdown(original: str, changed: str) -> str:
    """`changed` with inserted or replaced words in green bold and removed words struck through in red."""
    a, b = original.split(), changed.split()
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts += [_escape(w) for w in b[j1:j2]]
            continue
        parts += [f":red[~~{_escape(w)}~~]" for w in a[i1:i2]]
        parts += [f":green[**{_escape(w)}**]" for w in b[j1:j2]]
    return " ".join(parts)
