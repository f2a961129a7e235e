"""``ckptgui train``: train headless into a model_dir with Estimator's checkpoint schedule."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import fields, replace

from ckptgui.cli import UsageError
from ckptgui.modeldir.config import (
    ACTIVATIONS,
    BEST_METRICS,
    DEFAULT_LEARNING_RATE,
    DISTRIBUTIONS,
    OPTIMIZERS,
    ConfigError,
    NetworkConfig,
    RunSpec,
    ScheduleConfig,
    parse_devices,
)
from ckptgui.modeldir.data import DataError
from ckptgui.modeldir.records import RunLogError, read_run_log
from ckptgui.storage import expand_path, storage_for

EXIT_FAILED = 1
EXIT_INCOMPATIBLE = 3


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse ``type`` taking a choice in any case (``adam`` is ``Adam``); anything else passes on unchanged,
    for the config to refuse with its list of what is allowed."""
    by_lower = {choice.lower(): choice for choice in choices}
    return lambda text: by_lower.get(text.lower(), text)


def add_network_arguments(parser: argparse.ArgumentParser, *, training: bool = True) -> None:
    """The network flags: all of them for ``train``, those that decide the variables for ``check``.

    Every flag defaults to None, "not given": :func:`spec_from_flags` fills it from the base spec (for ``train``
    on a model_dir with a stored spec, that spec's value; else the default the help states).
    """
    group = parser.add_argument_group("network (DNNClassifier)")
    group.add_argument("--hidden-units", help="comma-separated layer widths (default 10,10)")
    group.add_argument("--n-classes", type=int, help="number of classes (default: from the data)")
    group.add_argument(
        "--activation", type=one_of(ACTIVATIONS), help=f"{', '.join(ACTIVATIONS)}, any case (default relu)"
    )
    group.add_argument(
        "--optimizer", type=one_of(OPTIMIZERS), help=f"{', '.join(OPTIMIZERS)}, any case (default Adagrad)"
    )
    if training:
        group.add_argument("--dropout", type=float, help="dropout rate in [0, 1) on hidden layers (default none)")
        group.add_argument("--learning-rate", type=float, help=f"(default {DEFAULT_LEARNING_RATE})")
        group.add_argument("--batch-size", type=int, help="(default 100)")
        group.add_argument("--steps", type=int, help="steps to train in this call (default 1000)")
    group.add_argument("--data", help="'iris' (bundled) or a CSV file (default iris)")
    group.add_argument("--label-column", help="label column of a CSV with a header (default: the last column)")


# Each flag that sets a RunSpec field: its dest -> (the part of the spec, the field; part None: the spec itself).
SPEC_FLAGS: dict[str, tuple[str | None, str]] = {
    **{name: ("network", name) for name in (f.name for f in fields(NetworkConfig))},
    "data": ("data", "source"),
    "label_column": ("data", "label_column"),
    **{name: ("schedule", name) for name in (f.name for f in fields(ScheduleConfig))},
    "seed": (None, "seed"),
}


def spec_from_flags(args: argparse.Namespace, base: RunSpec) -> tuple[RunSpec, list[str]]:
    """``base`` with every flag given in ``args`` in place of its value; also the flags ``base`` supplied.

    Those are named as flags with the value (``--hidden-units 20,20``), only where it differs from the default,
    so that a user sees what a bare call will do differently from a fresh model_dir.
    """
    parts = base.to_dict()
    given = {dest for dest in SPEC_FLAGS if getattr(args, dest, None) is not None}
    if given & {"save_checkpoints_steps", "save_checkpoints_secs"}:
        given |= {"save_checkpoints_steps", "save_checkpoints_secs"}  # one schedule replaces the other
    if "data" in given:
        given.add("label_column")  # the stored label column belongs to the stored data
    for dest in given:
        part, name = SPEC_FLAGS[dest]
        (parts if part is None else parts[part])[name] = getattr(args, dest, None)
    spec = RunSpec.from_dict(parts)
    default = RunSpec().to_dict()
    inherited = []
    for dest, (part, name) in SPEC_FLAGS.items():
        value = parts[name] if part is None else parts[part][name]
        stock = default[name] if part is None else default[part][name]
        if dest not in given and hasattr(args, dest) and value is not None and value != stock:
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            inherited.append(f"--{dest.replace('_', '-')} {shown}")
    return spec, inherited


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a DNN classifier headless, checkpointing as Estimator did",
        description="Train into MODEL_DIR (a fresh temporary one if omitted). A later call on the same "
        "model_dir resumes from its latest checkpoint, continues the global step, and takes every value it is not "
        "given from the spec the last call stored there (ckptgui_run.json), as the window does; the defaults below "
        "are those of a new model_dir.",
    )
    parser.add_argument("--model-dir", help="where checkpoints go (default: a fresh temporary directory)")
    add_network_arguments(parser)
    schedule = parser.add_argument_group("checkpoint schedule (RunConfig)")
    when = schedule.add_mutually_exclusive_group()
    when.add_argument("--save-checkpoints-steps", type=int, help="checkpoint every N steps")
    when.add_argument("--save-checkpoints-secs", type=float, help="checkpoint every S seconds (default 600)")
    schedule.add_argument("--keep-checkpoint-max", type=int, help="0 keeps all (default 5)")
    schedule.add_argument("--keep-checkpoint-every-n-hours", type=float, help="(default 10000)")
    schedule.add_argument("--save-summary-steps", type=int, help="(default 100)")
    schedule.add_argument(
        "--keep-best-max", type=int, help="also keep the K best checkpoints by --best-metric (default 0)"
    )
    schedule.add_argument(
        "--best-metric",
        type=one_of(BEST_METRICS),
        help="accuracy (higher wins) or loss (lower wins), on the test split (default accuracy)",
    )
    devices = parser.add_argument_group("devices (tf.distribute)")
    devices.add_argument(
        "--distribution",
        default="default",
        choices=DISTRIBUTIONS,
        help="default: one device, XLA; one_device: the device in --devices; mirrored: every device in --devices "
        "(all GPUs when omitted); multi_worker: the cluster in TF_CONFIG, only the chief writes (default default)",
    )
    devices.add_argument(
        "--devices",
        default="",
        help="comma-separated device names, e.g. GPU:0,GPU:1; CPU:0,CPU:1 splits the CPU into two logical devices",
    )
    parser.add_argument("--seed", type=int, help="random seed for initial weights and batch order")
    parser.add_argument("--warm-start-from", help="checkpoint prefix whose variables that fit are loaded first")
    parser.add_argument("--quiet", action="store_true", help="print only the model_dir and the outcome")
    parser.set_defaults(func=_run)


