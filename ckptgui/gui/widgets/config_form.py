"""The run configuration as a form: network, schedule, data, model_dir, each field validated as it is typed.

Validation is ``ckptgui.modeldir.config``'s own: every field is tried on its own
(so all invalid fields are marked at once, each with the config's message),
then the whole config (for rules that tie fields together). The data source is
loaded off the GUI thread, since a user CSV can be large.

A CSV named by a spec put into the form (a model_dir's run log, the last
session's config) is not read then: opening a folder must not read data (a
file on a slow mount, a pipe, a huge file). The form shows what the run log
recorded about it and reads it when it is needed: when the user edits the
data fields, or on Start (:meth:`ConfigForm.load_then`). The bundled Iris
set is always loaded at once (it is part of the app and takes milliseconds).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThreadPool, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ckptgui.gui.icons import icon
from ckptgui.gui.temporary_dirs import TemporaryDirs
from ckptgui.gui.widgets.devices import DevicePicker
from ckptgui.gui.widgets.elided import ElidedLabel
from ckptgui.gui.workers import Task
from ckptgui.modeldir.config import (
    ACTIVATIONS,
    BEST_METRICS,
    OPTIMIZERS,
    ConfigError,
    DataConfig,
    NetworkConfig,
    RunSpec,
    ScheduleConfig,
)
from ckptgui.modeldir.data import Dataset, load_dataset
from ckptgui.modeldir.variables import InferredNetwork
from ckptgui.workspace.adopt import network_from_checkpoint
from ckptgui.workspace.model import Workspace, normalize_model_dir

ERROR_STYLE = "color: #b3261e;"
INVALID_PROPERTY = "invalid"
MAX_UNITS = 100_000
MODEL_DIR_TYPING_MS = 300
# Values read as values even in a disabled field (while training), placeholders as hints in every state.
VALUE_TEXT = {QPalette.ColorGroup.Disabled: QColor(70, 70, 70)}
HINT_TEXT = QColor(150, 150, 150)
INVALID_BACKGROUND = QColor(253, 226, 224)


def _number(text: str, kind: type) -> Any:
    """The typed number, None when empty, or the text itself so the config's check names what is wrong."""
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


def _required(text: str, kind: type) -> Any:
    value = _number(text, kind)
    return "" if value is None else value


class HiddenUnitsEditor(QWidget):
    """The hidden layers as a list of spin boxes: add, remove, resize."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[QWidget, QSpinBox]] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.add_button = QPushButton("Add layer")
        self.add_button.setToolTip("Append a hidden layer (same width as the last one)")
        self.add_button.clicked.connect(self._add_clicked)
        self._layout.addWidget(self.add_button)

    def units(self) -> list[int]:
        return [spin.value() for _, spin in self._rows]

    def set_units(self, units: list[int]) -> None:
        while self._rows:
            self._remove_row(self._rows[-1][0], emit=False)
        for value in units:
            self._add_row(value, emit=False)
        self.changed.emit()

    def spin_boxes(self) -> list[QSpinBox]:
        return [spin for _, spin in self._rows]

    def remove_layer(self, index: int) -> None:
        self._remove_row(self._rows[index][0])

    @Slot()
    def _add_clicked(self) -> None:
        self._add_row(self._rows[-1][1].value() if self._rows else 10)

    def _add_row(self, value: int, emit: bool = True) -> None:
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(row)
        spin = QSpinBox(row)
        spin.setRange(1, MAX_UNITS)
        spin.setValue(value)
        spin.setAccelerated(True)
        spin.valueChanged.connect(self.changed)
        remove = QToolButton(row)
        remove.setText("−")
        remove.setToolTip("Remove this layer")
        remove.clicked.connect(lambda: self._remove_row(row))
        layout.addWidget(label)
        layout.addWidget(spin, 1)
        layout.addWidget(remove)
        self._layout.insertWidget(len(self._rows), row)
        self._rows.append((row, spin))
        self._renumber()
        if emit:
            self.changed.emit()

    def _remove_row(self, row: QWidget, emit: bool = True) -> None:
        self._rows = [(r, s) for r, s in self._rows if r is not row]
        row.setParent(None)
        row.deleteLater()
        self._renumber()
        if emit:
            self.changed.emit()

    def _renumber(self) -> None:
        for index, (row, _) in enumerate(self._rows):
            row.findChild(QLabel).setText(f"layer {index}")


def side_by_side(*widgets: QWidget, stretch: QWidget | None = None) -> QWidget:
    """One form row holding several widgets; ``stretch`` (the first by default) takes the spare width."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    grows = stretch if stretch is not None else widgets[0]
    for widget in widgets:
        layout.addWidget(widget, 1 if widget is grows else 0)
    return row


