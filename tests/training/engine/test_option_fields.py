"""One source of truth for options: every config field is a CLI flag of its own name, with its bounds."""

from __future__ import annotations

import dataclasses
import json

import pytest

from training.engine.cli import _train_config, build_parser
from training.engine.config import NetworkConfig
from training.engine.option_fields import field_specs, option_specs
from training.engine.options import TrainConfig


def _train_args(*flags: str):
    return build_parser().parse_args(["train", "--data", "d.pack", "--run-dir", "run", *flags])


def test_every_config_field_is_a_flag_named_after_it():
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    names = {f.name for f in dataclasses.fields(NetworkConfig)} | {
        f.name for f in dataclasses.fields(TrainConfig) if f.name != "network"
    }
    for name in names:
        assert "--" + name.replace("_", "-") in help_text, name
    for renamed in ("--snap", "--glr", "--dlr", "--gamma", "--tick ", "--kimg ", "--keep "):
        assert renamed not in help_text
    assert {s.name for s in option_specs()} == names


def test_flags_override_a_config_file(tmp_path):
    base = TrainConfig(network=NetworkConfig(resolution=64), batch_size=8, r1_gamma=2.0).to_dict()
    path = tmp_path / "base.json"
    path.write_text(json.dumps(base))
    flags = ["--config", str(path), "--channel-max", "64", "--checkpoint-kimg", "3"]
    config = _train_config(_train_args(*flags, "--no-ada", "--mirror", "--r1-gamma", "none"))
    assert config.network.resolution == 64 and config.network.channel_max == 64
    assert config.batch_size == 8 and config.checkpoint_kimg == 3.0
    assert config.ada is False and config.mirror is True
    assert config.r1_gamma is None, "'none' restores the automatic R1 weight"


def test_a_new_field_becomes_a_flag_without_touching_the_cli():
    @dataclasses.dataclass
    class Extended(NetworkConfig):
        fancy_blur: int = 3  # declared with no metadata at all

    specs = {s.name: s for s in field_specs(Extended, "network")}
    assert specs["fancy_blur"].kind is int and specs["fancy_blur"].default == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": 99999999999999999999999}, r"TrainConfig\.seed=.* must be between 0 and 2147483647"),
        ({"total_kimg": 1e308}, r"TrainConfig\.total_kimg=1e\+308 must be between 0\.001 and 100000"),
        ({"batch_size": 4096}, r"TrainConfig\.batch_size=4096 must be between 1 and 1024"),
        ({"network": {"channel_base": 10**9}}, r"NetworkConfig\.channel_base=1000000000 must be between"),
    ],
)
def test_the_engine_refuses_numbers_outside_their_bounds(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict({**TrainConfig().to_dict(), **changes})


def test_cli_rejects_a_bad_number_naming_the_flag(capsys):
    with pytest.raises(SystemExit):
        _train_args("--batch-size", "four")
    assert "--batch-size: 'four' is not a whole number" in capsys.readouterr().err
