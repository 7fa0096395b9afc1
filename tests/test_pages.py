"""Every wizard page under `streamlit.testing.v1.AppTest`, with preset state and a per-test workspace."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import make_sentiment_frame

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "banking77_sample.csv"
STEPS = ["task", "data", "augment", "model", "hyperparameters", "train", "evaluate", "export", "runs", "search"]
RUN_NAME = "tiny-run"
PAGES = "views"  # the folder of the step scripts, as app.py names them


def blank_wizard(**changes) -> dict:
    """ui.state.blank_state() with changes; imported late so the workspace env is already set."""
    from ui.state import blank_state

    wizard = blank_state()
    wizard.update(changes)
    return wizard


def ready_wizard(train: Path | str = SAMPLE, **changes) -> dict:
    """A wizard whose data step is done (file chosen, columns text/label checked)."""
    return blank_wizard(data={"train": str(train), "source_name": Path(train).name, "columns_ok": True}, **changes)


def open_page(step: str, wizard: dict | None = None, timeout: float = 60) -> AppTest:
    """Run the app once (as a browser would on first load), then open `step` with the given wizard state."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    if wizard is not None:
        at.session_state["wizard"] = wizard
    at.run()
    if step != "task":
        at.switch_page(f"{PAGES}/{step}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def by_label(elements, label: str):
    """The one widget of a kind with this label."""
    found = [e for e in elements if e.label == label]
    assert found, f"no widget labelled {label!r}; have {[e.label for e in elements]}"
    return found[0]


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def saved_wizard(home: Path, project: str = "my-first-model") -> dict:
    return json.loads((home / "projects" / project / "wizard.json").read_text(encoding="utf-8"))


# --- every page, fresh start -------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_every_page_runs_on_a_fresh_start(home, step):
    at = open_page(step)
    assert at.title, "each page has a title"


@pytest.mark.parametrize("step", ["augment", "model", "hyperparameters", "train", "search"])
def test_steps_before_data_say_that_data_is_missing(home, step):
    at = open_page(step)
    assert "Data" in texts(at.info) and "first" in texts(at.info)


@pytest.mark.parametrize("step", ["evaluate", "export"])
def test_steps_after_training_say_that_a_run_is_missing(home, step):
    at = open_page(step)
    assert "Train a model" in texts(at.info)


# --- data --------------------------------------------------------------------------------------------------------


def test_sample_dataset_loads_and_columns_can_be_mapped(home):
    at = open_page("data")
    assert "Upload" in texts(at.info)
    by_label(at.button, "Use a sample dataset").click().run()
    assert not at.exception
    metrics = metric_values(at)
    assert metrics["Training rows"] not in {"0", ""}
    assert metrics["Classes"] == "6"
    text_box, label_box = by_label(at.selectbox, "Text column"), by_label(at.selectbox, "Label column")
    assert (text_box.value, label_box.value) == ("text", "label")
    assert saved_wizard(home)["data"]["columns_ok"] is True

    by_label(at.selectbox, "Label column").set_value("text").run()
    assert not at.exception
    assert at.error, "choosing the text column as the label is refused with a message"
    assert saved_wizard(home)["data"]["columns_ok"] is False


def test_binary_file_named_csv_shows_a_clear_error(home, tmp_path):
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    at = open_page("data", blank_wizard(data={"train": str(bad), "source_name": "photo.csv", "columns_ok": False}))
    assert "binary" in texts(at.error)
    assert not at.metric


# --- augment -----------------------------------------------------------------------------------------------------


def test_augment_preview_appears_once_an_augmentation_is_picked(home):
    at = open_page("augment", ready_wizard())
    assert "Original:" not in texts(at.markdown)
    by_label(at.multiselect, "Augmentations").select("random_swap").run()
    assert not at.exception
    assert texts(at.markdown).count("**Original:**") == 5
    assert saved_wizard(home)["config"]["augment"] == ["random_swap"]


# --- model -------------------------------------------------------------------------------------------------------


def choose_local_folder(at: AppTest, folder: Path) -> AppTest:
    by_label(at.radio, "Where does the model come from?").set_value("Local folder").run()
    by_label(at.text_input, "Model folder (Hugging Face format)").input(str(folder)).run()
    assert not at.exception
    return at


def test_model_folder_that_does_not_exist_is_refused(home, tmp_path):
    at = choose_local_folder(open_page("model", ready_wizard()), tmp_path / "no-such-model")
    assert "does not exist" in texts(at.error)
    assert saved_wizard(home)["config"]["model"] == "all-minilm-l6-v2", "a bad choice is not saved"


def test_model_folder_with_pickle_weights_is_refused(home, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    at = choose_local_folder(open_page("model", ready_wizard()), folder)
    assert "pickle" in texts(at.error)


def test_model_folder_without_config_is_refused(home, tmp_path):
    folder = tmp_path / "only-bin"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"weights")
    at = choose_local_folder(open_page("model", ready_wizard()), folder)
    assert "config.json" in texts(at.error)


def test_bundled_model_is_ready_offline(home):
    at = open_page("model", ready_wizard())
    assert "works offline" in texts(at.success)


def test_hub_id_offline_check_gives_a_clear_message(home):
    at = open_page("model", ready_wizard())
    by_label(at.radio, "Where does the model come from?").set_value("Hub id").run()
    field = next(t for t in at.text_input if t.label.startswith("Hub id"))
    field.input("someone/no-such-model").run()
    assert "internet" in texts(at.info)
    by_label(at.button, "Check that it loads").click().run()
    assert not at.exception
    assert "could not be loaded from the Hugging Face Hub" in texts(at.error)


# --- hyperparameters ---------------------------------------------------------------------------------------------


def test_settings_show_presets_and_estimate_and_quick_look_saves_one_epoch(home):
    at = open_page("hyperparameters", ready_wizard())
    preset = by_label(at.radio, "Preset")
    assert {"Quick look", "Balanced"} <= set(preset.options)
    assert "Estimated duration on this machine" in metric_values(at)
    preset.set_value("Quick look").run()
    assert not at.exception
    saved = saved_wizard(home)
    assert saved["preset"] == "Quick look" and saved["config"]["epochs"] == 1


# --- persistence -------------------------------------------------------------------------------------------------


def test_wizard_state_comes_back_in_a_new_session(home):
    first = open_page("data")
    by_label(first.button, "Use a sample dataset").click().run()
    by_label(first.selectbox, "Label column").set_value("label").run()
    first.switch_page(f"{PAGES}/hyperparameters.py")
    by_label(first.run().radio, "Preset").set_value("Quick look").run()

    second = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)  # a reload: fresh session
    second.run()
    restored = second.session_state["wizard"]
    assert restored["project"] == "my-first-model"
    assert restored["data"]["train"] == str(SAMPLE) and restored["data"]["columns_ok"] is True
    assert restored["preset"] == "Quick look" and restored["config"]["epochs"] == 1
    second.switch_page(f"{PAGES}/data.py")
    assert metric_values(second.run())["Classes"] == "6"


