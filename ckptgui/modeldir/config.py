"""Run configuration: the network (DNNClassifier's arguments), the checkpoint
schedule (the old ``RunConfig``) and the data source.

Plain dataclasses with no TensorFlow import, so the window and the CLI can
validate a config the moment it is typed. Every invalid value raises
:class:`ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "linear")
OPTIMIZERS = ("Adagrad", "SGD", "Adam", "RMSprop")
# The slots each optimizer keeps per variable, as stored in checkpoints (``…/.OPTIMIZER_SLOT/optimizer/<slot>``).
OPTIMIZER_SLOTS: dict[str, tuple[str, ...]] = {
    "Adagrad": ("accumulator",),
    "SGD": (),
    "Adam": ("m", "v"),
    "RMSprop": ("rms",),
}
# How a run spreads over devices: TensorFlow's own strategies (tf.distribute), named as the CLI spells them.
DISTRIBUTIONS = ("default", "one_device", "mirrored", "multi_worker")
DEVICE_NAME = re.compile(r"^(?:/?(?:device:)?)(CPU|GPU|TPU):(\d+)$", re.IGNORECASE)
BEST_METRICS = ("accuracy", "loss")  # accuracy: higher is better; loss: lower is better
DEFAULT_LEARNING_RATE = 0.05  # DNNClassifier's Adagrad default
# Bounds that keep a typo from becoming an allocation TensorFlow or numpy cannot make: the compiled loop holds
# a 200 x batch_size index block (80 MB at the largest batch); the logits layer is n_classes wide; the seed
# feeds stateless int64 seeds with small offsets added.
MAX_BATCH_SIZE = 100_000
MAX_CLASSES = 10_000
MAX_SEED = 2**31 - 1


class ConfigError(ValueError):
    """A configuration value that is not allowed; ``field`` names where it is."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _describe(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parse_int_list(field_name: str, value: Any) -> list[int]:
    """Accept ``"10,10"``, ``"10 10"`` or ``[10, 10]``; refuse anything else."""
    problem = f"{_describe(value)} is not a list of positive integers (e.g. 10,10)"
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
        if not parts:
            raise ConfigError(field_name, problem)
        try:
            items = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(field_name, problem) from None
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        items = list(value)
        if not items or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            raise ConfigError(field_name, problem)
    else:
        raise ConfigError(field_name, problem)
    if any(i <= 0 for i in items):
        raise ConfigError(field_name, problem)
    return items


def parse_devices(value: Any) -> list[str]:
    """Accept ``"GPU:0,GPU:1"`` or a list of names (``/device:`` optional); returns them as ``GPU:0``, distinct."""
    problem = f"{_describe(value)} is not a list of device names (e.g. GPU:0,GPU:1 or CPU:0,CPU:1)"
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, Mapping | bytes):
        raise ConfigError("devices", problem)
    names = []
    for item in items:
        match = DEVICE_NAME.match(item) if isinstance(item, str) else None
        if match is None:
            raise ConfigError("devices", problem)
        names.append(f"{match.group(1).upper()}:{int(match.group(2))}")
    if len(set(names)) != len(names):
        raise ConfigError("devices", f"{_describe(value)} names a device twice")
    return names


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = False, maximum: int | None = None) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not ok or (maximum is not None and value > maximum):
        allowed = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum:,}"
        raise ConfigError(name, f"{_describe(value)} is not allowed; expected {allowed}" + (" or empty" * allow_none))


