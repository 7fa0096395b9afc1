"""Hyperparameter search on Optuna: a study in RDB storage shared by any number of worker processes.

Each trial is an ordinary run directory under `SEARCH_DIR/trials/` (so its curves show like any run's),
trained and scored on the validation split only: the test split is for the promoted final model.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from pathlib import Path
from typing import Any

import optuna
from transformers import TrainerCallback

from core.config import TASK_METRICS, TrainConfig, greater_is_better, headline_metric
from core.errors import ConfigError
from core.rundir import RunDir, read_json, write_json_atomic

logger = logging.getLogger(__name__)

METHODS = ("tpe", "random", "grid")
STORAGE_ATTEMPTS = 5
SQLITE_LOCK_WAIT_S = 60
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclasses.dataclass
class SearchConfig:
    """What to search, how, and for how long; saved as search.json in the search directory."""

    method: str = "tpe"
    trials: int = 8
    timeout_s: float | None = None
    metric: str = "auto"
    storage: str | None = None
    study: str | None = None
    space: dict[str, Any] = dataclasses.field(default_factory=dict)


def default_space(cfg: TrainConfig) -> dict[str, Any]:
    """Sensible ranges around the recipe: learning rate on a log scale, epochs, batch, regularisation, LoRA rank."""
    lr = cfg.resolved().learning_rate
    space: dict[str, Any] = {"learning_rate": {"low": lr / 5, "high": lr * 5, "log": True},
                             "epochs": {"choices": [1, 2, 3] if cfg.strategy != "frozen" else [5, 10, 20]},
                             "batch_size": {"choices": [16, 32]},
                             "weight_decay": {"low": 0.0, "high": 0.1},
                             "warmup_ratio": {"low": 0.0, "high": 0.2}}
    if cfg.strategy != "frozen":
        space["dropout"] = {"low": 0.0, "high": 0.3}
    if cfg.strategy == "lora":
        space["lora_r"] = {"choices": [4, 8, 16]}
    return space


def grid_of(space: dict[str, Any]) -> dict[str, list]:
    """A finite grid for GridSampler: choices as given, ranges as their ends (and the geometric middle)."""
    grid = {}
    for name, spec in space.items():
        if "choices" in spec:
            grid[name] = list(spec["choices"])
        elif spec.get("log"):
            grid[name] = [spec["low"], (spec["low"] * spec["high"]) ** 0.5, spec["high"]]
        else:
            grid[name] = [spec["low"], spec["high"]]
    return grid


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    """Draw one set of parameters from the space."""
    params = {}
    for name, spec in space.items():
        if "choices" in spec:
            params[name] = trial.suggest_categorical(name, spec["choices"])
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return params


def grid_size(space: dict[str, Any]) -> int:
    return len(list(itertools.product(*grid_of(space).values())))


class PruningCallback(TrainerCallback):
    """Reports each validation score to Optuna and stops a trial the pruner gives up on, or on a search STOP."""

    def __init__(self, trial: optuna.Trial, metric: str, search: RunDir) -> None:
        self.trial, self.key, self.search = trial, f"eval_{metric}", search
        self.pruned = False

    def on_evaluate(self, args, state, control, metrics=None, **kwargs) -> None:
        if metrics and self.key in metrics:
            self.trial.report(float(metrics[self.key]), step=state.global_step)
            if self.trial.should_prune():
                self.pruned = True
                control.should_training_stop = True
        if self.search.stop_requested():
            control.should_training_stop = True


def storage_url(search: SearchConfig, folder: Path) -> str:
    """The study's storage: the given URL, else a SQLite file in the search folder."""
    return search.storage or f"sqlite:///{folder.resolve() / 'study.db'}"