# --- a finished run: train, evaluate, export, runs ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model_dir) -> tuple[Path, Path]:
    """A completed run directory of the tiny model on the sentiment table, and its CSV (built once)."""
    from core.config import TrainConfig
    from core.runner import train_run

    folder = tmp_path_factory.mktemp("trained")
    csv = folder / "reviews.csv"
    make_sentiment_frame().to_csv(csv, index=False)
    cfg = TrainConfig(train=str(csv), model=str(tiny_model_dir), epochs=1, batch_size=8, max_length=32,
                      device="cpu", early_stopping_patience=0)
    train_run(cfg, folder / RUN_NAME)
    return folder / RUN_NAME, csv


@pytest.fixture
def finished(home, trained_run) -> dict:
    """The trained run copied into this test's workspace, and a wizard pointing at it."""
    run, csv = trained_run
    shutil.copytree(run, home / "runs" / RUN_NAME)
    return ready_wizard(csv, active_run=RUN_NAME)


def test_train_page_shows_a_completed_run(finished):
    at = open_page("train", finished)
    assert "Completed" in texts(at.markdown)
    assert len(at.get("plotly_chart")) == 3
    assert by_label(at.button, "Start training").disabled is False


def test_train_page_shows_a_dead_running_run_as_crashed(home):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid is now dead
    run = home / "runs" / "dead-run"
    run.mkdir(parents=True)
    (run / "recipe.json").write_text("{}")
    (run / "status.json").write_text(json.dumps({"state": "running", "pid": child.pid, "heartbeat": time.time()}))
    at = open_page("train", ready_wizard(active_run="dead-run"))
    assert "Crashed" in texts(at.markdown)
    assert "ended unexpectedly" in texts(at.error)


def test_evaluate_page_shows_metrics_confusion_and_classifies(finished):
    at = open_page("evaluate", finished)
    assert "Accuracy" in metric_values(at)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(c["data"][0]["type"] == "heatmap" for c in charts), "a confusion matrix is drawn"
    at.text_area[0].input("a great and moving film").run()
    by_label(at.button, "Classify").click().run()
    assert not at.exception
    prediction = next(m.value for m in at.markdown if m.value.startswith("Prediction:"))
    assert "positive" in prediction or "negative" in prediction


def test_export_page_offers_the_zip(finished):
    at = open_page("export", finished)
    buttons = at.get("download_button")
    assert len(buttons) == 1 and "Download model" in buttons[0].proto.label


def test_runs_page_lists_runs_and_deletes_only_after_confirmation(home, finished):
    at = open_page("runs", finished)
    assert RUN_NAME in at.dataframe[0].value["name"].tolist()
    delete = by_label(at.button, "Delete run")
    assert delete.disabled
    at.checkbox[0].check().run()
    delete = by_label(at.button, "Delete run")
    assert not delete.disabled
    delete.click().run()
    assert not at.exception
    assert not (home / "runs" / RUN_NAME).exists()
    assert "No runs yet" in texts(at.info)
    assert at.session_state["wizard"]["active_run"] is None


# --- boundaries --------------------------------------------------------------------------------------------------


def imported_modules(path: Path) -> set[str]:
    """Top-level package names imported anywhere in a file (including inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((REPO / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_never_imports_streamlit(path):
    assert "streamlit" not in imported_modules(path)


@pytest.mark.parametrize("path", [REPO / "app.py", *sorted((REPO / PAGES).glob("*.py"))], ids=lambda p: p.name)
def test_pages_never_import_ml_libraries(path):
    assert not imported_modules(path) & {"torch", "transformers", "datasets"}
