"""Every invalid config value gets a message naming the field, the value and what is allowed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckptgui.modeldir.config import (
    ConfigError,
    DataConfig,
    NetworkConfig,
    RunSpec,
    ScheduleConfig,
    parse_devices,
    parse_int_list,
)


def test_defaults_match_dnnclassifier_and_runconfig():
    network, schedule = NetworkConfig(), ScheduleConfig()
    assert network.hidden_units == [10, 10]
    assert (network.optimizer, network.learning_rate, network.batch_size) == ("Adagrad", 0.05, 100)
    assert schedule.save_checkpoints_secs == 600 and schedule.save_checkpoints_steps is None
    assert (schedule.keep_checkpoint_max, schedule.keep_checkpoint_every_n_hours) == (5, 10000)
    assert schedule.save_summary_steps == 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_units": "10,x"}, 'hidden_units: "10,x" is not a list of positive integers (e.g. 10,10)'),
        ({"hidden_units": "10,-1"}, 'hidden_units: "10,-1" is not a list of positive integers (e.g. 10,10)'),
        ({"hidden_units": ""}, 'hidden_units: "" is not a list of positive integers (e.g. 10,10)'),
        ({"hidden_units": [10, 0]}, "hidden_units: [10, 0] is not a list of positive integers (e.g. 10,10)"),
        ({"hidden_units": [1.5]}, "hidden_units: [1.5] is not a list of positive integers (e.g. 10,10)"),
        ({"n_classes": 1}, "n_classes: 1 is not allowed; expected an integer from 2 to 10,000 or empty"),
        (
            {"activation": "swish"},
            'activation: "swish" is not allowed; expected one of relu, tanh, sigmoid, elu, linear',
        ),
        ({"dropout": 1.0}, "dropout: 1.0 is not allowed; expected a number in [0, 1) or empty"),
        ({"optimizer": "Lion"}, 'optimizer: "Lion" is not allowed; expected one of Adagrad, SGD, Adam, RMSprop'),
        ({"learning_rate": 0}, "learning_rate: 0 is not allowed; expected a finite number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate: nan is not allowed; expected a finite number > 0"),
        ({"learning_rate": float("inf")}, "learning_rate: inf is not allowed; expected a finite number > 0"),
        (
            {"n_classes": 1_000_000_000},
            "n_classes: 1000000000 is not allowed; expected an integer from 2 to 10,000 or empty",
        ),
        ({"batch_size": 10_000_000}, "batch_size: 10000000 is not allowed; expected an integer from 1 to 100,000"),
        ({"batch_size": 0}, "batch_size: 0 is not allowed; expected an integer from 1 to 100,000"),
        ({"steps": True}, "steps: True is not allowed; expected an integer >= 1"),
    ],
)
def test_network_validation_messages(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        NetworkConfig(**kwargs)
    assert str(caught.value) == message
    assert caught.value.field == message.split(":")[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"save_checkpoints_secs": 60, "save_checkpoints_steps": 100},
            "save_checkpoints_steps: cannot be set together with save_checkpoints_secs; set exactly one of them",
        ),
        ({"save_checkpoints_steps": 0}, "save_checkpoints_steps: 0 is not allowed; expected an integer >= 1 or empty"),
        (
            {"save_checkpoints_secs": -1},
            "save_checkpoints_secs: -1 is not allowed; expected a finite number > 0 or empty",
        ),
        ({"keep_checkpoint_max": -1}, "keep_checkpoint_max: -1 is not allowed; expected an integer >= 0 or empty"),
        (
            {"keep_checkpoint_every_n_hours": 0},
            "keep_checkpoint_every_n_hours: 0 is not allowed; expected a finite number > 0",
        ),
        ({"save_summary_steps": 0}, "save_summary_steps: 0 is not allowed; expected an integer >= 1"),
    ],
)
def test_schedule_validation_messages(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        ScheduleConfig(**kwargs)
    assert str(caught.value) == message


def test_steps_schedule_clears_the_seconds_default():
    schedule = ScheduleConfig(save_checkpoints_steps=50)
    assert schedule.save_checkpoints_secs is None
    assert ScheduleConfig(keep_checkpoint_max=0).keeps_all and ScheduleConfig(keep_checkpoint_max=None).keeps_all


def test_data_and_unknown_fields_are_named():
    with pytest.raises(ConfigError, match=r"^data: \"\" is not allowed; expected 'iris' or a CSV file path$"):
        DataConfig(source="")
    with pytest.raises(ConfigError, match=r"^hidden_unitz: unknown field; allowed fields are"):
        NetworkConfig.from_dict({"hidden_unitz": [1]})
    with pytest.raises(ConfigError, match=r"^RunSpec: not valid JSON"):
        RunSpec.from_json("{")


def test_parse_int_list_accepts_common_spellings():
    assert parse_int_list("f", "10, 20 30") == [10, 20, 30]
    assert parse_int_list("f", (4,)) == [4]


def test_distribution_defaults_to_the_single_device_path_also_for_older_run_logs():
    assert (RunSpec().distribution, RunSpec().devices) == ("default", [])
    assert RunSpec.from_dict({"seed": 1}).distribution == "default"  # a run log written before distribution existed


def test_device_names_are_normalised():
    assert parse_devices("gpu:0, /device:GPU:1") == ["GPU:0", "GPU:1"]
    assert parse_devices(["/CPU:0", "cpu:1"]) == ["CPU:0", "CPU:1"]
    assert RunSpec(distribution="mirrored", devices="CPU:0,CPU:1").devices == ["CPU:0", "CPU:1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"distribution": "parameter_server"},
            'distribution: "parameter_server" is not allowed; expected one of default, one_device, mirrored, '
            "multi_worker",
        ),
        ({"distribution": "mirrored", "devices": "GPU0"}, 'devices: "GPU0" is not a list of device names'),
        ({"distribution": "mirrored", "devices": [0, 1]}, "devices: [0, 1] is not a list of device names"),
        ({"distribution": "mirrored", "devices": "GPU:0,gpu:0"}, 'devices: "GPU:0,gpu:0" names a device twice'),
        ({"distribution": "one_device", "devices": "GPU:0,GPU:1"}, "devices: one_device takes one device, not 2"),
        ({"devices": "GPU:0"}, "devices: default takes no device list; use one_device or mirrored"),
        ({"distribution": "multi_worker", "devices": "GPU:0"}, "devices: multi_worker takes no device list"),
    ],
)
def test_distribution_validation_messages(kwargs, message):
    with pytest.raises(ConfigError) as info:
        RunSpec(**kwargs)
    assert str(info.value).startswith(message)


specs = st.builds(
    RunSpec,
    network=st.builds(
        NetworkConfig,
        hidden_units=st.lists(st.integers(1, 512), min_size=1, max_size=5),
        n_classes=st.none() | st.integers(2, 50),
        activation=st.sampled_from(["relu", "tanh", "sigmoid", "elu", "linear"]),
        dropout=st.none() | st.floats(0, 0.99),
        optimizer=st.sampled_from(["Adagrad", "SGD", "Adam", "RMSprop"]),
        learning_rate=st.floats(1e-6, 10),
        batch_size=st.integers(1, 10_000),
        steps=st.integers(1, 10**7),
    ),
    schedule=st.one_of(
        st.builds(ScheduleConfig, save_checkpoints_steps=st.integers(1, 10**6), keep_checkpoint_max=st.integers(0, 99)),
        st.builds(ScheduleConfig, save_checkpoints_secs=st.floats(0.01, 1e6)),
    ),
    model_dir=st.none() | st.text(min_size=1, max_size=20).filter(str.strip),
    seed=st.none() | st.integers(0, 2**31 - 1),
    distribution=st.sampled_from(["mirrored", "one_device"]),
    devices=st.sampled_from([[], ["GPU:0"], ["CPU:0"]]),
)


@given(specs)
def test_specs_round_trip_through_json(spec):
    text = spec.to_json()
    assert RunSpec.from_json(text) == spec
    assert json.loads(text)["network"]["hidden_units"] == spec.network.hidden_units


@given(
    st.dictionaries(
        st.sampled_from(["hidden_units", "n_classes", "dropout", "steps", "batch_size"]),
        st.one_of(st.integers(), st.floats(), st.text(), st.none(), st.lists(st.integers())),
    )
)
def test_arbitrary_network_values_validate_or_raise_config_error(values):
    try:
        NetworkConfig.from_dict(values)
    except ConfigError as exc:
        error = exc
    else:
        return
    assert error.field in values


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed: -1 is not allowed; expected an integer from 0 to 2,147,483,647 or empty"),
        ({"seed": 2**66}, f"seed: {2**66} is not allowed; expected an integer from 0 to 2,147,483,647 or empty"),
        ({"model_dir": ""}, 'model_dir: "" is not a directory path; omit it for a new one'),
        ({"model_dir": "  "}, 'model_dir: "  " is not a directory path; omit it for a new one'),
    ],
)
def test_run_spec_validation_messages(kwargs, message):
    with pytest.raises(ConfigError) as info:
        RunSpec(**kwargs)
    assert str(info.value) == message
