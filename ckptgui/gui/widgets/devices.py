"""Which devices the window trains on: the distribution and the devices TensorFlow sees, listed by name.

The window offers ``default``, ``one_device`` and ``mirrored``; ``multi_worker`` needs one process per
machine and is the command line's (a spec naming it shows here as ``default``). The devices are known only
once TensorFlow has loaded, after the first paint: until then the list says so, and devices a spec names are
checked when the list arrives.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget

# (config value, what the window shows)
CHOICES = (
    ("default", "Default: one device, XLA"),
    ("one_device", "One device (the checked one)"),
    ("mirrored", "Mirrored over the checked devices"),
)
NOT_LOADED = "listed once TensorFlow has loaded"


class DevicePicker(QObject):
    """A distribution combo and a row of device check boxes; two form rows, so each shows its own error."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.distribution = QComboBox()
        for value, text in CHOICES:
            self.distribution.addItem(text, value)
        self.distribution.setToolTip(
            "tf.distribute: mirrored splits each batch across the devices and averages their gradients; "
            "several machines (multi_worker): ckptgui train --distribution multi_worker"
        )
        self.distribution.currentIndexChanged.connect(self._distribution_changed)
        self.devices_row = QWidget()
        self._layout = QHBoxLayout(self.devices_row)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel(NOT_LOADED)
        self._layout.addWidget(self._placeholder)
        self._layout.addStretch(1)
        self.boxes: dict[str, QCheckBox] = {}
        self._wanted: list[str] = []  # devices a spec named before the list arrived
        self._distribution_changed()

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """The devices TensorFlow sees: (name, description); those a spec named are checked."""
        wanted = self.checked() or self._wanted
        for box in self.boxes.values():
            box.deleteLater()
        self.boxes = {}
        self._placeholder.hide()
        for index, (name, description) in enumerate(devices):
            box = QCheckBox(name)
            box.setToolTip(description or name)
            box.setChecked(name in wanted)
            box.toggled.connect(self.changed)
            self._layout.insertWidget(index, box)
            self.boxes[name] = box
        self._wanted = [name for name in wanted if name not in self.boxes]
        self.changed.emit()

    def checked(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.isChecked()]

    def values(self) -> dict[str, object]:
        """``distribution`` and ``devices`` as RunSpec takes them (devices only where the choice uses them)."""
        distribution = self.distribution.currentData()
        devices = [*self.checked(), *self._wanted] if distribution != "default" else []
        return {"distribution": distribution, "devices": devices}

    def set_values(self, distribution: str, devices: list[str]) -> None:
        index = self.distribution.findData(distribution)
        self.distribution.setCurrentIndex(max(index, 0))
        for name, box in self.boxes.items():
            box.setChecked(name in devices)
        self._wanted = [name for name in devices if name not in self.boxes]
        self.changed.emit()

    def _distribution_changed(self) -> None:
        self.devices_row.setEnabled(self.distribution.currentData() != "default")
        self.changed.emit()
