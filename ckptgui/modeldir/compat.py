"""Does a network config fit a checkpoint, and how do two checkpoints differ in what they hold?

TF 2.15's Estimator, asked for hidden_units [20, 20] on a model_dir trained
with [10, 10], silently trained on with the checkpoint's shapes;
so the answer comes from our own comparison of shapes, before any restore:
every variable the network needs against what is stored, a one-line summary
a person understands at once, and the ways out. The training engine runs
:func:`check` before every resume and shows :meth:`CompatReport.message`.

Reads only the checkpoint's index (no tensor data, no TensorFlow import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ckptgui.modeldir.config import OPTIMIZER_SLOTS, NetworkConfig
from ckptgui.modeldir.records import RunLogError, read_run_log
from ckptgui.modeldir.scan import locate
from ckptgui.modeldir.variables import InferredNetwork, infer_network, list_variables, model_weights
from ckptgui.storage import parent_of

NETWORK_DTYPE = "float32"


@dataclass
class Mismatch:
    variable: str
    expected: list[int] | None  # the config's shape (check) or A's (compare); None: not expected
    found: list[int] | None  # the checkpoint's shape (check) or B's (compare); None: not stored
    kind: str  # "shape" | "missing" | "unexpected" | "dtype"
    detail: str = ""  # for "dtype": both dtypes

    def describe(
        self, expected_label: str = "config", found_label: str = "checkpoint", found_first: bool = True
    ) -> str:
        if self.kind == "missing":
            return f"{self.variable}: not in {_the(found_label)}; {expected_label} {self.expected}"
        if self.kind == "unexpected":
            return f"{self.variable}: {found_label} {self.found}, not in {_the(expected_label)}"
        if self.kind == "dtype":
            return f"{self.variable}: {self.detail}"
        found, expected = f"{found_label} {self.found}", f"{expected_label} {self.expected}"
        return f"{self.variable}: {found}, {expected}" if found_first else f"{self.variable}: {expected}, {found}"


def _the(label: str) -> str:
    return label if len(label) == 1 else f"the {label}"  # "the checkpoint", but "B"


@dataclass
class CompatReport:
    compatible: bool
    mismatches: list[Mismatch]
    summary: str  # one line
    remedies: list[str]  # ways out, when incompatible
    checkpoint_network: InferredNetwork | None
    prefix: str = ""
    notes: list[str] = field(default_factory=list)  # worth knowing, not blocking (optimizer, activation)
    fitting: list[str] = field(default_factory=list)  # variables a warm start would copy
    expected_label: str = "config"
    found_label: str = "checkpoint"
    found_first: bool = True  # "checkpoint [4, 10], config [4, 20]"; compare() reads "A ..., B ..."

    def message(self) -> str:
        """The summary, one line per mismatch (``dnn/hiddenlayer_0/kernel: checkpoint [4, 10], config [4, 20]``)."""
        lines = [self.summary]
        labels = (self.expected_label, self.found_label, self.found_first)
        lines += [f"  {m.describe(*labels)}" for m in self.mismatches]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _units(values: list[int]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def check(network: NetworkConfig, n_features: int, n_classes: int, prefix: str | os.PathLike) -> CompatReport:
    """Every variable ``network`` needs against what ``prefix`` stores; raises CheckpointError if unreadable."""
    checkpoint = locate(prefix)
    variables = list_variables(checkpoint)
    stored = {v.name: v for v in variables}
    expected = network.variable_shapes(n_features, n_classes)
    mismatches: list[Mismatch] = []
    fitting: list[str] = []
    for name, shape in expected.items():
        info = stored.get(name)
        if info is None:
            mismatches.append(Mismatch(name, shape, None, "missing"))
        elif info.shape != shape:
            mismatches.append(Mismatch(name, shape, info.shape, "shape"))
        elif info.dtype != NETWORK_DTYPE:
            detail = f"stored as {info.dtype}; the network uses {NETWORK_DTYPE}"
            mismatches.append(Mismatch(name, shape, info.shape, "dtype", detail))
        else:
            fitting.append(name)
    inferred = infer_network(variables)
    # Weights beside the DNN's (a deeper network's layers, a linear part, embeddings); a checkpoint of some other
    # model altogether is not ours to list weight by weight.
    for info in model_weights(variables) if inferred is not None else []:
        if info.name not in expected:
            mismatches.append(Mismatch(info.name, None, info.shape, "unexpected"))
    report = CompatReport(
        compatible=not mismatches,
        mismatches=mismatches,
        summary="",
        remedies=[],
        checkpoint_network=inferred,
        prefix=checkpoint.prefix,
        notes=_notes(network, inferred, checkpoint.prefix),
        fitting=fitting,
    )
    report.summary = _check_summary(report, network, n_features, n_classes, len(expected))
    if mismatches:
        report.remedies = _remedies(report, network, n_features, len(expected))
    return report


def _check_summary(report: CompatReport, network: NetworkConfig, n_features: int, n_classes: int, n: int) -> str:
    inferred = report.checkpoint_network
    if report.compatible:
        return (
            f"checkpoint fits this config: hidden_units {_units(network.hidden_units)}, "
            f"{n_features} features, {n_classes} classes"
        )
    if inferred is None:
        return (
            "the checkpoint holds no DNN classifier (no dnn/hiddenlayer_N or dnn/logits variables): it was not "
            "written by ckptgui or tf.estimator.DNNClassifier"
        )
    parts = []
    if inferred.hidden_units != network.hidden_units:
        parts.append(
            f"checkpoint was trained with hidden_units {_units(inferred.hidden_units)}; "
            f"this config has {_units(network.hidden_units)}"
        )
    if inferred.n_features != n_features:
        parts.append(f"checkpoint takes {inferred.n_features} input features; the data has {n_features}")
    if inferred.single_logit and n_classes == 2:
        parts.append("checkpoint has Estimator's single-logit binary head; ckptgui's network has one logit per class")
    elif inferred.n_classes != n_classes:
        parts.append(f"checkpoint has {inferred.n_classes} classes; this config has {n_classes}")
    if inferred.unexplained:
        shown = ", ".join(inferred.unexplained[:3]) + (", ..." if len(inferred.unexplained) > 3 else "")
        parts.append(
            f"checkpoint also holds {len(inferred.unexplained)} weights outside the DNN ({shown}): its model is "
            "not a plain DNN classifier (a wide & deep model's linear part or embeddings?)"
        )
    dtypes = [m for m in report.mismatches if m.kind == "dtype"]
    if dtypes:
        parts.append(f"{len(dtypes)} variables are not stored as {NETWORK_DTYPE} ({dtypes[0].detail})")
    if not parts:
        parts.append(f"{len(report.mismatches)} of the network's {n} variables do not match the checkpoint")
    return "; ".join(parts)


def _notes(network: NetworkConfig, inferred: InferredNetwork | None, prefix: str) -> list[str]:
    """What fits but is worth saying: optimizer state that will not carry over, a different activation."""
    notes = []
    if inferred is not None:
        wanted = OPTIMIZER_SLOTS[network.optimizer]
        have = inferred.optimizer_slots
        if wanted and not have:
            notes.append(f"the checkpoint holds no optimizer state; {network.optimizer}'s slots start fresh")
        elif set(wanted) != set(have) and have:
            held = inferred.optimizer or f"slots {', '.join(have)}"
            start = f"its slots ({', '.join(wanted)}) start from zero" if wanted else "that state is not used"
            notes.append(f"the checkpoint holds {held} optimizer state; this config uses {network.optimizer}: {start}")
    try:
        log = read_run_log(parent_of(prefix))
    except RunLogError:
        log = None
    trained = log.spec.network.activation if log and log.spec else None
    if trained and trained != network.activation:
        notes.append(
            f"the checkpoint was trained with activation {trained}; this config uses {network.activation} "
            "(the shapes fit, the learned weights will mean something else)"
        )
    return notes


def _remedies(report: CompatReport, network: NetworkConfig, n_features: int, n: int) -> list[str]:
    model_dir = parent_of(report.prefix)
    remedies = [f"train into a new model_dir (--model-dir NEW_DIR), or move the checkpoints out of {model_dir}"]
    inferred = report.checkpoint_network
    if inferred is not None and not inferred.single_logit and not inferred.unexplained:
        flags = f"--hidden-units {','.join(str(u) for u in inferred.hidden_units)}"
        if network.n_classes is not None and network.n_classes != inferred.n_classes:
            flags += f" --n-classes {inferred.n_classes}"
        text = f"continue with the checkpoint's own network: {flags}"
        if inferred.n_features != n_features:
            text += f", on data with {inferred.n_features} features"
        remedies.append(text)
    if any(name.endswith("/kernel") for name in report.fitting):
        names = ", ".join(report.fitting)
        remedies.append(
            f"warm-start a new model_dir from this checkpoint (--warm-start-from {report.prefix}): "
            f"{len(report.fitting)} of {n} variables fit and would be copied ({names})"
        )
    return remedies


def compare(a_prefix: str | os.PathLike, b_prefix: str | os.PathLike) -> CompatReport:
    """Checkpoint B against checkpoint A: same variables, shapes and dtypes? (No tensor data is read.)"""
    ckpt_a, ckpt_b = locate(a_prefix), locate(b_prefix)
    vars_a, vars_b = list_variables(ckpt_a), list_variables(ckpt_b)
    by_a, by_b = {v.name: v for v in vars_a}, {v.name: v for v in vars_b}  # slots aside: they follow their variable
    mismatches: list[Mismatch] = []
    fitting: list[str] = []
    for name, info in by_a.items():
        other = by_b.get(name)
        if other is None:
            mismatches.append(Mismatch(name, info.shape, None, "missing"))
        elif other.shape != info.shape:
            mismatches.append(Mismatch(name, info.shape, other.shape, "shape"))
        elif other.dtype != info.dtype:
            mismatches.append(Mismatch(name, info.shape, other.shape, "dtype", f"A {info.dtype}, B {other.dtype}"))
        else:
            fitting.append(name)
    mismatches += [Mismatch(name, None, info.shape, "unexpected") for name, info in by_b.items() if name not in by_a]
    net_a, net_b = infer_network(vars_a), infer_network(vars_b)
    if not mismatches:
        summary = f"A and B hold the same {len(by_a)} variables with the same shapes"
    elif net_a is not None and net_b is not None and net_a.hidden_units != net_b.hidden_units:
        summary = f"A has hidden_units {_units(net_a.hidden_units)}; B has {_units(net_b.hidden_units)}"
    else:
        summary = f"{len(mismatches)} of {len(set(by_a) | set(by_b))} variables differ in presence, shape or dtype"
    return CompatReport(
        compatible=not mismatches,
        mismatches=mismatches,
        summary=summary,
        remedies=[],
        checkpoint_network=net_b,
        prefix=ckpt_b.prefix,
        fitting=fitting,
        expected_label="A",
        found_label="B",
        found_first=False,
    )
