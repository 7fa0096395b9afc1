"""The whole wizard in Chromium: upload, settings, train with a reload mid-run, evaluate, download and use the model."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.browser_helpers import (
    VIEWPORT,
    StreamlitServer,
    choose,
    find_chromium,
    metric_value,
    open_step,
    settle,
    snap,
)
from tests.test_faults import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SST2 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sst2"
TRAIN_TIMEOUT_MS = 300_000
SEARCH_TIMEOUT_MS = 480_000  # two frozen-backbone trials on two slow shared cores
PROMOTE_TIMEOUT_MS = 360_000


@pytest.fixture
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = "Chromium is not installed (apt-get install chromium); the browser journey needs it."
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    return path


@pytest.fixture
def server(tmp_path):
    """The app on a free port with an empty workspace; always stopped, with any run it started."""
    app = StreamlitServer(tmp_path / "home", tmp_path / "streamlit.log")
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def context(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(60_000)
        try:
            yield context
        finally:
            browser.close()


@pytest.fixture
def page(context, server):
    page = context.new_page()
    page.goto(server.url)
    return page


@pytest.fixture
def reviews_csv(tmp_path) -> Path:
    source = SST2 / "train.csv"
    if not source.exists():
        pytest.skip(f"{source} is missing (the shared SST-2 copy).")
    path = tmp_path / "reviews.csv"
    pd.read_csv(source).head(300).to_csv(path, index=False)
    return path


def saved_config(server: StreamlitServer) -> dict:
    wizard = server.home / "projects" / "my-first-model" / "wizard.json"
    return json.loads(wizard.read_text(encoding="utf-8"))["config"]


def wait_saved(server: StreamlitServer, key: str, value, timeout: float = 30) -> None:
    """Wait until the wizard's saved recipe holds `value`: the browser shows a choice before the server's rerun
    has stored it, and a loaded box may take seconds for that rerun."""
    wait_for(lambda: saved_config(server).get(key) == value, timeout)


def upload_and_map_columns(page: Page, server: StreamlitServer, csv: Path) -> None:
    open_step(page, "data", "Your data")
    page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(str(csv))
    expect(page.get_by_role("combobox", name="Label column")).to_be_visible(timeout=120_000)
    settle(page)
    choose(page, "Text column", "text")
    choose(page, "Label column", "label_name")
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Classes")).to_be_visible(timeout=120_000)
    settle(page)
    wait_saved(server, "label_column", "label_name")
    assert metric_value(page, "Classes") == "2"
    snap(page, "data")


def preview_augmentation(page: Page) -> None:
    open_step(page, "augment", "Augmentation")
    page.get_by_role("combobox", name="Augmentations").click()
    page.get_by_role("option", name=re.compile("random swap")).click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    expect(page.get_by_text("Original:").first).to_be_visible(timeout=60_000)  # real rows, before and after
    expect(page.locator("del").first).to_be_visible()  # the words the augmentation moved are highlighted
    settle(page)
    snap(page, "augment")


def keep_the_default_model(page: Page, server: StreamlitServer) -> None:
    open_step(page, "model", "Choose a starting model")
    expect(page.get_by_text("Ready:")).to_be_visible()
    assert saved_config(server)["model"] == "all-minilm-l6-v2"
    snap(page, "model")


def set_one_epoch(page: Page, server: StreamlitServer) -> None:
    open_step(page, "hyperparameters", "Training settings")
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Estimated duration")).to_be_visible()
    snap(page, "hyperparameters")
    page.get_by_text("Advanced settings").click()
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    settle(page)
    wait_saved(server, "epochs", 1)


def train_with_a_reload(page: Page, server: StreamlitServer) -> None:
    open_step(page, "train", "Train")
    page.get_by_role("button", name="Start training").click()
    status = page.locator("h3", has_text="Status:")
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(status).to_contain_text("Running", timeout=120_000)  # the child process is alive and reporting
    expect(charts).to_have_count(3, timeout=120_000)
    expect(page.get_by_text(re.compile(r"^Step \d+ of"))).to_be_visible()
    snap(page, "train-running")

    page.reload()  # the run lives in its own process and on disk: the page must find it again
    expect(status).to_be_visible(timeout=120_000)
    expect(charts).to_have_count(3, timeout=120_000)
    assert re.search("Running|Completed", status.inner_text()), status.inner_text()
    expect(status).to_contain_text("Completed", timeout=TRAIN_TIMEOUT_MS)
    settle(page)
    assert len(list((server.home / "runs").iterdir())) == 1, "the reload neither lost nor restarted the run"
    snap(page, "train")


def evaluate_and_download(page: Page, folder: Path) -> Path:
    open_step(page, "evaluate", "Evaluation")
    accuracy = metric_value(page, "Accuracy")
    assert re.fullmatch(r"\d+(\.\d)?%", accuracy), accuracy
    snap(page, "evaluate")

    open_step(page, "export", "Download your model")
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name=re.compile("Download model")).click()
    archive = folder / "model.zip"
    download.value.save_as(archive)
    snap(page, "export")
    return archive


def test_whole_wizard_in_a_browser(page, server, reviews_csv, tmp_path):
    expect(page.get_by_role("heading", name="What should your model learn?")).to_be_visible(timeout=120_000)
    settle(page)
    snap(page, "task")
    upload_and_map_columns(page, server, reviews_csv)
    preview_augmentation(page)
    keep_the_default_model(page, server)
    set_one_epoch(page, server)
    train_with_a_reload(page, server)
    archive = evaluate_and_download(page, tmp_path)
    open_step(page, "runs", "All runs")
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    snap(page, "runs")

    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path / "unzipped")
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(tmp_path / "unzipped" / "model"), device="cpu")
    prediction = classifier("a wonderful , moving film with great acting")[0]
    assert prediction["label"] in {"negative", "positive"}


def test_a_deep_link_to_a_fresh_server_shows_the_wizard(context, server):
    page = context.new_page()
    page.goto(f"{server.url}/train")  # a bookmarked or reloaded tab after a server restart
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=120_000)
    settle(page)
    expect(page.locator('[data-testid="stSidebarNavLink"]').first).to_contain_text("1 · Task", timeout=10_000)


def test_search_then_promote_the_best_trial(page, server):
    """Sample data, the frozen preset, a two-trial search watched live, then the best trial trained and tested."""
    expect(page.get_by_role("heading", name="What should your model learn?")).to_be_visible(timeout=120_000)
    settle(page)
    open_step(page, "data", "Your data")
    page.get_by_role("button", name="Use a sample dataset").click()
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Classes")).to_be_visible(timeout=120_000)
    settle(page)

    open_step(page, "hyperparameters", "Training settings")
    page.get_by_text("Small data (frozen)", exact=True).click()  # the radio's label; its input is hidden
    expect(page.get_by_text("Keeps the pretrained model fixed")).to_be_visible(timeout=60_000)
    settle(page)
    wait_saved(server, "strategy", "frozen")

    open_step(page, "search", "Hyperparameter search")
    trials = page.get_by_label("Trials", exact=True)
    trials.fill("2")
    trials.press("Enter")
    settle(page)
    expect(trials).to_have_value("2")
    page.get_by_role("button", name="Start search").click()
    status = page.locator("h3", has_text=re.compile(r"^Search "))  # "Search <folder>: <state>"
    expect(status).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Best so far: trial")).to_be_visible(timeout=SEARCH_TIMEOUT_MS)
    expect(status).to_contain_text("Completed", timeout=SEARCH_TIMEOUT_MS)
    settle(page)
    snap(page, "search")

    searches = list((server.home / "searches").iterdir())
    assert len(searches) == 1, searches
    trial_dirs = [path for path in (searches[0] / "trials").iterdir() if path.is_dir()]
    assert len(trial_dirs) >= 2, trial_dirs

    page.get_by_role("button", name="Promote best trial").click()
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=120_000)
    train_status = page.locator("h3", has_text="Status:")
    expect(train_status).to_contain_text("Completed", timeout=PROMOTE_TIMEOUT_MS)
    settle(page)
    runs = list((server.home / "runs").iterdir())
    assert len(runs) == 1, runs
    assert (runs[0] / "model" / "config.json").is_file()

    open_step(page, "evaluate", "Evaluation")
    accuracy = metric_value(page, "Accuracy")
    assert re.fullmatch(r"\d+(\.\d)?%", accuracy), accuracy


def test_named_entities_from_the_sample_to_highlighted_sentences(page, server, tmp_path):
    """NER end to end: pick the task, the WNUT-17 sample, one epoch, train, see entities highlighted, try it."""
    expect(page.get_by_role("heading", name="What should your model learn?")).to_be_visible(timeout=120_000)
    settle(page)
    page.get_by_text("Named entities (NER)", exact=True).click()
    expect(page.get_by_text("B-TYPE on the first word")).to_be_visible(timeout=60_000)
    settle(page)
    snap(page, "task-ner")

    open_step(page, "data", "Your data")
    page.get_by_role("button", name="Use a sample dataset").click()
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Entity types")).to_be_visible(timeout=120_000)
    settle(page)
    assert metric_value(page, "Entity types") == "6"
    assert (saved_config(server)["text_column"], saved_config(server)["label_column"]) == ("tokens", "ner_tags")
    snap(page, "data-ner")

    set_one_epoch(page, server)
    open_step(page, "train", "Train")
    page.get_by_role("button", name="Start training").click()
    status = page.locator("h3", has_text="Status:")
    expect(status).to_contain_text("Completed", timeout=TRAIN_TIMEOUT_MS)
    settle(page)
    run = next((server.home / "runs").iterdir())
    assert json.loads((run / "recipe.json").read_text())["task"] == "token-classification"
    assert "f1" in json.loads((run / "metrics.json").read_text())

    open_step(page, "evaluate", "Evaluation")
    assert re.fullmatch(r"0\.\d{3}", metric_value(page, "Entity F1")), metric_value(page, "Entity F1")
    expect(page.get_by_text("true ·").first).to_be_visible(timeout=60_000)  # sentences with true/predicted entities
    page.get_by_label("Type a sentence").fill("Taylor Swift played in London with Apple Music")
    page.get_by_role("button", name="Find entities").click()
    expect(page.get_by_text(re.compile(r"^Found \d+ entit"))).to_be_visible(timeout=120_000)
    settle(page)
    snap(page, "evaluate-ner")

    from transformers import pipeline

    tagger = pipeline("token-classification", model=str(run / "model"), aggregation_strategy="simple")
    assert isinstance(tagger("Taylor Swift played in London"), list)


def test_images_from_an_uploaded_zip_to_a_classified_picture(page, server, tmp_path, tiny_image_model_dir):
    """Image classification end to end: a ZIP of class folders, a local tiny model, train, mistakes, try it."""
    from tests.image_helpers import make_image, make_image_folder, zip_folder

    archive = zip_folder(make_image_folder(tmp_path / "images", per_class=10), tmp_path / "photos.zip")
    expect(page.get_by_role("heading", name="What should your model learn?")).to_be_visible(timeout=120_000)
    settle(page)
    page.get_by_text("Image classification", exact=True).click()
    expect(page.get_by_text("folder per category")).to_be_visible(timeout=60_000)
    settle(page)

    open_step(page, "data", "Your data")
    page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(str(archive))
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Classes")).to_be_visible(timeout=180_000)
    settle(page)
    assert metric_value(page, "Classes") == "2"
    expect(page.get_by_role("strong").filter(has_text="red")).to_be_visible()  # the thumbnails' class captions
    snap(page, "data-images")

    open_step(page, "model", "Choose a starting model")
    page.get_by_text("Local folder", exact=True).click()
    folder = page.get_by_label("Model folder (Hugging Face format)")
    folder.fill(str(tiny_image_model_dir))
    folder.press("Enter")
    expect(page.get_by_text("Ready:")).to_be_visible(timeout=60_000)
    settle(page)
    set_one_epoch(page, server)

    open_step(page, "train", "Train")
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("h3", has_text="Status:")).to_contain_text("Completed", timeout=TRAIN_TIMEOUT_MS)
    settle(page)
    run = next((server.home / "runs").iterdir())
    assert json.loads((run / "recipe.json").read_text())["task"] == "image-classification"

    open_step(page, "evaluate", "Evaluation")
    assert re.fullmatch(r"\d+(\.\d)?%", metric_value(page, "Accuracy"))
    picture = tmp_path / "try.png"
    make_image((200, 40, 40), 99).save(picture)
    page.locator('[data-testid="stFileUploader"] input[type=file]').last.set_input_files(str(picture))
    expect(page.get_by_text(re.compile(r"^Prediction: (red|blue)"))).to_be_visible(timeout=120_000)
    settle(page)
    snap(page, "evaluate-images")
