"""The command line: `python -m core train|search|inspect|status|stop|queue|models|…`, from the recipe schema."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from core.config import METRICS, TASKS, TrainConfig, describe_options
from core.distributed import is_main_process
from core.errors import FineTuneError
from core.standby import IDLE_TIMEOUT_S

logger = logging.getLogger("core")

EXIT_USER_ERROR = 2
EXIT_CRASH = 1
WAIT_HELP = ("When another run or search holds the device, wait in the workspace's queue (FIFO) instead of "
             "refusing; `python -m core queue` lists it, `python -m core stop` on the output cancels the wait.")
DEVICE_COMMANDS = {"train", "search", "promote"}


def _parser_type(annotation: str):
    base = annotation.replace(" | None", "")
    return {"int": int, "float": float, "str": str}.get(base, str)


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, grouped as in the schema; defaults are left out so overrides are explicit."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for option in describe_options():
        group = groups.setdefault(option["group"], parser.add_argument_group(f"{option['group']} options"))
        flag = "--" + option["name"].replace("_", "-")
        help_text = f"{option['help']} (default: {option['default']})".replace("%", "%%")  # argparse formats help
        kwargs: dict = {"dest": option["name"], "default": argparse.SUPPRESS, "help": help_text}
        if option["type"] == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option["type"].startswith("list"):
            kwargs["nargs"] = "*"
        else:
            kwargs["type"] = _parser_type(option["type"])
            if "choices" in option:
                kwargs["choices"] = option["choices"]
            else:
                kwargs["metavar"] = option["type"].split(" ")[0].upper()
        group.add_argument(flag, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The full CLI parser."""
    parser = argparse.ArgumentParser(prog="python -m core", description="FineTune Studio engine.")
    parser.add_argument("--verbose", action="store_true", help="Log library details too.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="Fine-tune a model from a data file or a recipe.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--config", help="A recipe JSON (e.g. a run's recipe.json); flags given override it.")
    train.add_argument("--output", required=True, help="Run directory to create (metrics, model, report).")
    train.add_argument("--resume", action="store_true", help="Continue the run in --output from its last checkpoint.")
    train.add_argument("--overwrite", action="store_true", help="Reuse a non-empty --output that is not active.")
    train.add_argument("--wait-for-device", action="store_true", help=WAIT_HELP)
    add_recipe_options(train)
    add_search_parser(commands)
    promote = commands.add_parser("promote", help="Train, test and export the best trial of a search.")
    promote.add_argument("search_dir", help="The search directory.")
    promote.add_argument("--output", required=True, help="Run directory for the final model.")
    promote.add_argument("--wait-for-device", action="store_true", help=WAIT_HELP)
    promote.set_defaults(resume=False, overwrite=False)
    for name, text in (("status", "Print a run's status."),
                       ("stop", "Ask a running run to stop gracefully (or a waiting one to leave the queue).")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("run_dir", help="The run directory.")
    commands.add_parser("queue", help="List the job holding the device and the jobs waiting for it, in order.")
    add_export_parsers(commands)
    add_inspect_parser(commands)
    models = commands.add_parser("models", help="List the model catalogue.")
    models.add_argument("--task", default="text-classification", choices=TASKS)
    standby = commands.add_parser("standby", help="Import the engine and wait to become the app's next run "
                                                  "(started by the app; see core/standby.py).")
    standby.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S, help="Seconds to wait before leaving.")
    return parser


def add_search_parser(commands) -> None:
    """`search`: the train options plus the search budget, method, metric and shared storage."""
    search = commands.add_parser("search", help="Search hyperparameters with Optuna (workers may share a study).",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    search.add_argument("--config", help="A recipe JSON; flags given override it.")
    search.add_argument("--output", required=True, help="Search directory (trials, study database, status).")
    search.add_argument("--trials", type=int, default=8, help="Finished trials the study should reach.")
    search.add_argument("--timeout", type=float, default=None, help="Stop starting trials after this many seconds.")
    search.add_argument("--method", choices=["tpe", "random", "grid"], default="tpe", help="Sampler.")
    search.add_argument("--metric", choices=METRICS, default="auto",
                        help="Validation metric to optimise (never the test split); auto: the task's headline one.")
    search.add_argument("--storage", default=None,
                        help="Optuna storage URL (default: SQLite file in --output); e.g. postgresql://...")
    search.add_argument("--study", default=None, help="Study name (default: the --output folder name).")
    search.add_argument("--space", default=None, help="JSON file with the search space (default: per strategy).")
    search.add_argument("--wait-for-device", action="store_true", help=WAIT_HELP)
    search.set_defaults(resume=False)
    add_recipe_options(search)


def add_inspect_parser(commands) -> None:
    """`inspect`: the data quality report of the Data step, without the browser."""
    inspect = commands.add_parser("inspect", help="Print the data quality report for a task and its files.")
    inspect.add_argument("--config", help="A recipe JSON; flags given override it.")
    inspect.add_argument("--json", action="store_true", help="Print the report as JSON (for scripts).")
    inspect.add_argument("--no-label-errors", dest="label_errors", action="store_false",
                         help="Skip the (few-second) search for likely label errors.")
    inspect.set_defaults(resume=False)
    add_recipe_options(inspect)


def run_inspect_command(args: argparse.Namespace) -> int:
    """Print the quality report; the exit code is 0 even when it finds problems (they are the output)."""
    from core.quality import build_report, format_report

    report = build_report(config_from_args(args), label_errors=args.label_errors)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else format_report(report))
    return 0


def add_export_parsers(commands) -> None:
    """`export-onnx` (ONNX + parity check) and `push` (Hugging Face Hub) for a finished run."""
    onnx = commands.add_parser("export-onnx", help="Export a run's model to ONNX and check it against PyTorch.")
    onnx.add_argument("run_dir", help="A completed run directory.")
    onnx.add_argument("--quantize", action="store_true", help="Also write and measure a dynamic int8 variant.")
    push = commands.add_parser("push", help="Upload a run's model and card to the Hugging Face Hub.")
    push.add_argument("run_dir", help="A completed run directory.")
    push.add_argument("--repo-id", required=True, help="Target repository, as user/model-name.")
    push.add_argument("--token-env", default="HF_TOKEN", help="Environment variable holding a Hub write token.")
    push.add_argument("--public", action="store_true", help="Create the repository as public (default: private).")


def run_export_command(args: argparse.Namespace) -> int:
    """`export-onnx` and `push`: print the figures (or URLs) as JSON."""
    if args.command == "export-onnx":
        from core.onnx_export import export_onnx

        print(json.dumps(export_onnx(args.run_dir, quantized=args.quantize), indent=2))
        return 0
    from core.errors import ConfigError
    from core.hub import hub_status, push_model, resolve_token

    status = hub_status()
    if not status.online:
        raise ConfigError(status.reason, "Push from a machine that is online, with HF_HUB_OFFLINE unset.")
    token = resolve_token(env_var=args.token_env)
    print(json.dumps(push_model(args.run_dir, args.repo_id, token, private=not args.public), indent=2))
    return 0


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The recipe: a --config file (or the run's own recipe on --resume) with the given flags on top."""
    from core.rundir import RunDir

    if args.config:
        base = TrainConfig.load(args.config)
    elif args.resume and RunDir(args.output).recipe.exists():
        base = TrainConfig.load(RunDir(args.output).recipe)
    else:
        base = TrainConfig()
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in names}
    return dataclasses.replace(base, **overrides)


def run_command(args: argparse.Namespace) -> int:
    """Dispatch one parsed command; returns the exit code."""
    if args.command == "train":
        from core.runner import train_run

        metrics = train_run(config_from_args(args), args.output, resume=args.resume, overwrite=args.overwrite)
        if is_main_process():  # under torchrun/accelerate the other processes return no report
            print(json.dumps(metrics, indent=2))
        return 0
    if args.command == "search":
        from core.search import SearchConfig, run_search

        space = json.loads(Path(args.space).read_text(encoding="utf-8")) if args.space else {}
        search = SearchConfig(method=args.method, trials=args.trials, timeout_s=args.timeout, metric=args.metric,
                              storage=args.storage, study=args.study, space=space)
        print(json.dumps(run_search(config_from_args(args), search, args.output), indent=2))
        return 0
    if args.command == "inspect":
        return run_inspect_command(args)
    if args.command in {"export-onnx", "push"}:
        return run_export_command(args)
    if args.command == "promote":
        from core.runner import train_run
        from core.search import promoted_config

        print(json.dumps(train_run(promoted_config(args.search_dir), args.output), indent=2))
        return 0
    from core.rundir import RunDir

    if args.command == "status":
        print(json.dumps(RunDir(args.run_dir).read_status(), indent=2, default=str))
    elif args.command == "stop":
        RunDir(args.run_dir).request_stop()
        print(f"Stop requested for {args.run_dir}.")
    elif args.command == "queue":
        print_queue()
    elif args.command == "models":
        from core.catalogue import models_for_task

        for entry in models_for_task(args.task):
            offline = "offline" if entry.available_offline else "needs internet"
            print(f"{entry.id:28} {entry.parameters / 1e6:6.1f}M  {entry.licence:12} {offline:15} {entry.description}")
    return 0


def print_queue() -> None:
    """`queue`: one line per job, the active one first, then the waiting ones in the order they will run."""
    from core.device_queue import list_queue, ordinal

    jobs = list_queue()
    if not jobs:
        print("The device is free and no job is waiting.")
    for job in jobs:
        place = "active" if job.position == 0 else ordinal(job.position)
        print(f"{place:8} {job.state:9} {job.kind:7} {job.run.path}")


def take_device(args: argparse.Namespace) -> bool:
    """Before any heavy import: wait for the device (`--wait-for-device`), or refuse when it is busy.

    A job the launcher started already holds the device ('queued'). Returns False when a wait was cancelled.

    Raises:
        ResourceError: The device is busy and the command was not asked to wait.
        ConfigError: --output holds a run this command must not clobber.
    """
    from core.device_queue import launch_lock, refuse_if_busy, wait_for_device
    from core.errors import ResourceError
    from core.rundir import RunDir, check_output

    run = RunDir(args.output)
    if args.command != "search":
        check_output(run, args.resume, args.overwrite)  # before the queue writes its status into the folder
    if args.wait_for_device:
        return wait_for_device(run)
    if run.read_status().get("state") == "queued":
        return True
    with launch_lock():
        try:
            refuse_if_busy(run)
        except ResourceError as exc:
            raise ResourceError(exc.problem, f"{exc.fix} Or add --wait-for-device to wait in the queue.") from None
    return True


def configure_logging(verbose: bool) -> None:
    level = logging.INFO if is_main_process() else logging.WARNING  # one process narrates a distributed run
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)


def quiet_libraries(verbose: bool) -> None:
    """Silence the Hugging Face libraries' progress bars and chatter (imports them, so after any wait)."""
    if not verbose:
        from datasets.utils.logging import disable_progress_bar as disable_datasets_bars
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        disable_progress_bars()
        disable_datasets_bars()
        for noisy in ("httpx", "urllib3", "huggingface_hub"):
            logging.getLogger(noisy).setLevel(logging.ERROR)  # retries of an offline Hub; our message says it


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn user errors into one clear line and exit code 2."""
    args = build_parser().parse_args(argv)
    if args.command == "standby":  # imports the engine, then runs main() again with the job it is given
        from core.standby import serve

        return serve(args.idle_timeout)
    configure_logging(args.verbose)
    try:
        if args.command in DEVICE_COMMANDS and is_main_process() and not take_device(args):
            print("Cancelled while waiting for the device; nothing was trained.", file=sys.stderr)
            return 0
        quiet_libraries(args.verbose)
        return run_command(args)
    except FineTuneError as exc:
        print(f"{exc.kind}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
