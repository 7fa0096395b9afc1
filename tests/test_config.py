"""core.config and the CLI built from it: validation, recipes on disk, 'auto' values, flags over recipes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from core.cli import build_parser, config_from_args
from core.config import DEFAULT_LEARNING_RATES, STRATEGIES, TrainConfig, describe_options
from core.errors import ConfigError


def test_defaults_validate():
    TrainConfig(train="data.csv").validate()


def test_a_training_file_is_required():
    with pytest.raises(ConfigError, match="No training file"):
        TrainConfig().validate()


@pytest.mark.parametrize(("settings", "fragment"), [
    ({"epochs": 0}, "Epochs"),
    ({"learning_rate": 5}, "learning rate"),
    ({"learning_rate": 0.0}, "learning rate"),
    ({"strategy": "everything"}, "Unknown strategy 'everything'"),
    ({"optimizer": "lion"}, "Unknown optimizer"),
    ({"scheduler": "wavy"}, "Unknown scheduler"),
    ({"device": "tpu"}, "Unknown device"),
    ({"early_stopping_metric": "bleu"}, "does not apply"),
    ({"batch_size": 0}, "Batch size"),
    ({"gradient_accumulation": 0}, "Batch size"),
    ({"max_length": 4}, "Max length"),
    ({"validation_size": 0.5}, "shares"),
    ({"test_size": -0.1}, "shares"),
    ({"warmup_ratio": 1.0}, "Warm-up"),
    ({"dropout": 1.0}, "Dropout"),
    ({"label_smoothing": 1.0}, "Label smoothing"),
    ({"augment_copies": -1}, "copies"),
    ({"evaluations_per_epoch": 0}, "Evaluate"),
    ({"lora_r": 0}, "LoRA rank"),
])
def test_invalid_values_raise(settings, fragment):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(train="data.csv", **settings).validate()
    assert fragment in str(caught.value)
    assert caught.value.fix


def test_unknown_augmentation_is_a_config_error():
    with pytest.raises(ConfigError, match="typo_swap"):
        TrainConfig(train="data.csv", augment=["typo_swap"], augment_copies=1).validate()


def test_save_load_round_trip(tmp_path):
    cfg = TrainConfig(train="a.csv", test="b.jsonl", augment=["random_swap"], augment_copies=2, strategy="lora",
                      learning_rate=3e-4, dropout=0.2, max_train_rows=100, normalize_labels=False, epochs=1.5)
    path = tmp_path / "recipe.json"
    cfg.save(path)
    assert json.loads(path.read_text())["recipe_version"] == 1
    assert TrainConfig.load(path) == cfg


def test_unknown_key_in_recipe(tmp_path):
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({"train": "a.csv", "epochz": 3, "learning_rat": 1e-3}))
    with pytest.raises(ConfigError) as caught:
        TrainConfig.load(path)
    assert "epochz" in str(caught.value) and "learning_rat" in str(caught.value)


@pytest.mark.parametrize(("content", "fragment"), [(None, "does not exist"), ("{not json", "not valid JSON"),
                                                   ("[1, 2]", "JSON object")])
def test_bad_recipe_files(tmp_path, content, fragment):
    path = tmp_path / "recipe.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        TrainConfig.load(path)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resolved_fills_learning_rate_per_strategy(strategy):
    cfg = TrainConfig(train="a.csv", strategy=strategy)
    assert cfg.resolved().learning_rate == DEFAULT_LEARNING_RATES[strategy]
    assert cfg.learning_rate is None  # the original is left alone
    assert TrainConfig(train="a.csv", strategy=strategy, learning_rate=7e-5).resolved().learning_rate == 7e-5


def test_every_option_has_help_and_a_group():
    options = describe_options()
    assert [o["name"] for o in options] == [f.name for f in dataclasses.fields(TrainConfig)]
    assert all(o["help"] and o["group"] for o in options)


def test_cli_help_exits_zero_and_mentions_every_option(capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["train", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for option in describe_options():
        assert "--" + option["name"].replace("_", "-") in out, option["name"]
    for flag in ("--config", "--output", "--resume", "--overwrite"):
        assert flag in out


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("train", "status", "stop", "models"))


def test_cli_flags_override_a_recipe(tmp_path):
    recipe = tmp_path / "recipe.json"
    TrainConfig(train="a.csv", epochs=5, batch_size=16, model="some/model", drop_duplicates=True,
                augment=["random_swap"]).save(recipe)
    args = build_parser().parse_args(["train", "--config", str(recipe), "--output", str(tmp_path / "run"),
                                      "--epochs", "2", "--no-drop-duplicates", "--augment", "random_deletion",
                                      "random_insertion", "--learning-rate", "1e-3", "--strategy", "lora"])
    cfg = config_from_args(args)
    assert (cfg.epochs, cfg.drop_duplicates, cfg.learning_rate, cfg.strategy) == (2.0, False, 1e-3, "lora")
    assert cfg.augment == ["random_deletion", "random_insertion"]
    assert (cfg.train, cfg.batch_size, cfg.model) == ("a.csv", 16, "some/model")  # untouched recipe values


def test_cli_without_recipe_uses_defaults(tmp_path):
    args = build_parser().parse_args(["train", "--train", "x.csv", "--output", str(tmp_path / "run")])
    assert config_from_args(args) == TrainConfig(train="x.csv")


def test_cli_resume_reads_the_runs_own_recipe(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(train="a.csv", epochs=7).save(run / "recipe.json")
    args = build_parser().parse_args(["train", "--output", str(run), "--resume", "--batch-size", "4"])
    cfg = config_from_args(args)
    assert (cfg.train, cfg.epochs, cfg.batch_size) == ("a.csv", 7.0, 4)


def test_cli_rejects_a_bad_choice(capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["train", "--output", "o", "--strategy", "everything"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(("rows", "expected"), [(100, 8), (288, 8), (500, 16), (960, 32), (6920, 32)])
def test_auto_batch_size_gives_small_data_enough_steps(rows, expected):
    assert TrainConfig().resolved_for_data(rows).batch_size == expected


def test_explicit_batch_size_is_kept_whatever_the_data():
    assert TrainConfig(batch_size=64).resolved_for_data(100).batch_size == 64


def test_recipe_differences_lists_only_changed_settings():
    from core.workspace import recipe_differences

    a, b = TrainConfig(train="x.csv").to_dict(), TrainConfig(train="x.csv", epochs=5, strategy="lora").to_dict()
    rows = recipe_differences({"a": a, "b": b})
    assert {r["setting"] for r in rows} == {"epochs", "strategy"}
    assert next(r for r in rows if r["setting"] == "epochs") == {"setting": "epochs", "a": "3.0", "b": "5"}
    assert recipe_differences({"a": a, "c": dict(a)}) == []
