"""Typed engine errors that carry a one-sentence problem and a one-sentence fix for the user."""

from __future__ import annotations


class FineTuneError(Exception):
    """An error caused by the user's input or environment, shown without a traceback.

    Attributes:
        problem: What is wrong, in one plain sentence.
        fix: What the user can do about it, in one plain sentence.
        kind: A short status label for the UI ("Data error", "Model error", ...).
    """

    kind = "Error"

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} {self.fix}".strip()


class DataError(FineTuneError):
    """The data cannot be read or is not fit for the task."""

    kind = "Data error"


class ModelError(FineTuneError):
    """The model cannot be found, downloaded or loaded."""

    kind = "Model error"


class ConfigError(FineTuneError):
    """The recipe holds an invalid or inconsistent setting."""

    kind = "Configuration error"


class ResourceError(FineTuneError):
    """The machine ran out of memory or disk."""

    kind = "Out of resources"