def _spec_from_args(args: argparse.Namespace) -> tuple[RunSpec, list[str]]:
    """The spec of this call, and the flags the model_dir's stored spec supplied (where to run is never stored:
    the distribution and devices are this call's)."""
    model_dir = expand_path(args.model_dir) if args.model_dir else None
    found = storage_for(model_dir).info(model_dir) if model_dir else None
    try:
        # Not a folder (yet): nothing is stored; the trainer refuses a model_dir that is a file.
        log = read_run_log(model_dir) if found is not None and found.is_dir else None
    except RunLogError as exc:
        raise UsageError(f"{exc}; move it away to start the model_dir afresh") from None
    if log is not None and log.spec is None and log.spec_problem:
        print(f"note: the spec stored in the model_dir is not used: {log.spec_problem}")
    base = log.spec if log is not None and log.spec is not None else RunSpec()
    try:
        spec, inherited = spec_from_flags(args, base)
        return replace(
            spec, model_dir=args.model_dir, distribution=args.distribution, devices=parse_devices(args.devices)
        ), inherited
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    spec, inherited = _spec_from_args(args)
    from ckptgui.engine.training import (  # loads TensorFlow: only when training, so --help stays instant
        CheckpointDeleted,
        CheckpointSaved,
        Evaluated,
        Failed,
        Finished,
        IncompatibleCheckpointError,
        Progress,
        Started,
        Trainer,
        TrainingError,
    )

    try:
        trainer = Trainer(spec, warm_start_from=args.warm_start_from)
    except (ConfigError, DataError, RunLogError) as exc:
        raise UsageError(str(exc)) from None
    except IncompatibleCheckpointError as exc:
        print(f"ckptgui train: {exc}", file=sys.stderr)
        for remedy in exc.report.remedies:
            print(f"  - {remedy}", file=sys.stderr)
        return EXIT_INCOMPATIBLE
    except TrainingError as exc:  # another trainer holds the model_dir, or its newest checkpoint is unreadable
        print(f"ckptgui train: {exc}", file=sys.stderr)
        return EXIT_FAILED

    def stop_on_signal(signum: int, frame: object) -> None:
        """Ctrl-C and SIGTERM (kill, Docker, systemd, SLURM): a final checkpoint at the step reached, within
        one chunk of steps; the same signal again ends the process at once."""
        again = "press Ctrl-C again" if signum == signal.SIGINT else "send SIGTERM again"
        print(f"\nstopping: writing a final checkpoint ({again} to abort)", file=sys.stderr)
        trainer.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {sig: signal.signal(sig, stop_on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    last_print = 0.0
    try:
        for event in trainer.events():
            if isinstance(event, Started):
                resumed = f", resuming from {event.resumed_from}" if event.resumed_from else ""
                print(f"model_dir: {event.model_dir}")
                print(f"training steps {event.start_step} -> {event.target_step}{resumed}")
                if trainer.distribution.strategy is not None:
                    print(f"distribution: {_describe_distribution(trainer.distribution.describe())}")
                if inherited:
                    print(f"from the spec stored in the model_dir: {' '.join(inherited)}")
                for note in event.notes:
                    print(f"note: {note}")
            elif isinstance(event, Progress) and not args.quiet:
                now = time.monotonic()
                if now - last_print >= 1.0 or event.step == event.target_step:
                    last_print = now
                    print(
                        f"step {event.step}/{event.target_step}  loss {event.loss:.4f}  "
                        f"accuracy {event.accuracy:.3f}  {event.steps_per_sec:,.0f} steps/s"
                    )
            elif isinstance(event, CheckpointSaved):
                if not args.quiet:
                    print(f"saved {event.prefix}")
                if event.note:
                    print(f"note: {event.note}", file=sys.stderr)
            elif isinstance(event, CheckpointDeleted) and not args.quiet:
                print(f"deleted {event.prefix} (keep_checkpoint_max)")
            elif isinstance(event, Evaluated) and not args.quiet and event.metrics:
                print("eval " + "  ".join(f"{k} {v:.4f}" for k, v in event.metrics.items()))
            elif isinstance(event, Failed):
                print(f"ckptgui train: {event.message}", file=sys.stderr)
                return EXIT_FAILED
            elif isinstance(event, Finished):
                how = "stopped" if event.stopped else "finished"
                print(f"{how} at step {event.step}; model_dir: {trainer.destination}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        trainer.close()
    return 0


def _describe_distribution(described: dict) -> str:
    """``mirrored over CPU:0, CPU:1 (2 replicas)``, and which worker this is under multi_worker."""
    text = f"{described['name']} over {', '.join(described['devices'])} ({described['replicas']} replicas)"
    return f"{text}, {described['worker']}" if "worker" in described else text
