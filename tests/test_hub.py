"""Hub push: offline is refused with the reason, the token is used but never written to disk or logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import huggingface_hub
import pytest

import core.hub
from core.cli import main
from core.hub import hub_status, push_model
from core.rundir import RunDir

TOKEN = "hf_TopSecretTokenValue123"


@pytest.fixture
def finished_run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.model.mkdir(parents=True)
    (run.model / "config.json").write_text("{}")
    (run.model / "README.md").write_text("# card\n")
    return run


@pytest.fixture
def fake_hub(monkeypatch):
    """HfApi.create_repo / upload_folder replaced by recorders; the token HfApi was built with is kept."""
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, self.token, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        calls.append(("upload_folder", kwargs["repo_id"], self.token, kwargs))
        return f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(core.hub, "hub_status", lambda: core.hub.HubStatus(True))
    return calls


def files_containing(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_offline_is_reported_without_touching_the_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(core.hub.socket, "create_connection", lambda *a, **k: pytest.fail("network used"))
    status = hub_status()
    assert not status.online and "HF_HUB_OFFLINE" in status.reason


def test_unreachable_hub_reads_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def refuse(*args, **kwargs):
        raise OSError("no route")

    monkeypatch.setattr(core.hub.socket, "create_connection", refuse)
    assert "cannot be reached" in hub_status().reason


def test_push_through_the_cli_keeps_the_token_off_disk_and_logs(finished_run, fake_hub, monkeypatch, capsys, caplog):
    monkeypatch.setenv("MY_HUB_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    code = main(["push", str(finished_run.path), "--repo-id", "alice/reviews", "--token-env", "MY_HUB_TOKEN"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [c[0] for c in fake_hub] == ["create_repo", "upload_folder"]
    assert all(c[2] == TOKEN for c in fake_hub)
    assert fake_hub[0][3]["private"] is True and fake_hub[1][3]["folder_path"] == str(finished_run.model)
    assert json.loads(out)["url"] == "https://huggingface.co/alice/reviews"
    assert json.loads((finished_run.path / "hub.json").read_text())["repo_id"] == "alice/reviews"
    assert TOKEN not in out + err + caplog.text
    assert not files_containing(finished_run.path.parent, TOKEN)


def test_a_refused_upload_is_one_line_with_the_token_masked(finished_run, fake_hub, monkeypatch, capsys):
    def refuse(self, **kwargs):
        raise RuntimeError(f"401 Unauthorized: Authorization: Bearer {self.token}")

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", refuse)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["push", str(finished_run.path), "--repo-id", "alice/reviews"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Hub error: The Hub refused the upload") and TOKEN not in err and "hf_***" in err
    assert not (finished_run.path / "hub.json").exists()


@pytest.mark.parametrize(("env", "fragment"), [({"HF_HUB_OFFLINE": "1", "HF_TOKEN": TOKEN}, "Offline mode"),
                                               ({"HF_HUB_OFFLINE": "0", "HF_TOKEN": ""}, "$HF_TOKEN is empty")])
def test_cli_push_refusals_exit_2(finished_run, env, fragment, monkeypatch, capsys):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if env["HF_HUB_OFFLINE"] == "0":  # online without a network call; offline is the real check
        monkeypatch.setattr(core.hub, "hub_status", lambda: core.hub.HubStatus(True))
    assert main(["push", str(finished_run.path), "--repo-id", "alice/reviews"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Configuration error: ") and fragment in err and len(err.splitlines()) == 1


def test_push_checks_the_repo_id(finished_run):
    with pytest.raises(core.hub.ConfigError, match="not a Hub repository id"):
        push_model(finished_run.path, "no-slash", TOKEN)
