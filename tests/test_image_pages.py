"""The wizard's image-classification steps under AppTest: Task, Data, Augment, Settings, Evaluate and Download."""

from __future__ import annotations

import io
import shutil

import pytest

from tests.image_helpers import make_image, zip_folder
from tests.test_pages import blank_wizard, by_label, saved_wizard, texts

RUN_NAME = "tiny-images"


def open_page(step: str, wizard: dict | None = None):
    """tests.test_pages.open_page with a longer first-run timeout: image pages import PIL, OpenCV and torch."""
    from tests.test_pages import open_page as open_app_page

    return open_app_page(step, wizard, timeout=240)


def image_wizard(train, **changes) -> dict:
    from core.config import TrainConfig

    config = TrainConfig(task="image-classification", model="mobilenet-v2-imagenet").to_dict()
    return blank_wizard(task="image-classification", config=config, **changes,
                        data={"train": str(train), "source_name": train.name, "columns_ok": True})


def test_choosing_the_image_task_switches_to_an_image_model(home):
    at = open_page("task")
    by_label(at.radio, "Task").set_value("image-classification").run()
    assert not at.exception
    wizard = saved_wizard(home)
    assert wizard["task"] == "image-classification" and wizard["config"]["model"] == "mobilenet-v2-imagenet"
    assert "folder per category" in texts(at.info)


def test_data_step_shows_counts_thumbnails_and_the_placeholder_finding(home, image_folder, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64), (255, 255, 255)).save(image_folder / "red" / "blank.png")
    archive = zip_folder(image_folder, tmp_path / "photos.zip")
    at = open_page("data", image_wizard(archive))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "2"
    assert int(metrics["Training images"]) + int(metrics["Validation images"]) + int(metrics["Test images"]) == 25
    assert len(at.get("image")) >= 2, "thumbnails of each class"
    assert "red/blank.png" in texts(at.warning)


def test_augment_step_previews_a_grid_and_rerolls(home, image_folder):
    wizard = image_wizard(image_folder)
    wizard["config"]["image_augment"] = ["flip", "color"]
    at = open_page("augment", wizard)
    grid = [img.proto.SerializeToString() for img in at.get("image")]
    assert len(grid) == 4 * 5, "four images, each with four augmented copies"
    by_label(at.button, "Re-roll").click().run()
    assert not at.exception
    assert [img.proto.SerializeToString() for img in at.get("image")] != grid, "re-roll shows other variants"


def test_settings_step_estimates_a_duration_for_images(home, image_folder):
    at = open_page("hyperparameters", image_wizard(image_folder))
    assert "Estimated duration on this machine" in {m.label for m in at.metric}


@pytest.fixture
def image_run(home, image_folder, tiny_image_model_dir, tmp_path_factory):
    from core.cli import main

    output = home / "runs" / RUN_NAME
    assert main(["train", "--task", "image-classification", "--train", str(image_folder), "--model",
                 str(tiny_image_model_dir), "--epochs", "1", "--output", str(output), "--test-size", "0.3"]) == 0
    shutil.rmtree(output / "checkpoints", ignore_errors=True)
    return output


def test_evaluate_step_shows_the_mistake_grid_and_classifies_an_upload(image_run, image_folder):
    import json

    report = json.loads((image_run / "report.json").read_text())
    at = open_page("evaluate", image_wizard(image_folder, active_run=RUN_NAME))
    assert {"Accuracy", "Macro F1", "Misclassified"} <= {m.label for m in at.metric}
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert sum("true:" in c and "predicted:" in c for c in captions) == min(report["error_count"], 24)
    assert at.get("camera_input") == [] and len(at.get("file_uploader")) == 1
    by_label(at.radio, "Picture from").set_value("Camera").run()
    assert len(at.get("camera_input")) == 1


def test_try_it_classifies_an_uploaded_picture(image_run, image_folder):
    from core.inference import load_predictor, predict_images

    buffer = io.BytesIO()
    make_image((200, 40, 40), 7).save(buffer, format="PNG")
    buffer.seek(0)
    from PIL import Image

    scores = predict_images(load_predictor(image_run / "model"), [Image.open(buffer)])[0]
    assert set(scores) == {"blue", "red"}
    at = open_page("export", image_wizard(image_folder, active_run=RUN_NAME))
    assert 'pipeline("image-classification"' in texts(at.code)
