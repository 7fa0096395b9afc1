"""Where artefacts live: one workspace directory (FINETUNE_HOME) holding projects, uploads and runs."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path, PurePosixPath

from core.config import headline_metric
from core.errors import ConfigError
from core.rundir import ACTIVE_STATES, LIVE_STATES, RunDir, read_json, write_json_atomic
from core.uploads import check_upload

DEFAULT_HOME = Path.home() / ".finetune-studio"
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


def workspace_home() -> Path:
    """The workspace root: $FINETUNE_HOME, else ~/.finetune-studio."""
    home = Path(os.environ.get("FINETUNE_HOME", DEFAULT_HOME)).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def safe_name(name: str, fallback: str = "project") -> str:
    """A name usable as a folder: letters, digits, dot, dash and underscore only."""
    cleaned = SAFE_NAME.sub("-", name.strip()).strip(".-")[:60]
    return cleaned or fallback


def runs_dir(kind: str = "runs") -> Path:
    """The folder of training runs ("runs") or of searches ("searches")."""
    path = workspace_home() / kind
    path.mkdir(exist_ok=True)
    return path


def new_run_dir(project: str, kind: str = "runs") -> RunDir:
    """A fresh, unique run (or search) directory named by project and time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = runs_dir(kind) / f"{safe_name(project)}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return RunDir(path)


def run_by_name(name: str, kind: str = "runs") -> RunDir:
    """A run (or search) directory of the workspace by its folder name (no path tricks allowed)."""
    if not name or safe_name(name) != name:
        raise ConfigError(f"'{name}' is not a valid run name.", "Pick a run from the list.")
    return RunDir(runs_dir(kind) / name)


def headline(task: str | None, metrics: dict) -> dict:
    """The metric a run is judged by, as {'metric': name, 'score': value}, for tables across tasks."""
    name = headline_metric(task or "text-classification")
    return {"metric": name, "score": metrics.get(name)}


def list_runs() -> list[dict]:
    """Every run in the workspace, newest first, with status and headline metrics."""
    rows = []
    for path in runs_dir().iterdir():
        if not path.is_dir():
            continue
        run = RunDir(path)
        status = run.read_status()
        recipe = read_json(run.recipe) or {}
        metrics = read_json(run.metrics) or {}
        rows.append({"name": path.name, "state": status.get("state", "unknown"),
                     "started": status.get("started") or path.stat().st_mtime, "model": recipe.get("model"),
                     "strategy": recipe.get("strategy"), "task": recipe.get("task"),
                     "accuracy": metrics.get("accuracy"), "f1_macro": metrics.get("f1_macro"),
                     **headline(recipe.get("task"), metrics),
                     "project": recipe.get("project_hint") or path.name.rsplit("-", 2)[0]})
    return sorted(rows, key=lambda r: -float(r["started"] or 0))


JOB_KINDS = {"runs": "run", "searches": "search"}  # workspace folder -> what one job in it is called


def job_statuses() -> list[tuple[str, RunDir, dict]]:
    """Every run and search folder of the workspace as (kind, folder, status), status liveness-checked."""
    return [(kind, RunDir(path), RunDir(path).read_status())
            for folder, kind in JOB_KINDS.items() for path in sorted(runs_dir(folder).iterdir()) if path.is_dir()]


def active_jobs(exclude: Path | None = None) -> list[str]:
    """Runs and searches of the workspace whose process is alive now (other than `exclude`), as 'run NAME'."""
    exclude = exclude.resolve() if exclude else None
    return [f"{kind} {run.name}" for kind, run, status in job_statuses()
            if status.get("state") in ACTIVE_STATES and run.path.resolve() != exclude]


def list_trials() -> dict[str, RunDir]:
    """Every search trial's run directory, by display name 'SEARCH / trial-NNN'."""
    trials = {}
    for search in sorted(runs_dir("searches").iterdir()):
        if (search / "trials").is_dir():
            for trial in sorted((search / "trials").iterdir()):
                trials[f"{search.name} / {trial.name}"] = RunDir(trial)
    return trials


def delete_run(run: RunDir) -> None:
    """Remove a run directory that is neither active nor waiting in the queue."""
    if run.read_status().get("state") in LIVE_STATES:
        raise ConfigError("This run is still active or waiting in the queue.", "Stop it first, then delete it.")
    if run.path.resolve().parent != runs_dir().resolve():
        raise ConfigError("Only runs inside the workspace can be deleted.", "Pick a run from the list.")
    shutil.rmtree(run.path)


def projects_dir() -> Path:
    path = workspace_home() / "projects"
    path.mkdir(exist_ok=True)
    return path


def project_dir(name: str) -> Path:
    path = projects_dir() / safe_name(name)
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_project(name: str) -> dict:
    """The saved wizard state of a project ({} for a new one)."""
    return read_json(project_dir(name) / "wizard.json") or {}


def save_project(name: str, state: dict) -> None:
    """Persist the wizard state atomically and remember this as the last project."""
    write_json_atomic(project_dir(name) / "wizard.json", state)
    write_json_atomic(projects_dir() / "last.json", {"name": safe_name(name)})


def last_project() -> str | None:
    """The project used most recently, if any."""
    last = read_json(projects_dir() / "last.json") or {}
    name = last.get("name")
    return name if name and (projects_dir() / name).is_dir() else None


def list_projects() -> list[str]:
    return sorted(p.name for p in projects_dir().iterdir() if p.is_dir())


def store_upload(project: str, filename: str, content: bytes, kind: str = "table") -> Path:
    """Save an uploaded table under the project's uploads folder with a generated name; returns its path.

    The user's file name supplies only a readable stem and the suffix (which picks the reader): no part
    of it becomes a folder, so `../`, absolute paths and drive letters cannot leave the workspace.

    Raises:
        DataError: Over the size cap, or the content is not a table (`kind="table"`) or a ZIP of images
            (`kind="images"`; see `core.uploads.check_upload`).
    """
    check_upload(filename, len(content), content[:64], kind)
    folder = project_dir(project) / "uploads"
    folder.mkdir(exist_ok=True)
    original = PurePosixPath(filename.replace("\\", "/")).name
    stem, suffix = safe_name(Path(original).stem, fallback="upload"), Path(original).suffix.lower()
    target = folder / f"{uuid.uuid4().hex[:12]}-{stem[:40]}{suffix if SUFFIX.fullmatch(suffix) else ''}"
    if not target.resolve().is_relative_to(workspace_home().resolve()):
        raise ConfigError("The workspace's uploads folder points outside the workspace.",
                          "Remove the link in the workspace and upload again.")
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(content)
    os.replace(tmp, target)
    return target


def recipe_differences(recipes: dict[str, dict]) -> list[dict]:
    """The settings whose values differ between recipes: one row per setting, one column per run."""
    keys = sorted({k for recipe in recipes.values() for k in recipe} - {"recipe_version"})
    rows = []
    for key in keys:
        values = {name: recipe.get(key) for name, recipe in recipes.items()}
        if len({repr(v) for v in values.values()}) > 1:
            rows.append({"setting": key, **{name: "" if v is None else str(v) for name, v in values.items()}})
    return rows