def open_storage(url: str):
    """Optuna storage for a URL; a SQLite file waits up to a minute for a lock (its default, 5 s, is too short
    for several workers writing trials on a loaded machine: "database is locked" would end a worker)."""
    if url.startswith("sqlite:"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": SQLITE_LOCK_WAIT_S}})
    return url


def open_study(search: SearchConfig, folder: Path) -> optuna.Study:
    """Create or join the study (SQLite file in the search folder unless a storage URL is given)."""
    storage = storage_url(search, folder)
    sampler = {"tpe": optuna.samplers.TPESampler(seed=None, n_startup_trials=3),
               "random": optuna.samplers.RandomSampler(),
               "grid": optuna.samplers.GridSampler(grid_of(search.space))}[search.method]
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    direction = "maximize" if greater_is_better(search.metric) else "minimize"
    # Workers starting together race to create the schema and the study; the loser retries and joins.
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.create_study(storage=open_storage(storage), study_name=search.study or folder.name,
                                       sampler=sampler, pruner=pruner, direction=direction, load_if_exists=True)
        except ImportError as exc:
            error = exc
            break
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy and driver errors have no common base here
            error = exc
            time.sleep(0.5 * (attempt + 1))
    shown = _without_password(storage)
    raise ConfigError(f"The search storage '{shown}' cannot be used: "
                      f"{str(error).replace(storage, shown).splitlines()[0][:200]}",
                      "Check the URL, that the database server runs, and that its driver is installed.")


def _without_password(url: str) -> str:
    """The storage URL with any password masked, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given; it holds no parsable password
        return url


def run_search(cfg: TrainConfig, search: SearchConfig, output: str | Path) -> dict[str, Any]:
    """Run trials until the study has `search.trials` finished trials, the timeout passes, or STOP appears.

    Several processes may call this with the same storage and study: they share the trials.

    Returns:
        The best trial so far: number, parameters and validation score.
    """
    from core.runner import train_run

    if search.method not in METHODS:
        raise ConfigError(f"Unknown search method '{search.method}'.", f"Use {', '.join(METHODS)}.")
    folder = RunDir(output)
    folder.create()
    cfg.validate()
    search.metric = headline_metric(cfg.task) if search.metric == "auto" else search.metric
    if search.metric not in TASK_METRICS[cfg.task]:
        raise ConfigError(f"The metric '{search.metric}' does not apply to {cfg.task}.",
                          f"Use {', '.join(TASK_METRICS[cfg.task])}.")
    search.space = search.space or default_space(cfg)
    write_json_atomic(folder.path / "search.json", {"recipe": cfg.to_dict(), **dataclasses.asdict(search)})
    study = open_study(search, folder.path)
    folder.write_status("running", phase="searching", kind="search", started=time.time(), trials=search.trials)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, search.space)
        pruning = PruningCallback(trial, search.metric, folder)
        trial_cfg = dataclasses.replace(cfg, early_stopping_metric=search.metric, **params)
        metrics = train_run(trial_cfg, folder.path / "trials" / f"trial-{trial.number:03d}", overwrite=True,
                            extra_callbacks=[pruning], validation_only=True)
        if pruning.pruned:
            raise optuna.TrialPruned()
        return metrics[f"validation_{search.metric}"]

    def stop_when_asked(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if folder.stop_requested():
            study.stop()

    study.optimize(objective, n_trials=search.trials, timeout=search.timeout_s, catch=(RuntimeError,),
                   callbacks=[optuna.study.MaxTrialsCallback(search.trials, states=FINISHED), stop_when_asked])
    best = best_trial(study)
    folder.write_status("stopped" if folder.stop_requested() else "completed", phase="done", best=best)
    return best


def best_trial(study: optuna.Study) -> dict[str, Any]:
    """Number, parameters and value of the best completed trial ({} when none completed)."""
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        return {}
    best = study.best_trial
    return {"number": best.number, "params": best.params, "value": best.value}


def load_search(search_dir: str | Path) -> tuple[SearchConfig, dict[str, Any]]:
    """The search settings and the base recipe saved in search.json ({} recipe when there is none)."""
    saved = read_json(Path(search_dir) / "search.json") or {}
    return SearchConfig(**{k: v for k, v in saved.items() if k != "recipe"}), saved.get("recipe", {})


def promoted_config(search_dir: str | Path) -> TrainConfig:
    """The search's base recipe with the best trial's parameters: the recipe of the final model."""
    search, recipe = load_search(search_dir)
    if not recipe:
        raise ConfigError(f"{search_dir} holds no search.", "Run `python -m core search` first.")
    study = open_study(search, Path(search_dir))
    best = best_trial(study)
    if not best:
        raise ConfigError("No trial of this search has completed yet.", "Let the search run longer.")
    return dataclasses.replace(TrainConfig.from_dict(recipe), **best["params"])


def search_report(search_dir: str | Path) -> dict[str, Any]:
    """Trials (number, state, value, duration, parameters), the best trial and parameter importances."""
    folder = Path(search_dir)
    search, recipe = load_search(folder)
    if not recipe:
        return {"trials": [], "best": {}, "importances": {}, "search": {}}
    saved = {"recipe": recipe, **dataclasses.asdict(search)}
    storage = storage_url(search, folder)
    try:  # read-only: never creates a study, and logs nothing on each refresh of the page
        study = optuna.load_study(study_name=search.study or folder.name, storage=open_storage(storage))
    except Exception:  # noqa: BLE001 - not created yet, or storage unreachable: nothing to show yet
        return {"trials": [], "best": {}, "importances": {}, "search": saved}
    trials = [{"trial": t.number, "state": t.state.name.lower(), "value": t.value,
               "duration_s": t.duration.total_seconds() if t.duration else None, **t.params} for t in study.trials]
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    importances = {}
    if len(completed) >= 4:
        try:
            importances = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError):  # e.g. every trial drew the same values
            importances = {}
    return {"trials": trials, "best": best_trial(study), "importances": importances, "search": saved}