def _check_number(name: str, value: Any, *, minimum: float, inclusive: bool, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value >= minimum if inclusive else value > minimum
    if not ok:
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        allowed = f"a finite number {bound}" + (" or empty" if allow_none else "")
        raise ConfigError(name, f"{_describe(value)} is not allowed; expected {allowed}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, f"{_describe(value)} is not allowed; expected one of {', '.join(choices)}")


class _JsonMixin:
    """JSON round-trip for the config dataclasses, refusing unknown keys."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        if not isinstance(data, Mapping):
            raise ConfigError(cls.__name__, f"{_describe(data)} is not a JSON object")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown field; allowed fields are {', '.join(sorted(known))}")
        parts = dict(data)
        for name, part in cls._nested().items():
            if name in parts:
                parts[name] = part.from_dict(parts[name])
        return cls(**parts)

    @classmethod
    def _nested(cls) -> dict[str, type[_JsonMixin]]:
        return {}


@dataclass
class NetworkConfig(_JsonMixin):
    """The DNN classifier: what decides the shapes of every variable."""

    hidden_units: list[int] = field(default_factory=lambda: [10, 10])
    n_classes: int | None = None  # None: taken from the data
    activation: str = "relu"
    dropout: float | None = None
    optimizer: str = "Adagrad"
    learning_rate: float = DEFAULT_LEARNING_RATE
    batch_size: int = 100
    steps: int = 1000

    def __post_init__(self) -> None:
        self.hidden_units = parse_int_list("hidden_units", self.hidden_units)
        _check_int("n_classes", self.n_classes, 2, allow_none=True, maximum=MAX_CLASSES)
        _check_choice("activation", self.activation, ACTIVATIONS)
        if self.dropout is not None:
            ok = isinstance(self.dropout, int | float) and not isinstance(self.dropout, bool)
            if not ok or not 0 <= self.dropout < 1:
                raise ConfigError(
                    "dropout", f"{_describe(self.dropout)} is not allowed; expected a number in [0, 1) or empty"
                )
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_number("learning_rate", self.learning_rate, minimum=0, inclusive=False)
        _check_int("batch_size", self.batch_size, 1, maximum=MAX_BATCH_SIZE)
        _check_int("steps", self.steps, 1)

    def variable_shapes(self, n_features: int, n_classes: int) -> dict[str, list[int]]:
        """The variable names and shapes this network needs, in layer order (no TensorFlow needed)."""
        shapes: dict[str, list[int]] = {}
        width = n_features
        for index, units in enumerate(self.hidden_units):
            shapes[f"dnn/hiddenlayer_{index}/kernel"] = [width, units]
            shapes[f"dnn/hiddenlayer_{index}/bias"] = [units]
            width = units
        shapes["dnn/logits/kernel"] = [width, n_classes]
        shapes["dnn/logits/bias"] = [n_classes]
        return shapes


@dataclass
class ScheduleConfig(_JsonMixin):
    """When to checkpoint and what to keep, as ``tf.estimator.RunConfig`` had it.

    Exactly one of ``save_checkpoints_secs`` / ``save_checkpoints_steps`` is
    set. When neither is given, RunConfig's default of every 600 seconds holds.
    """

    save_checkpoints_secs: float | None = None
    save_checkpoints_steps: int | None = None
    keep_checkpoint_max: int | None = 5  # 0 or None: keep all
    keep_checkpoint_every_n_hours: float = 10000
    save_summary_steps: int = 100
    keep_best_max: int = 0  # also keep the K best checkpoints by best_metric on the test split
    best_metric: str = "accuracy"

    def __post_init__(self) -> None:
        if self.save_checkpoints_secs is not None and self.save_checkpoints_steps is not None:
            raise ConfigError(
                "save_checkpoints_steps",
                "cannot be set together with save_checkpoints_secs; set exactly one of them",
            )
        if self.save_checkpoints_secs is None and self.save_checkpoints_steps is None:
            self.save_checkpoints_secs = 600
        _check_number("save_checkpoints_secs", self.save_checkpoints_secs, minimum=0, inclusive=False, allow_none=True)
        _check_int("save_checkpoints_steps", self.save_checkpoints_steps, 1, allow_none=True)
        _check_int("keep_checkpoint_max", self.keep_checkpoint_max, 0, allow_none=True)
        _check_number("keep_checkpoint_every_n_hours", self.keep_checkpoint_every_n_hours, minimum=0, inclusive=False)
        _check_int("save_summary_steps", self.save_summary_steps, 1)
        _check_int("keep_best_max", self.keep_best_max, 0)
        _check_choice("best_metric", self.best_metric, BEST_METRICS)

    @property
    def keeps_all(self) -> bool:
        return not self.keep_checkpoint_max


@dataclass
class DataConfig(_JsonMixin):
    """``source`` is ``"iris"`` (the bundled copy) or a CSV path."""

    source: str = "iris"
    label_column: str | None = None  # None: "Species" for Iris, else the last column

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError("data", f"{_describe(self.source)} is not allowed; expected 'iris' or a CSV file path")
        if self.label_column is not None and (not isinstance(self.label_column, str) or not self.label_column):
            raise ConfigError("label_column", f"{_describe(self.label_column)} is not a column name")


@dataclass
class RunSpec(_JsonMixin):
    """Everything one train call needs; ``model_dir`` None means a fresh temporary one."""

    network: NetworkConfig = field(default_factory=NetworkConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model_dir: str | None = None
    seed: int | None = None
    # ``default``: one device, XLA; ``one_device``: the device in ``devices`` (or TensorFlow's pick);
    # ``mirrored``: every device in ``devices`` (all GPUs when empty; ``CPU:0,CPU:1`` splits the CPU into
    # logical devices, for testing); ``multi_worker``: the cluster in TF_CONFIG, every local GPU (or the CPU).
    distribution: str = "default"
    devices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.model_dir is not None and (not isinstance(self.model_dir, str) or not self.model_dir.strip()):
            raise ConfigError(
                "model_dir", f"{_describe(self.model_dir)} is not a directory path; omit it for a new one"
            )
        _check_int("seed", self.seed, 0, allow_none=True, maximum=MAX_SEED)
        _check_choice("distribution", self.distribution, DISTRIBUTIONS)
        self.devices = parse_devices(self.devices)
        if self.distribution in ("default", "multi_worker") and self.devices:
            raise ConfigError(
                "devices", f"{self.distribution} takes no device list; use one_device or mirrored to name devices"
            )
        if self.distribution == "one_device" and len(self.devices) > 1:
            raise ConfigError("devices", f"one_device takes one device, not {len(self.devices)}")

    @classmethod
    def _nested(cls) -> dict[str, type[_JsonMixin]]:
        return {"network": NetworkConfig, "schedule": ScheduleConfig, "data": DataConfig}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("RunSpec", f"not valid JSON ({exc})") from None
        return cls.from_dict(data)
