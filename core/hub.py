"""Publishing an exported model (with its card) to the Hugging Face Hub.

The token is taken from the caller (a password field) or an environment variable, passed straight to
`huggingface_hub.HfApi`, and never written anywhere: not to the run directory, the logs or an error message.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError, FineTuneError
from core.rundir import RunDir, read_json, write_json_atomic

logger = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"
PUSH_FILE = "hub.json"
TRUE = {"1", "true", "yes", "on"}


class HubError(FineTuneError):
    """The Hub refused or could not be reached."""

    kind = "Hub error"


@dataclass
class HubStatus:
    """Whether pushing can work here, and why not."""

    online: bool
    reason: str = ""


def hub_status(timeout_s: float = 1.5) -> HubStatus:
    """Offline when HF_HUB_OFFLINE is set (checked first: no network call then) or huggingface.co is unreachable."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE:
        return HubStatus(False, "Offline mode is on (HF_HUB_OFFLINE=1), so nothing can be sent to the Hub.")
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout_s).close()
    except OSError:
        return HubStatus(False, f"{HUB_HOST} cannot be reached from this machine (no network).")
    return HubStatus(True)


def resolve_token(token: str | None = None, env_var: str = "HF_TOKEN") -> str:
    """The token given, else the one in `env_var`; a ConfigError that never echoes a value otherwise."""
    token = token or os.environ.get(env_var, "")
    if not token.strip():
        raise ConfigError(f"No Hugging Face token was given and ${env_var} is empty.",
                          f"Create a write token at https://huggingface.co/settings/tokens and set {env_var}.")
    return token.strip()


def push_model(run_dir: str | Path, repo_id: str, token: str, private: bool = True) -> dict[str, str]:
    """Create (or reuse) a model repository and upload run/model, card included, in one commit.

    Args:
        run_dir: A completed run directory.
        repo_id: "user/name" or "organisation/name".
        token: A Hub write token (used for these two calls only; never stored).
        private: Create the repository as private.

    Returns:
        The repository URL and commit URL (also written to hub.json, without the token).

    Raises:
        ConfigError: The run has no exported model or the repo id is malformed.
        HubError: The Hub refused the request or could not be reached.
    """
    from huggingface_hub import HfApi

    run = RunDir(run_dir)
    if not (run.model / "config.json").exists():
        raise ConfigError(f"{run.path} has no exported model to push.", "Pick a completed run.")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ConfigError(f"'{repo_id}' is not a Hub repository id.", "Write it as user/model-name.")
    api = HfApi(token=token)
    try:
        repo = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(run.model), repo_type="model",
                                   commit_message=f"Upload {run.name} from FineTune Studio")
    except Exception as exc:  # noqa: BLE001 - any client/HTTP failure becomes one line, token scrubbed
        raise HubError(f"The Hub refused the upload: {scrub(str(exc), token)}",
                       "Check the repository id and that the token has write access.") from None
    record = {"repo_id": repo_id, "url": str(repo), "commit_url": str(getattr(commit, "commit_url", commit)),
              "time": time.time(), "private": private}
    write_json_atomic(run.path / PUSH_FILE, record)
    logger.info("Pushed %s to %s.", run.name, record["url"])
    return record


def scrub(text: str, token: str) -> str:
    """`text` with the token masked (an HTTP error may echo request headers)."""
    return text.replace(token, "hf_***") if token else text


def read_push(run_dir: str | Path) -> dict | None:
    """The last push of a run (repository and commit URLs), or None."""
    return read_json(Path(run_dir) / PUSH_FILE)
