"""Which devices and machines a run trains on: TensorFlow's own ``tf.distribute`` strategies, nothing home-made.

``default`` is the single-device path (XLA). ``one_device`` is ``OneDeviceStrategy`` (XLA). ``mirrored`` is
``MirroredStrategy`` over the named devices: every local GPU when none are named, and ``CPU:0,CPU:1`` splits
the CPU into logical devices (for testing on a machine without GPUs). ``multi_worker`` is
``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``; only its chief writes to the model_dir.

Facts this relies on (TensorFlow 2.21):

* A ``MirroredVariable`` updated in the replica context needs an aggregation; ``ONLY_FIRST_REPLICA`` applies
  replica 0's update to every copy. The copies stay equal because every replica applies the same all-reduced
  gradient (:meth:`ckptgui.engine.model.Classifier.train_step`). The checkpoint stores one copy under the
  same key as a single-device variable, so model_dirs resume across distributions both ways.
* XLA around ``strategy.run`` over several devices fails (a resource on CPU:1 read from CPU:0), and XLA with
  collectives on CPU fails too; only ``default`` and ``one_device`` compile with XLA.
* Logical CPU devices can only be made before TensorFlow's runtime starts, and ``MultiWorkerMirroredStrategy``
  must be made before any other TensorFlow op; so the strategy is made when the trainer is built, and made
  once per process.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from ckptgui.modeldir.config import ConfigError

COMPILED = ("default", "one_device")  # the distributions whose training loop XLA may compile


@dataclass(frozen=True)
class Distribution:
    """The strategy a run trains under (None: the default path) and this process's place in the cluster."""

    name: str
    strategy: tf.distribute.Strategy | None
    devices: tuple[str, ...]
    is_chief: bool = True
    worker: str = ""  # "worker 0 of 2, the chief" or "worker 1 of 2" under multi_worker

    @property
    def replicas(self) -> int:
        """Replicas in sync over the whole cluster: the global batch is split into this many shares."""
        return self.strategy.num_replicas_in_sync if self.strategy is not None else 1

    @property
    def jit_allowed(self) -> bool:
        return self.name in COMPILED

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Where the model's variables are made: mirrored ones that replica-context updates may write."""
        if self.strategy is None:
            yield
            return
        with self.strategy.scope(), tf.variable_creator_scope(_first_replica_updates):
            yield

    def common_seed(self, seed: int | None) -> int | None:
        """The batch-order seed: ``seed``, or under multi_worker one drawn by worker 0 that every worker takes.

        Every worker draws the same global batches and trains on its share of each; with a seed of its own
        each would draw others. (Initial weights need no agreement: the strategy broadcasts worker 0's.)
        """
        if seed is not None or self.name != "multi_worker":
            return seed
        drawn = int(np.random.default_rng().integers(2**31))

        def worker_0_draw() -> tf.Tensor:
            first = tf.distribute.get_replica_context().replica_id_in_sync_group == 0
            return tf.where(first, tf.constant(drawn, tf.int64), tf.constant(0, tf.int64))

        return int(self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(worker_0_draw), axis=None))

    def describe(self) -> dict[str, Any]:
        """What the run log records about it."""
        described: dict[str, Any] = {"name": self.name, "devices": list(self.devices), "replicas": self.replicas}
        if self.worker:
            described["worker"] = self.worker
        return described


SINGLE_DEVICE = Distribution("default", None, ())


def _first_replica_updates(next_creator: Any, **kwargs: Any) -> tf.Variable:
    kwargs["aggregation"] = tf.VariableAggregation.ONLY_FIRST_REPLICA
    return next_creator(**kwargs)


_MADE: dict[tuple[str, tuple[str, ...]], Distribution] = {}


def distribution_for(name: str, devices: list[str]) -> Distribution:
    """The distribution ``name`` over ``devices`` (names as :func:`ckptgui.modeldir.config.parse_devices` gives).

    Made once per process and reused: a second ``MultiWorkerMirroredStrategy`` in one process is refused by
    TensorFlow, and the window trains again and again. Raises ConfigError naming what cannot be had here.
    """
    key = (name, tuple(devices))
    if key not in _MADE:
        _MADE[key] = _make(name, list(devices))
    return _MADE[key]


def _make(name: str, devices: list[str]) -> Distribution:
    if name == "default":
        return SINGLE_DEVICE
    if name == "multi_worker":
        return _multi_worker()
    _split_cpu(devices)
    seen = visible_devices()
    missing = [device for device in devices if device not in seen]
    if missing:
        raise ConfigError(
            "devices", f"{', '.join(missing)}: not a device TensorFlow sees here (it sees {', '.join(seen)})"
        )
    gpus = [device for device in seen if device.startswith("GPU:")]
    if name == "one_device":
        chosen = devices or [gpus[0] if gpus else "CPU:0"]
        return Distribution(name, tf.distribute.OneDeviceStrategy(chosen[0]), tuple(chosen))
    chosen = devices or gpus or ["CPU:0"]
    return Distribution(name, tf.distribute.MirroredStrategy(chosen), tuple(chosen))


def visible_devices() -> list[str]:
    """The devices TensorFlow sees in this process, as ``CPU:0``, ``GPU:1``."""
    return [device.name.removeprefix("/device:") for device in tf.config.list_logical_devices()]


def describe_devices() -> list[tuple[str, str]]:
    """The devices TensorFlow sees and what each is (a GPU's model name, where TensorFlow knows it)."""
    gpus = tf.config.list_physical_devices("GPU")
    described = []
    for name in visible_devices():
        kind, index = name.split(":")
        detail = ""
        if kind == "GPU" and int(index) < len(gpus):
            with contextlib.suppress(Exception):  # details are a nicety; some builds or drivers give none
                detail = str(tf.config.experimental.get_device_details(gpus[int(index)]).get("device_name", ""))
        described.append((name, detail))
    return described


def _split_cpu(devices: list[str]) -> None:
    """Make the logical CPU devices ``devices`` names (``CPU:1`` needs two), while TensorFlow still allows it."""
    wanted = 1 + max((int(device.split(":")[1]) for device in devices if device.startswith("CPU:")), default=0)
    if wanted == 1:
        return
    # Once the runtime has started this raises, and the split it started with is the one there is.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * wanted
        )
    have = len(tf.config.list_logical_devices("CPU"))
    if have < wanted:
        raise ConfigError(
            "devices",
            f"CPU:{wanted - 1} needs {wanted} logical CPU devices, but TensorFlow already started with {have}; "
            "CPU devices can only be split in a fresh process (e.g. ckptgui train --distribution mirrored "
            "--devices CPU:0,CPU:1)",
        )


def _multi_worker() -> Distribution:
    """``MultiWorkerMirroredStrategy`` over TF_CONFIG's cluster, RING collectives (the ones CPUs have)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError(
            "distribution", "multi_worker reads its cluster from TF_CONFIG, which is not set in this process"
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        task_type, task_id = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError("distribution", f"TF_CONFIG is not a cluster and task ({exc})") from None
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    # The chief is the "chief" task, or worker 0 when the cluster names none (TensorFlow's own rule).
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster)
    workers = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    worker = f"{task_type} {task_id} of {workers}" + (", the chief" if is_chief else "")
    devices = tuple(device for device in visible_devices() if device.startswith("GPU:")) or ("CPU:0",)
    return Distribution("multi_worker", strategy, devices, is_chief=is_chief, worker=worker)
