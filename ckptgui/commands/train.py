"""``ckptgui train``: train headless into a model_dir with Estimator's checkpoint schedule."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from ckptgui.cli import UsageError
from ckptgui.modeldir.config import (
    DISTRIBUTIONS,
    ConfigError,
    DataConfig,
    NetworkConfig,
    RunSpec,
    ScheduleConfig,
    parse_devices,
    parse_int_list,
)
from ckptgui.modeldir.data import DataError
from ckptgui.modeldir.records import RunLogError

EXIT_FAILED = 1
EXIT_INCOMPATIBLE = 3


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """The network flags, shared by ``train`` and ``check``."""
    group = parser.add_argument_group("network (DNNClassifier)")
    group.add_argument("--hidden-units", default="10,10", help="comma-separated layer widths (default 10,10)")
    group.add_argument("--n-classes", type=int, help="number of classes (default: from the data)")
    group.add_argument("--activation", default="relu", help="relu, tanh, sigmoid, elu or linear (default relu)")
    group.add_argument("--dropout", type=float, help="dropout rate in [0, 1) on hidden layers (default none)")
    group.add_argument("--optimizer", default="Adagrad", help="Adagrad, SGD, Adam or RMSprop (default Adagrad)")
    group.add_argument("--learning-rate", type=float, default=0.05, help="(default 0.05)")
    group.add_argument("--batch-size", type=int, default=100, help="(default 100)")
    group.add_argument("--steps", type=int, default=1000, help="steps to train in this call (default 1000)")
    group.add_argument("--data", default="iris", help="'iris' (bundled) or a CSV file (default iris)")
    group.add_argument("--label-column", help="label column of a CSV with a header (default: the last column)")


def network_from_args(args: argparse.Namespace) -> NetworkConfig:
    return NetworkConfig(
        hidden_units=parse_int_list("hidden_units", args.hidden_units),
        n_classes=args.n_classes,
        activation=args.activation,
        dropout=args.dropout,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        steps=args.steps,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a DNN classifier headless, checkpointing as Estimator did",
        description="Train into MODEL_DIR (a fresh temporary one if omitted). A later call on the same "
        "model_dir resumes from its latest checkpoint and continues the global step.",
    )
    parser.add_argument("--model-dir", help="where checkpoints go (default: a fresh temporary directory)")
    add_network_arguments(parser)
    schedule = parser.add_argument_group("checkpoint schedule (RunConfig)")
    when = schedule.add_mutually_exclusive_group()
    when.add_argument("--save-checkpoints-steps", type=int, help="checkpoint every N steps")
    when.add_argument("--save-checkpoints-secs", type=float, help="checkpoint every S seconds (default 600)")
    schedule.add_argument("--keep-checkpoint-max", type=int, default=5, help="0 keeps all (default 5)")
    schedule.add_argument("--keep-checkpoint-every-n-hours", type=float, default=10000, help="(default 10000)")
    schedule.add_argument("--save-summary-steps", type=int, default=100, help="(default 100)")
    schedule.add_argument(
        "--keep-best-max", type=int, default=0, help="also keep the K best checkpoints by --best-metric (default 0)"
    )
    schedule.add_argument(
        "--best-metric", default="accuracy", help="accuracy (higher wins) or loss (lower wins), on the test split"
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


def _spec_from_args(args: argparse.Namespace) -> RunSpec:
    try:
        return RunSpec(
            network=network_from_args(args),
            schedule=ScheduleConfig(
                save_checkpoints_secs=args.save_checkpoints_secs,
                save_checkpoints_steps=args.save_checkpoints_steps,
                keep_checkpoint_max=args.keep_checkpoint_max,
                keep_checkpoint_every_n_hours=args.keep_checkpoint_every_n_hours,
                save_summary_steps=args.save_summary_steps,
                keep_best_max=args.keep_best_max,
                best_metric=args.best_metric,
            ),
            data=DataConfig(source=args.data, label_column=args.label_column),
            model_dir=args.model_dir,
            seed=args.seed,
            distribution=args.distribution,
            devices=parse_devices(args.devices),
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    spec = _spec_from_args(args)
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