class ConfigForm(QWidget):
    """Edits a RunSpec; ``validityChanged`` says whether Start may be enabled."""

    changed = Signal()
    validityChanged = Signal(bool)
    datasetChanged = Signal(object)  # the loaded Dataset, or None
    message = Signal(str)  # for the status bar: what an action of the form could not do
    open_url: Callable[[QUrl], bool] = staticmethod(QDesktopServices.openUrl)  # False: no file manager

    def __init__(self, pool: QThreadPool, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._valid = False
        self._errors: dict[str, str] = {}
        self._error_labels: dict[str, ElidedLabel] = {}
        self._field_widgets: dict[str, QWidget] = {}
        self.dataset: Dataset | None = None
        self._data_error: str | None = None
        self._data_loading = False
        self._data_key: tuple | None = None
        self._deferred: tuple[str, str | None] | None = None  # (source, label column) read only when needed
        self._described: dict[str, Any] = {}  # what the run log recorded about the deferred source
        self._data_pending = False  # the data is the deferred source, not read yet
        self._after_load: list[Callable[[], None]] = []  # what waits for the deferred data (Start, Restore check)
        self._data_task = Task(pool, self, self._on_data_loaded, self._on_data_failed)
        self.temporary = TemporaryDirs()
        self._revalidate_timer = QTimer(self, singleShot=True, interval=0)
        self._revalidate_timer.timeout.connect(self._revalidate)
        # Typing a path opens it in the workspace once the typing pauses (each open rereads the directory).
        self._model_dir_timer = QTimer(self, singleShot=True, interval=MODEL_DIR_TYPING_MS)
        self._model_dir_timer.timeout.connect(self.apply_model_dir)
        self._build()
        self._set_text_colours()
        self.set_spec(RunSpec())

    # Building ------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)

        output = QGroupBox("Output")
        form = QFormLayout(output)
        self.model_dir = self._line_edit("a fresh temporary directory on Start", "Where checkpoints and summaries go")
        self.model_dir.textChanged.connect(lambda _text: self._model_dir_timer.start())
        self.workspace.model_dir_changed.connect(self._show_model_dir)
        self.model_dir_browse = QToolButton()
        self.model_dir_browse.setText("…")
        self.model_dir_browse.setToolTip("Choose a model_dir")
        self.model_dir_browse.clicked.connect(self._browse_model_dir)
        self.new_temp_button = QToolButton()
        self.new_temp_button.setIcon(icon("new-dir"))
        self.new_temp_button.setToolTip("Use a new temporary model_dir")
        self.new_temp_button.clicked.connect(self.use_new_temporary_dir)
        self.file_manager_button = QToolButton()
        self.file_manager_button.setIcon(icon("file-manager"))
        self.file_manager_button.setToolTip("Open the model_dir in the file manager")
        self.file_manager_button.clicked.connect(self.open_in_file_manager)
        dir_row = side_by_side(self.model_dir, self.model_dir_browse, self.new_temp_button, self.file_manager_button)
        self._add_row(form, "model_dir", "model_dir", dir_row)
        self.seed = self._line_edit("random", "Integer seed for initial weights and shuffling; empty for random")
        self._add_row(form, "Seed", "seed", self.seed)
        outer.addWidget(output)

        network = QGroupBox("Network")
        form = QFormLayout(network)
        self.hidden_units = HiddenUnitsEditor()
        self.hidden_units.changed.connect(self._schedule_validation)
        self._add_row(form, "Hidden units", "hidden_units", self.hidden_units)
        self.n_classes = self._line_edit("from the data", "Number of classes; empty takes it from the data")
        self._add_row(form, "Classes", "n_classes", self.n_classes)
        self.activation = self._combo(ACTIVATIONS)
        self._add_row(form, "Activation", "activation", self.activation)
        self.dropout = self._line_edit("none", "Dropout rate in [0, 1); empty for none")
        self._add_row(form, "Dropout", "dropout", self.dropout)
        self.optimizer = self._combo(OPTIMIZERS)
        self._add_row(form, "Optimizer", "optimizer", self.optimizer)
        self.learning_rate = self._line_edit("0.05", "Learning rate, a number > 0")
        self._add_row(form, "Learning rate", "learning_rate", self.learning_rate)
        self.batch_size = self._line_edit("100", "Examples per training step")
        self._add_row(form, "Batch size", "batch_size", self.batch_size)
        self.steps = self._line_edit("1000", "Training steps to run on each Start (added to the current step)")
        self._add_row(form, "Steps", "steps", self.steps)
        outer.addWidget(network)

        schedule = QGroupBox("Checkpoints")
        form = QFormLayout(schedule)
        self.save_every = self._line_edit("", "How often to write a checkpoint")
        self.save_unit = self._combo(("steps", "seconds"))
        self._add_row(form, "Save every", "save_checkpoints", side_by_side(self.save_every, self.save_unit))
        self.keep_max = self._line_edit("0 or empty: keep all", "Keep the newest N checkpoints (keep_checkpoint_max)")
        self._add_row(form, "Keep newest", "keep_checkpoint_max", self.keep_max)
        self.keep_best = self._line_edit("0", "Also keep the K best checkpoints on the test split")
        self.best_metric = self._combo(BEST_METRICS)
        self.best_metric.setToolTip("accuracy: higher is better; loss: lower is better")
        best_row = side_by_side(self.keep_best, QLabel("by"), self.best_metric)
        self._add_row(form, "Keep best", "keep_best_max", best_row)
        self.keep_hours = self._line_edit("10000", "Keep one checkpoint for good every N hours")
        self._add_row(form, "Keep one every (h)", "keep_checkpoint_every_n_hours", self.keep_hours)
        self.summary_steps = self._line_edit("100", "Write loss/accuracy summaries every N steps")
        self._add_row(form, "Summaries every", "save_summary_steps", self.summary_steps)
        outer.addWidget(schedule)

        data = QGroupBox("Data")
        form = QFormLayout(data)
        self.data_kind = self._combo(("Bundled Iris", "CSV file"))
        self.data_path = self._line_edit("path/to/data.csv", "A CSV with a header row and a label column")
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a CSV file")
        browse.clicked.connect(self._browse_csv)
        self.data_browse = browse
        source_row = QWidget()  # the kind above the path: the path gets the form's whole width, not a third
        source_layout = QVBoxLayout(source_row)
        source_layout.setContentsMargins(0, 0, 0, 0)
        source_layout.setSpacing(2)
        source_layout.addWidget(self.data_kind)
        source_layout.addWidget(side_by_side(self.data_path, browse))
        self._add_row(form, "Source", "data", source_row)
        self.label_column = self._line_edit("last column", "Name of the label column (CSV files with a header)")
        self._add_row(form, "Label column", "label_column", self.label_column)
        self.data_info = QLabel()
        self.data_info.setWordWrap(True)
        self.data_info.setObjectName("dataInfo")
        form.addRow("", self.data_info)
        self.data_kind.currentIndexChanged.connect(self._data_kind_changed)
        outer.addWidget(data)

        devices = QGroupBox("Devices")
        form = QFormLayout(devices)
        self.devices = DevicePicker(self)
        self.devices.changed.connect(self._schedule_validation)
        self._add_row(form, "Distribution", "distribution", self.devices.distribution)
        self._add_row(form, "Devices", "devices", self.devices.devices_row)
        outer.addWidget(devices)
        outer.addStretch(1)

    def _line_edit(self, placeholder: str, tip: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        edit.setClearButtonEnabled(True)
        edit.textChanged.connect(self._schedule_validation)
        return edit

    def _combo(self, items: tuple[str, ...]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(items))
        combo.currentIndexChanged.connect(self._schedule_validation)
        return combo

    def _set_text_colours(self) -> None:
        palette = self.palette()
        for group, colour in VALUE_TEXT.items():
            palette.setColor(group, QPalette.ColorRole.Text, colour)
            palette.setColor(group, QPalette.ColorRole.ButtonText, colour)
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
            palette.setColor(group, QPalette.ColorRole.PlaceholderText, HINT_TEXT)
        self.setPalette(palette)

    def _add_row(self, form: QFormLayout, label: str, field: str, widget: QWidget) -> None:
        """The field with its message below it on one reserved line: a message appearing never pushes the fields
        below it down, and a longer one is elided (whole in its tooltip) rather than wrapped onto more lines."""
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(widget)
        error = ElidedLabel("X")
        error.setObjectName(f"error_{field}")
        error.setStyleSheet(ERROR_STYLE)
        error.setFixedHeight(error.sizeHint().height())  # one line, as a shown message takes it
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # nor widens the form
        policy.setRetainSizeWhenHidden(True)
        error.setSizePolicy(policy)
        error.set_full_text("")
        error.hide()
        layout.addWidget(error)
        form.addRow(label, box)
        self._error_labels[field] = error
        self._field_widgets[field] = widget

    # Reading and writing the spec ----------------------------------------------------------------
    def set_spec(self, spec: RunSpec, described: dict[str, Any] | None = None) -> None:
        """Fill the form with ``spec``; its CSV is read only when needed, ``described`` (the run log's ``data``
        entry: source, rows, sha256, …) shown meanwhile."""
        self.set_network(spec.network)
        schedule = spec.schedule
        if schedule.save_checkpoints_steps is not None:
            self.save_unit.setCurrentIndex(0)
            self.save_every.setText(str(schedule.save_checkpoints_steps))
        else:
            self.save_unit.setCurrentIndex(1)
            self.save_every.setText(_format(schedule.save_checkpoints_secs))
        self.keep_max.setText(_format(schedule.keep_checkpoint_max))
        self.keep_hours.setText(_format(schedule.keep_checkpoint_every_n_hours))
        self.keep_best.setText(str(schedule.keep_best_max))
        self.best_metric.setCurrentText(schedule.best_metric)
        self.summary_steps.setText(str(schedule.save_summary_steps))
        iris = spec.data.source == "iris"
        self.data_kind.setCurrentIndex(0 if iris else 1)
        self.data_path.setText("" if iris else spec.data.source)
        self.label_column.setText(spec.data.label_column or "")
        self.model_dir.setText(spec.model_dir or "")
        self.seed.setText(_format(spec.seed))
        self.devices.set_values(spec.distribution, spec.devices)
        csv = not iris and bool(spec.data.source.strip())
        self._deferred = (spec.data.source.strip(), spec.data.label_column or None) if csv else None
        self._described = described or {}
        self._data_kind_changed()

    def set_network(self, network: NetworkConfig) -> None:
        self.hidden_units.set_units(list(network.hidden_units))
        self.n_classes.setText(_format(network.n_classes))
        self.activation.setCurrentText(network.activation)
        self.dropout.setText(_format(network.dropout))
        self.optimizer.setCurrentText(network.optimizer)
        self.learning_rate.setText(_format(network.learning_rate))
        self.batch_size.setText(str(network.batch_size))
        self.steps.setText(str(network.steps))

    def adopt_network(self, inferred: InferredNetwork) -> str:
        """Take a checkpoint's network shapes into the form; returns what changed, for the status bar."""
        try:
            current = self.spec().network
        except ConfigError:
            current = NetworkConfig()
        self.set_network(network_from_checkpoint(inferred, current, self.dataset))
        return f"Network set from the checkpoint: hidden_units {inferred.hidden_units}"

    def model_dir_text(self) -> str:
        return self.model_dir.text().strip()

    @Slot()
    def apply_model_dir(self) -> None:
        """Open the typed model_dir in the workspace now, without waiting for the typing to pause."""
        self._model_dir_timer.stop()
        self.workspace.set_model_dir(self.model_dir_text())

    def _show_model_dir(self, path: str | None) -> None:
        """The workspace opened ``path``: show it, unless the text already names it (``~/run`` stays as typed)."""
        if normalize_model_dir(self.model_dir_text()) != path:
            self.model_dir.setText(path or "")

    def spec(self) -> RunSpec:
        """The current RunSpec; raises ConfigError naming the first invalid field."""
        self._revalidate()
        if self._errors:
            field, message = next(iter(self._errors.items()))
            raise ConfigError(field, message)
        return RunSpec(
            network=NetworkConfig(**self._network_values()),
            schedule=ScheduleConfig(**self._schedule_values()),
            data=DataConfig(**self._data_values()),
            model_dir=self.model_dir_text() or None,
            seed=_number(self.seed.text(), int),
            **self.devices.values(),
        )

    def _network_values(self) -> dict[str, Any]:
        return {
            "hidden_units": self.hidden_units.units(),
            "n_classes": _number(self.n_classes.text(), int),
            "activation": self.activation.currentText(),
            "dropout": _number(self.dropout.text(), float),
            "optimizer": self.optimizer.currentText(),
            "learning_rate": _required(self.learning_rate.text(), float),
            "batch_size": _required(self.batch_size.text(), int),
            "steps": _required(self.steps.text(), int),
        }

    def _schedule_values(self) -> dict[str, Any]:
        by_steps = self.save_unit.currentIndex() == 0
        every = _required(self.save_every.text(), int if by_steps else float)
        return {
            "save_checkpoints_steps": every if by_steps else None,
            "save_checkpoints_secs": None if by_steps else every,
            "keep_checkpoint_max": _number(self.keep_max.text(), int),
            "keep_checkpoint_every_n_hours": _required(self.keep_hours.text(), float),
            "save_summary_steps": _required(self.summary_steps.text(), int),
            "keep_best_max": _required(self.keep_best.text(), int),
            "best_metric": self.best_metric.currentText(),
        }

    def _data_values(self) -> dict[str, Any]:
        source = "iris" if self.data_kind.currentIndex() == 0 else self.data_path.text().strip()
        return {"source": source, "label_column": self.label_column.text().strip() or None}

    # Validation ----------------------------------------------------------------------------------
    @property
    def valid(self) -> bool:
        return self._valid

    def problems(self) -> str:
        """Why Start is refused now, for the status bar."""
        if self._errors:
            return "; ".join(f"{field}: {message}" for field, message in self._errors.items())
        return "the data is still loading" if self._data_loading or not self._data_ready() else ""

    def _data_ready(self) -> bool:
        """Loaded, or deferred to Start (which loads and validates it first)."""
        return self.dataset is not None or self._data_pending

    @property
    def errors(self) -> dict[str, str]:
        """Field name -> message for every field now marked invalid."""
        return dict(self._errors)

    @Slot()
    def _schedule_validation(self) -> None:
        self._revalidate_timer.start()

    def _revalidate(self) -> None:
        self._revalidate_timer.stop()
        errors: dict[str, str] = {}
        for cls, values in (
            (NetworkConfig, self._network_values()),
            (ScheduleConfig, self._schedule_values()),
            (DataConfig, self._data_values()),
        ):
            _check_fields(cls, values, errors)
        try:  # the two tie together (a device list only for one_device and mirrored): checked as one
            RunSpec(**self.devices.values())
        except ConfigError as exc:
            errors[exc.field] = exc.message
        seed = _number(self.seed.text(), int)
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            errors["seed"] = f"{seed!r} is not allowed; expected an integer >= 0 or empty"
        model_dir = self.model_dir_text()
        if model_dir and Path(model_dir).expanduser().is_file():
            errors["model_dir"] = f"{model_dir!r} is a file; expected a directory (existing or new)"
        if "data" not in errors and "label_column" not in errors:
            self._request_data(errors.get("n_classes") is None)
        if self._data_error and "data" not in errors:
            errors["data"] = self._data_error
        self._show_errors(errors)
        self._update_file_manager_button()
        valid = not errors and not self._data_loading and self._data_ready()
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        self.changed.emit()

    def _show_errors(self, errors: dict[str, str]) -> None:
        # Save-every messages name either schedule field; both belong to the one row.
        shown = {("save_checkpoints" if k.startswith("save_checkpoints") else k): v for k, v in errors.items()}
        self._errors = errors
        for field, label in self._error_labels.items():
            message = shown.get(field)
            label.set_full_text(message or "")
            label.setVisible(bool(message))
            widget = self._field_widgets[field]
            if bool(widget.property(INVALID_PROPERTY)) != bool(message):
                widget.setProperty(INVALID_PROPERTY, bool(message))
                _mark_invalid(widget, bool(message))

    # Data loading --------------------------------------------------------------------------------
    def _request_data(self, n_classes_ok: bool) -> None:
        values = self._data_values()
        n_classes = _number(self.n_classes.text(), int) if n_classes_ok else None
        key = (values["source"], values["label_column"], n_classes)
        if key == self._data_key:
            if self._data_pending:  # the same file, described now perhaps (a run log opened after the last config)
                self.data_info.setText(_described_text(values["source"], self._described))
            return
        self._data_key = key
        self._data_error = None
        self.dataset = None
        if self._after_load:  # an edit while Start waited for the data: that Start is off
            self._after_load.clear()
            self.message.emit("Not started: the data fields changed while the data was read; press Start again")
        if (values["source"], values["label_column"]) == self._deferred:
            self._data_loading = False
            self._data_pending = True
            self._data_task.cancel()  # an edit back to the deferred source: whatever was loading is not it
            self.data_info.setText(_described_text(values["source"], self._described))
            self.datasetChanged.emit(None)
            return
        self._load(DataConfig(**values), n_classes)

    def _load(self, config: DataConfig, n_classes: int | None) -> None:
        self._data_pending = False
        self._data_loading = True
        self.data_info.setText("Loading data…")
        self._data_task.start(load_dataset, config, n_classes)

    def load_then(self, then: Callable[[], None]) -> bool:
        """Read deferred data now and call ``then`` once the read ended, loaded or refused (then inline, as any
        data error): ``then`` checks again (Start: ``valid``; the Restore check: ``dataset``).

        Returns False when there is nothing to wait for: the data is loaded, or cannot be."""
        if self._data_pending:
            self._deferred = None  # read now; later edits back to it read it again
            key = self._data_key
            assert key is not None
            self._load(DataConfig(source=key[0], label_column=key[1]), key[2])
            self._revalidate()
        if not self._data_loading:
            return False
        self._after_load.append(then)
        return True

    @Slot(object)
    def _on_data_loaded(self, dataset: Dataset) -> None:
        self._data_loading = False
        self.dataset = dataset
        train = len(dataset.train[1])
        test = len(dataset.test[1])
        classes = ", ".join(dataset.class_names[:6]) + (", …" if dataset.n_classes > 6 else "")
        name = "Bundled Iris" if dataset.source == "iris" else Path(dataset.source).name
        self.data_info.setText(
            f"{name}: {train} train / {test} test rows · {dataset.n_features} features · "
            f"{dataset.n_classes} classes ({classes})"
        )
        self.datasetChanged.emit(dataset)
        self._revalidate()
        self._call_after_load()

    def _call_after_load(self) -> None:
        waiting, self._after_load = self._after_load, []
        for then in waiting:
            then()

    @Slot(str, str)
    def _on_data_failed(self, message: str, detail: str) -> None:
        self._data_loading = False
        self.dataset = None
        self._data_error = message
        self.data_info.setText("")
        self.datasetChanged.emit(None)
        self._revalidate()
        self._call_after_load()

    @Slot()
    def _data_kind_changed(self) -> None:
        csv = self.data_kind.currentIndex() == 1
        self.data_path.setEnabled(csv)
        self.data_browse.setEnabled(csv)
        self.label_column.setEnabled(csv)
        self._schedule_validation()

    @Slot()
    def _browse_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CSV file", self.data_path.text(), "CSV (*.csv);;All (*)")
        if path:
            self.data_path.setText(path)

    @Slot()
    def _browse_model_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model_dir", self.model_dir_text())
        if path:
            self.workspace.set_model_dir(path)

    @Slot()
    def use_new_temporary_dir(self) -> str:
        """A new temporary model_dir, offered for deletion when the window closes unless the user keeps it."""
        path = self.temporary.create()
        self.workspace.set_model_dir(path)
        return path

    @Slot()
    def open_in_file_manager(self) -> None:
        """Show the model_dir in the file manager; ``message`` says why when it cannot."""
        path = self.model_dir_text()
        folder = Path(path).expanduser()
        if not path:
            self.message.emit("No model_dir to show: the model_dir field is empty")
        elif not folder.is_dir():
            self.message.emit(f"Cannot show {path} in the file manager: it is not a folder (yet)")
        elif not self.open_url(QUrl.fromLocalFile(str(folder))):
            self.message.emit(f"No file manager could be started to show {folder}; open it yourself")

    def _update_file_manager_button(self) -> None:
        path = self.model_dir_text()
        self.file_manager_button.setEnabled(bool(path) and Path(path).expanduser().is_dir())

    def refresh(self) -> None:
        """Revalidate now (e.g. after the model_dir was created on disk)."""
        self._revalidate()


def _mark_invalid(widget: QWidget, invalid: bool) -> None:
    """A tinted background on the field's inputs. Not a style sheet: that changes a field's frame and height,
    and the fields below would jump as it is set and cleared."""
    inputs = [w for w in (widget, *widget.findChildren(QWidget)) if isinstance(w, QLineEdit | QComboBox | QSpinBox)]
    for field in inputs:
        if invalid:
            palette = field.palette()
            palette.setColor(QPalette.ColorRole.Base, INVALID_BACKGROUND)
            palette.setColor(QPalette.ColorRole.Button, INVALID_BACKGROUND)
            field.setPalette(palette)
        else:
            field.setPalette(QPalette())  # back to the form's


def _check_fields(cls: Callable[..., Any], values: dict[str, Any], errors: dict[str, str]) -> None:
    """Each field alone against the defaults, then all together for rules that tie fields together."""
    found: dict[str, str] = {}
    for name, value in values.items():
        try:
            cls(**{name: value})
        except ConfigError as exc:
            found.setdefault(exc.field, exc.message)
    if not found:
        try:
            cls(**values)
        except ConfigError as exc:
            found[exc.field] = exc.message
    errors.update(found)


def _described_text(source: str, described: dict[str, Any]) -> str:
    """The data line for a CSV not read yet: what the run log recorded about it, if it recorded this file."""
    name = Path(source).name
    same = described.get("source") == os.path.expanduser(source)
    rows, digest = described.get("rows"), described.get("sha256")
    facts = []
    if same and isinstance(rows, int) and not isinstance(rows, bool):
        facts.append(f"{rows:,} rows")
    for key, what in (("feature_names", "features"), ("class_names", "classes")):
        if same and isinstance(described.get(key), list):
            facts.append(f"{len(described[key])} {what}")
    if same and isinstance(digest, str):
        facts.append(f"sha256 {digest[:12]}…")
    recorded = f" ({' · '.join(facts)}, as the run log recorded it)" if facts else ""
    return f"{name}{recorded}: read when training starts"


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)
