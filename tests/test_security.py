"""Security: localhost by default, a password on a network, uploads kept in the workspace, safe exports and loads."""

from __future__ import annotations

import ast
import csv
import os
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core.errors import ConfigError, FineTuneError
from core.exports import csv_bytes, neutralise_cell, write_csv
from core.workspace import project_dir, run_by_name, store_upload, workspace_home
from ui import guess_limit

REPO = Path(__file__).resolve().parents[1]
TABLE = b"text,label\nfine,pos\n"


def test_server_listens_on_localhost_with_xsrf_on():
    server = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "localhost"
    assert server["enableXsrfProtection"] is True
    assert server["maxUploadSize"] == 200


def test_the_built_in_dataframe_csv_download_is_off():
    """st.dataframe's "Download as CSV" writes formula cells raw; our CSVs go through core.exports instead."""
    client = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["client"]
    assert client["disableDataExport"] is True
    known = st_config.get_config_options()
    assert "client.disableDataExport" in known, "an option this Streamlit does not know is silently ignored"


@pytest.fixture
def address():
    """Set server.address for one test (as `--server.address` would), restoring it afterwards."""
    before = st_config.get_option("server.address")
    yield lambda value: st_config.set_option("server.address", value)
    st_config.set_option("server.address", before)


def run_app(home) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def wizard_visible(at: AppTest) -> bool:
    return any(t.value == "What should your model learn?" for t in at.title)


def test_localhost_without_a_password_opens_the_wizard(home, address, monkeypatch):
    monkeypatch.delenv("FINETUNE_PASSWORD", raising=False)
    address("localhost")
    at = run_app(home)
    assert "Password" not in [t.label for t in at.text_input] and wizard_visible(at)


def test_network_without_a_password_refuses_to_serve(home, address, monkeypatch):
    monkeypatch.delenv("FINETUNE_PASSWORD", raising=False)
    address("0.0.0.0")
    at = run_app(home)
    assert "without a password" in at.error[0].value
    assert not wizard_visible(at)


def test_network_with_a_password_shows_only_the_login_until_it_is_right(home, address, monkeypatch):
    monkeypatch.setenv("FINETUNE_PASSWORD", "correct horse")
    address("0.0.0.0")
    at = run_app(home)
    assert [t.label for t in at.text_input] == ["Password"] and not wizard_visible(at)
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong password." and not wizard_visible(at)
    at.text_input[0].input("correct horse")
    at.button[0].click().run()
    assert not at.exception and wizard_visible(at)


def guess(at: AppTest, password: str) -> AppTest:
    at.text_input[0].input(password)
    at.button[0].click().run()
    return at


