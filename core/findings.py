"""One shape for everything the data checks find, shared by the quality report of every task."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    """One problem (or notable fact) about the user's data.

    Attributes:
        check: Stable id of the check, e.g. "exact_duplicates" (used by tests, the CLI's JSON and fixes).
        severity: "error" (training would fail or mislead), "warning" (likely hurts), or "info".
        message: What was found, in one plain sentence with the numbers.
        fix: What the user can do about it, in one plain sentence.
        count: How many rows, files or labels are affected.
        examples: A few affected rows or values to show (row indices, file names, texts).
        action: Id of the one-click fix that repairs it, when there is one.
    """

    check: str
    severity: str
    message: str
    fix: str = ""
    count: int = 0
    examples: list[Any] = field(default_factory=list)
    action: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)
