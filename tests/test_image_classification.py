"""Image classification: data sources, checks, augmentation, training (full and frozen), export and the converter."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import TrainConfig
from core.errors import ConfigError, DataError
from core.image_augmentation import build_augmenter, preview_image_augmentations
from core.image_checks import image_findings
from core.image_data import load_image, load_image_split, prepare_image_data, to_rgb
from tests.conftest import SHARED
from tests.image_helpers import COLOURS, make_image, make_image_folder, zip_folder


def image_cfg(train: Path, **extra) -> TrainConfig:
    return TrainConfig(task="image-classification", train=str(train), **extra)


def test_folder_zip_and_csv_give_the_same_rows(image_folder, tmp_path, home):
    folder_rows, _ = load_image_split(str(image_folder), image_cfg(image_folder))
    archive = zip_folder(image_folder, tmp_path / "photos.zip")
    zip_rows, skipped = load_image_split(str(archive), image_cfg(archive))
    table = pd.DataFrame({"path": [str(Path(p).relative_to(image_folder)) for p in folder_rows["image"]],
                          "label": folder_rows["label"]})
    table.to_csv(image_folder / "labels.csv", index=False)
    csv_rows, _ = load_image_split(str(image_folder / "labels.csv"), image_cfg(image_folder / "labels.csv"))
    assert len(folder_rows) == 24 and sorted(folder_rows["label"].unique()) == sorted(COLOURS)
    assert zip_rows["label"].value_counts().to_dict() == folder_rows["label"].value_counts().to_dict()
    assert all(Path(p).is_relative_to(home) for p in zip_rows["image"])  # unpacked in the workspace cache
    assert csv_rows["image"].tolist() == folder_rows["image"].tolist() and skipped == []


def test_csv_paths_may_not_leave_the_table_folder(tmp_path):
    (tmp_path / "data").mkdir()
    make_image((1, 2, 3), 0).save(tmp_path / "secret.png")
    pd.DataFrame({"image": ["../secret.png"], "label": ["a"]}).to_csv(tmp_path / "data" / "t.csv", index=False)
    with pytest.raises(DataError, match="outside"):
        load_image_split(str(tmp_path / "data" / "t.csv"), image_cfg(tmp_path / "data" / "t.csv"))


def test_corrupt_and_non_image_files_are_skipped_with_warnings(image_folder, home):
    (image_folder / "red" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (image_folder / "blue" / "notes.txt").write_text("hello")
    data = prepare_image_data(image_cfg(image_folder))
    text = " ".join(data.warnings)
    assert "broken.jpg" in text and "notes.txt" in text
    assert not any("broken" in p for frame in data.frames.values() for p in frame["image"])
    assert sum(len(f) for f in data.frames.values()) == 24 and data.labels == ["blue", "red"]


def test_a_folder_without_class_folders_is_refused(tmp_path):
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="class sub-folders"):
        load_image_split(str(tmp_path / "flat"), image_cfg(tmp_path / "flat"))


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    image = make_image((200, 40, 40), 0, mode="RGB")
    image = image.convert("I;16") if mode == "I;16" else image.convert(mode)
    path = tmp_path / ("x.tiff" if mode in {"CMYK", "I;16"} else "x.png")
    image.save(path)
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.size == (40, 40)


def test_transparent_pixels_become_white():
    from PIL import Image

    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)


def test_findings_flag_each_problem(image_folder):
    from PIL import Image

    shutil.copy(image_folder / "red" / "0.png", image_folder / "blue" / "copy.png")  # same picture, two classes
    Image.new("RGB", (64, 64), (250, 250, 250)).save(image_folder / "red" / "blank.png")
    make_image((10, 200, 10), 1, size=12).save(image_folder / "red" / "tiny.png")
    make_image((10, 200, 10), 2).convert("L").save(image_folder / "red" / "grey.png")
    (image_folder / "red" / "bad.png").write_bytes(b"\x89PNG broken")
    frame, skipped = load_image_split(str(image_folder), image_cfg(image_folder))
    found = {f.check: f for f in image_findings(frame, skipped + ["readme.txt"])}
    assert {"conflicting_duplicates", "duplicate_images", "placeholder_images", "tiny_images", "non_rgb_images",
            "unreadable_images", "non_image_files"} <= set(found)
    assert found["placeholder_images"].examples == ["red/blank.png"]
    assert found["unreadable_images"].examples == ["red/bad.png"]
    assert found["conflicting_duplicates"].severity == "error"


def test_the_shared_placeholder_is_flagged_and_nothing_else():
    folder = SHARED / "hymenoptera_256" / "train" / "ants"
    if not folder.is_dir():
        pytest.skip("shared hymenoptera data not present")
    frame = pd.DataFrame({"image": [str(p) for p in sorted(folder.glob("*.jpg"))[:40]] +
                          [str(folder / "imageNotFound.jpg")], "label": "ants"})
    found = {f.check: f for f in image_findings(frame)}
    assert found["placeholder_images"].examples == ["ants/imageNotFound.jpg"]


def test_class_imbalance_is_reported():
    frame = pd.DataFrame({"image": ["/nope"] * 24, "label": ["a"] * 20 + ["b"] * 4})
    found = {f.check: f for f in image_findings(frame)}
    assert found["class_imbalance"].severity == "warning" and found["few_images_per_class"].examples == ["b: 4"]


def test_augmentation_is_seeded_and_keeps_labels(image_folder):
    paths = [str(image_folder / "red" / "0.png"), str(image_folder / "blue" / "0.png")]
    first = preview_image_augmentations(paths, ["flip", "rotate", "crop", "color", "blur"], 0.8, seed=3)
    again = preview_image_augmentations(paths, ["flip", "rotate", "crop", "color", "blur"], 0.8, seed=3)
    other = preview_image_augmentations(paths, ["flip", "rotate", "crop", "color", "blur"], 0.8, seed=4)
    arrays = [[np.asarray(a) for a in row["augmented"]] for row in first]
    assert all(np.array_equal(a, np.asarray(b)) for row, again_row in zip(arrays, again, strict=True)
               for a, b in zip(row, again_row["augmented"], strict=True))
    assert not np.array_equal(arrays[0][0], np.asarray(other[0]["augmented"][0]))
    assert not np.array_equal(arrays[0][0], np.asarray(first[0]["original"].resize(arrays[0][0].shape[1::-1])))
    # A colour augmentation must not turn a red picture blue: the label stays true.
    red, blue = (np.asarray(a, dtype=float).mean(axis=(0, 1)) for a in (arrays[0][1], arrays[1][1]))
    assert red[0] > red[2] and blue[2] > blue[0]


def test_unknown_augmentation_and_strength_are_refused():
    with pytest.raises(ConfigError):
        build_augmenter(["sharpen"], 0.5, 32, 0)
    with pytest.raises(ConfigError):
        TrainConfig(task="image-classification", train="x", image_augment=["flip"], image_augment_strength=2).validate()


def run_cli(args: list[str]) -> int:
    from core.cli import main

    return main(["train", "--task", "image-classification", *args])


@pytest.mark.parametrize("strategy", ["full", "frozen"])
def test_training_end_to_end_exports_a_pipeline_model(strategy, image_folder, tiny_image_model_dir, tmp_path, home):
    from core.inference import load_predictor, model_task, predict_images

    archive = zip_folder(image_folder, tmp_path / "photos.zip")
    output = tmp_path / f"run-{strategy}"
    code = run_cli(["--train", str(archive), "--model", str(tiny_image_model_dir), "--strategy", strategy,
                    "--epochs", "2", "--batch-size", "8", "--output", str(output), "--image-augment", "flip", "crop",
                    "--evaluations-per-epoch", "1", "--test-size", "0.2"])
    assert code == 0
    metrics = json.loads((output / "metrics.json").read_text())
    report = json.loads((output / "report.json").read_text())
    assert {"accuracy", "f1_macro"} <= set(metrics) and metrics["test_rows"] == 5
    assert report["labels"] == ["blue", "red"] and np.asarray(report["confusion_matrix"]).sum() == 5
    assert "majority_class" in report["baselines"]
    predictions = pd.read_csv(output / "predictions.csv")
    assert list(predictions.columns[:3]) == ["image", "label", "predicted"]
    assert model_task(output / "model") == "image-classification"
    scores = predict_images(load_predictor(output / "model"), [predictions["image"][0], make_image((9, 9, 9), 0)])
    assert [set(s) for s in scores] == [{"blue", "red"}] * 2
    assert abs(sum(scores[0].values()) - 1) < 1e-4
    from core import predict

    assert predict(output, predictions["image"][0]) == [scores[0]]  # the Python API takes a run folder
    assert "image-classification" in (output / "model" / "README.md").read_text()
    with zipfile.ZipFile(output / "model.zip") as bundle:
        assert "model/preprocessor_config.json" in bundle.namelist()


def test_frozen_training_changes_only_the_head(image_folder, tiny_image_model_dir, tmp_path, home):
    from safetensors.torch import load_file

    output = tmp_path / "run"
    assert run_cli(["--train", str(image_folder), "--model", str(tiny_image_model_dir), "--strategy", "frozen",
                    "--epochs", "1", "--output", str(output), "--learning-rate", "0.05", "--image-size", "24"]) == 0
    before = load_file(tiny_image_model_dir / "model.safetensors")
    after = load_file(output / "model" / "model.safetensors")
    backbone = [k for k in before if k.startswith("mobilenet_v2.") and "num_batches" not in k]
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in backbone)
    assert after["classifier.weight"].shape[0] == 2
    assert list((home / "cache" / "features").glob("img*.npy"))  # features were cached for reuse
    processor = json.loads((output / "model" / "preprocessor_config.json").read_text())
    assert processor["crop_size"] == {"height": 24, "width": 24} and processor["size"] == {"shortest_edge": 27}


def test_lora_adapts_the_dense_convolutions_and_exports_a_plain_model(image_folder, tiny_image_model_dir, tmp_path,
                                                                     home):
    from safetensors.torch import load_file
    from torch import nn
    from transformers import AutoModelForImageClassification

    from core.inference import load_predictor, predict_images

    output = tmp_path / "run"
    assert run_cli(["--train", str(image_folder), "--model", str(tiny_image_model_dir), "--strategy", "lora",
                    "--epochs", "1", "--output", str(output), "--learning-rate", "0.05"]) == 0
    convolutions = {f"{name}.weight": module.groups > 1 for name, module in
                    AutoModelForImageClassification.from_pretrained(tiny_image_model_dir).named_modules()
                    if isinstance(module, nn.Conv2d)}
    before = load_file(tiny_image_model_dir / "model.safetensors")
    after = load_file(output / "model" / "model.safetensors")
    assert set(after) == set(before), "the export is a plain model: adapters merged, no lora keys"
    changed = {key for key in convolutions if not np.array_equal(before[key].numpy(), after[key].numpy())}
    assert changed and all(not convolutions[key] for key in changed), "only dense convolutions adapt"
    assert after["classifier.weight"].shape[0] == 2
    scores = predict_images(load_predictor(output / "model"), [make_image((200, 40, 40), 0)])
    assert set(scores[0]) == {"blue", "red"}


def test_lora_targets_of_a_vision_transformer():
    from transformers import ViTConfig, ViTForImageClassification

    from core.modeling import image_lora_targets

    config = ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                       image_size=32, patch_size=8, num_labels=3)
    targets = image_lora_targets(ViTForImageClassification(config))
    assert "vit.layers.0.attention.q_proj" in targets["target_modules"]
    assert "vit.embeddings.patch_embeddings.projection" in targets["target_modules"]
    assert targets["modules_to_save"] == ["classifier"]
    assert not any(name.startswith("classifier") for name in targets["target_modules"])


def test_training_reports_a_data_error_for_one_class(tmp_path, tiny_image_model_dir, home):
    make_image_folder(tmp_path / "one", per_class=6)
    shutil.rmtree(tmp_path / "one" / "blue")
    assert run_cli(["--train", str(tmp_path / "one"), "--model", str(tiny_image_model_dir),
                    "--output", str(tmp_path / "run")]) != 0
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and "only one class" in status["message"]


def test_converter_maps_every_torchvision_key():
    from core.mobilenet import rename_key

    names = ["features.0.0.weight", "features.1.conv.1.weight", "features.2.conv.0.1.running_var",
             "features.17.conv.3.bias", "features.18.1.weight", "classifier.1.bias"]
    assert [rename_key(n) for n in names] == [
        "mobilenet_v2.conv_stem.first_conv.convolution.weight",
        "mobilenet_v2.conv_stem.reduce_1x1.convolution.weight",
        "mobilenet_v2.layer.0.expand_1x1.normalization.running_var",
        "mobilenet_v2.layer.15.reduce_1x1.normalization.bias",
        "mobilenet_v2.conv_1x1.normalization.weight", "classifier.bias"]
    with pytest.raises(Exception, match="not a torchvision"):
        rename_key("features.19.conv.0.weight")


@pytest.mark.slow
def test_real_mobilenet_converts_classifies_a_bee_and_fine_tunes(tmp_path, home):
    from transformers import pipeline

    from core.catalogue import resolve_model

    data = SHARED / "hymenoptera_256"
    location, source = resolve_model("mobilenet-v2-imagenet")
    assert source == "converted" and Path(location).is_relative_to(home)
    classify = pipeline("image-classification", model=location, device="cpu")
    bees = sorted((data / "val" / "bees").glob("*.jpg"))[:5]
    top = [r[0]["label"] for r in classify([str(p) for p in bees], top_k=1)]
    assert top.count("bee") >= 3, top
    small = tmp_path / "small"
    for split, per_class in (("train", 12), ("val", 6)):
        for name in ("ants", "bees"):
            (small / split / name).mkdir(parents=True)
            for file in sorted((data / split / name).glob("*.jpg"))[:per_class]:
                shutil.copy(file, small / split / name / file.name)
    output = tmp_path / "run"
    assert run_cli(["--train", str(small / "train"), "--validation", str(small / "val"), "--test", str(small / "val"),
                    "--model", "mobilenet-v2-imagenet", "--strategy", "frozen", "--epochs", "10",
                    "--output", str(output)]) == 0
    assert json.loads((output / "metrics.json").read_text())["accuracy"] >= 0.75