def test_five_wrong_passwords_lock_the_login_for_30_s_then_double(home, address, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(guess_limit, "clock", lambda: now[0])
    monkeypatch.setenv("FINETUNE_PASSWORD", "correct horse")
    address("0.0.0.0")
    at = run_app(home)
    for _ in range(4):
        assert guess(at, "wrong").error[0].value == "Wrong password."
    guess(at, "wrong")
    assert "Too many wrong passwords. Try again at" in at.error[0].value and "(in 30 s)" in at.error[0].value
    at.run()
    assert not at.text_input, "no form, so no guess is even compared, while locked"
    assert "Try again" in run_app(home).error[0].value, "a new session from the same client is locked too"
    now[0] += 31
    at.run()
    guess(at, "wrong again")
    assert "(in 60 s)" in at.error[0].value, "the next lock is twice as long"
    now[0] += 61
    at.run()
    guess(at, "correct horse")
    assert not at.exception and wizard_visible(at)
    assert guess_limit.locked_until(["client:local"]) == 0 and not run_app(home).error, "a right guess clears it"


def test_the_guess_lock_doubles_up_to_an_hour_and_is_forgotten_after_a_day(home, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(guess_limit, "clock", lambda: now[0])
    locks = [guess_limit.record_failure(["client:x"]) for _ in range(14)]
    assert locks[:4] == [0.0] * 4 and locks[4:7] == [30.0, 60.0, 120.0] and locks[-1] == guess_limit.MAX_LOCK_S
    assert guess_limit.locked_until(["session:other", "client:x"]) == guess_limit.MAX_LOCK_S
    now[0] = guess_limit.FORGET_AFTER_S + 1
    assert guess_limit.record_failure(["client:x"]) == 0.0, "a day later the count starts afresh"


@pytest.mark.parametrize("name", ["../../../etc/evil.csv", "/tmp/absolute.csv", "..\\..\\windows.csv",
                                  "C:\\Users\\x\\drive.csv", "sub/dir/../../up.csv", ".hidden.csv", "....csv"])
def test_upload_names_never_leave_the_project_uploads_folder(name, home):
    stored = store_upload("p", name, TABLE)
    assert stored.parent == (project_dir("p") / "uploads") and stored.read_bytes() == TABLE
    assert stored.resolve().is_relative_to(workspace_home().resolve())
    assert stored.suffix == ".csv" and len(stored.name.split("-")[0]) == 12  # generated, not the user's name


def test_two_uploads_of_the_same_name_do_not_overwrite_each_other(home):
    first, second = store_upload("p", "data.csv", TABLE), store_upload("p", "data.csv", TABLE + b"more,neg\n")
    assert first != second and first.read_bytes() == TABLE


def test_a_symlinked_uploads_folder_is_refused(home, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, project_dir("p") / "uploads")
    with pytest.raises(ConfigError, match="outside the workspace"):
        store_upload("p", "data.csv", TABLE)
    assert not list(outside.iterdir())


@pytest.mark.parametrize("name", ["../runs", "/etc", "a/../../b", "..", ""])
def test_run_names_with_path_tricks_are_refused(name, home):
    with pytest.raises(ConfigError):
        run_by_name(name)


def test_formula_cells_are_neutralised_and_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame({"text": ["=1+2", "+SUM(A1)", "-cmd", "@evil", "\tx", "\rx", "-1.5", "plain"],
                          "score": [-1.5, 2.0, -3.0, 0.0, 1.0, 1.0, 1.0, 1.0]})
    with write_csv(frame, tmp_path / "out.csv").open(newline="") as handle:  # keep the \r inside the cell
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["'=1+2", "'+SUM(A1)", "'-cmd", "'@evil", "'\tx", "'\rx", "-1.5", "plain"]
    assert [float(r[1]) for r in rows[1:]][:3] == [-1.5, 2.0, -3.0]
    assert csv_bytes(frame) == (tmp_path / "out.csv").read_bytes()
    assert neutralise_cell("=HYPERLINK()") == "'=HYPERLINK()" and neutralise_cell(-2) == -2


def test_column_names_are_neutralised_too():
    assert csv_bytes(pd.DataFrame({"=bad": ["x"]})).startswith(b"'=bad")


def _calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            if (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == name:
                yield node


@pytest.mark.parametrize("folder", ["core", "ui", "views"])
def test_no_unsafe_loading_in_the_code(folder):
    """torch.load only with weights_only=True; no pickle.load; trust_remote_code never hard-wired to True."""
    for path in (REPO / folder).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for call in _calls(tree, "load"):
            if isinstance(call.func, ast.Attribute) and getattr(call.func.value, "id", "") in {"torch", "pickle"}:
                weights_only = {k.arg: k.value for k in call.keywords}.get("weights_only")
                assert call.func.value.id == "torch" and isinstance(weights_only, ast.Constant) \
                    and weights_only.value is True, f"{path}:{call.lineno}"
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                assert not (isinstance(node.value, ast.Constant) and node.value.value is True), f"{path}"


def test_remote_code_runs_only_when_asked_for_a_hub_model(caplog):
    from core.modeling import remote_code_allowed

    assert remote_code_allowed("hub", False) is False and not caplog.text
    assert remote_code_allowed("local", True) is False and "ignored" in caplog.text
    assert remote_code_allowed("hub", True) is True and "will run on this machine" in caplog.text


def test_local_models_load_from_safetensors_without_remote_code(tiny_model_dir, monkeypatch):
    from transformers import AutoModelForSequenceClassification

    from core.config import TrainConfig
    from core.modeling import load_classifier

    seen = {}

    def record(location, **kwargs):
        seen.update(kwargs)
        raise OSError("stop here")

    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", record)
    with pytest.raises(FineTuneError):
        load_classifier(TrainConfig(model=str(tiny_model_dir), trust_remote_code=True), ["a", "b"])
    assert seen["use_safetensors"] is True and seen["trust_remote_code"] is False


def test_model_page_offers_remote_code_only_for_hub_ids_with_a_warning(home):
    from tests.test_pages import by_label, open_page, ready_wizard

    wizard = ready_wizard()
    wizard["config"]["model"] = "someone/custom-model"
    at = open_page("model", wizard)
    box = by_label(at.checkbox, "Trust remote code")
    assert box.value is False and not at.warning
    box.check().run()
    assert "will run on this machine" in at.warning[0].value
    assert at.session_state["wizard"]["config"]["trust_remote_code"] is True
    local = open_page("model", ready_wizard())
    assert "Trust remote code" not in [c.label for c in local.checkbox]
