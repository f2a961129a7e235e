"""Training data: the bundled Iris set and user CSV files, as numpy arrays.

No TensorFlow here: the arrays are small enough to live in memory and the
trainer gathers batches from them inside its compiled loop.

Two CSV layouts are read:

* the TF-tutorial layout (Iris): a first row ``<rows>,<features>,<class names…>``
  followed by numeric rows whose last cell is the integer label;
* a header row of column names, with a label column chosen by name (the
  last column when none is given). Labels are integers ``0..n_classes-1``
  or class names, which are numbered in sorted order.

The split is fixed and documented: every fifth row (rows 5, 10, 15, … counting
data rows from 1) is the test split, the rest the training split. For the 150
Iris rows that is 120/30 with 10 test rows per species. A CSV file is read
through :mod:`ckptgui.storage`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import stat
from dataclasses import dataclass

import numpy as np

from ckptgui._resources import resource_files
from ckptgui.modeldir.config import MAX_CLASSES, DataConfig
from ckptgui.storage import StorageError, scheme_of, storage_for

IRIS_FEATURES = ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"]
IRIS_LABEL = "Species"
TEST_EVERY = 5
# A CSV beyond this is refused unread: parsed into rows it takes several times its size in memory, and a
# device (``/dev/zero``) or a wrong path to a huge file must not take the machine's memory.
MAX_DATA_BYTES = 32 * 1024 * 1024


class DataError(ValueError):
    """A data file that cannot be used; the message names the file, line and column."""


@dataclass
class Dataset:
    source: str
    sha256: str
    feature_names: list[str]
    label_name: str
    class_names: list[str]
    features: np.ndarray  # float32 [rows, n_features]
    labels: np.ndarray  # int32 [rows]

    @property
    def n_features(self) -> int:
        return self.features.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def test_mask(self) -> np.ndarray:
        return (np.arange(len(self.labels)) % TEST_EVERY) == TEST_EVERY - 1

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        keep = ~self.test_mask
        return self.features[keep], self.labels[keep]

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        keep = self.test_mask
        return self.features[keep], self.labels[keep]

    def describe(self) -> dict:
        """What the run spec records about the data."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "feature_names": self.feature_names,
            "label_column": self.label_name,
            "class_names": self.class_names,
            "rows": len(self.labels),
        }


def bundled_iris_bytes() -> bytes:
    return resource_files().joinpath("iris.csv").read_bytes()


def load_dataset(config: DataConfig, n_classes: int | None = None) -> Dataset:
    """Read ``config.source``; ``n_classes`` (from the network config) bounds integer labels."""
    if config.source == "iris":
        raw, name = bundled_iris_bytes(), "iris"
    else:
        name = os.path.expanduser(config.source)
        try:
            storage = storage_for(name)
        except StorageError as exc:
            raise DataError(str(exc)) from None
        info = storage.info(name)
        if info is None:
            raise DataError(f"{name}: no such file")
        if info.is_dir:
            raise DataError(f"{name}: is a directory, expected a CSV file")
        if not scheme_of(name) and not stat.S_ISREG(os.stat(name).st_mode):
            raise DataError(f"{name}: is not a regular file (a device or a pipe), expected a CSV file")
        if info.size > MAX_DATA_BYTES:
            raise DataError(f"{name}: {info.size:,} bytes; data files up to {MAX_DATA_BYTES // 2**20} MiB are read")
        try:
            raw = storage.read(name, 0, MAX_DATA_BYTES + 1)  # a file growing after the look stays bounded too
        except OSError as exc:
            raise DataError(f"{name}: cannot be read ({exc.strerror})") from None
        if len(raw) > MAX_DATA_BYTES:
            raise DataError(f"{name}: more than {MAX_DATA_BYTES // 2**20} MiB; data files up to that size are read")
    return parse_csv(raw, name, config.label_column, n_classes)


def parse_csv(raw: bytes, name: str, label_column: str | None = None, n_classes: int | None = None) -> Dataset:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{name}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
    rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text)), start=1) if row]
    if not rows:
        raise DataError(f"{name}: the file is empty; expected a header row and data rows")
    header_line, header = rows[0]
    header = [cell.strip() for cell in header]
    body = rows[1:]
    if not body:
        raise DataError(f"{name}: line {header_line}: a header but no data rows")
    if _is_tutorial_header(header):
        return _parse_tutorial(header, body, name, digest, label_column, n_classes)
    return _parse_named(header, body, name, digest, label_column, n_classes)


def _is_tutorial_header(header: list[str]) -> bool:
    return len(header) >= 2 and header[0].isdigit() and header[1].isdigit()


def _parse_tutorial(header, body, name, digest, label_column, n_classes) -> Dataset:
    n_features = int(header[1])
    found = len(body[0][1]) - 1
    if n_features != found:
        raise DataError(f"{name}: line 1 declares {header[1]} features, line {body[0][0]} has {found}; fix the header")
    class_names = header[2:]
    feature_names = IRIS_FEATURES if n_features == len(IRIS_FEATURES) else [f"feature_{i}" for i in range(n_features)]
    columns = [*feature_names, IRIS_LABEL]
    if label_column not in (None, IRIS_LABEL):
        raise DataError(f"{name}: label column {label_column!r} not found; this file's label column is {IRIS_LABEL!r}")
    features, labels = _numeric_rows(body, name, columns, len(columns) - 1)
    int_labels = _integer_labels(labels, body, name, IRIS_LABEL)
    bound = n_classes or len(class_names) or int(int_labels.max()) + 1
    _check_label_range(int_labels, body, name, IRIS_LABEL, bound)
    if not class_names or len(class_names) < bound:
        class_names = [*class_names, *(str(i) for i in range(len(class_names), bound))]
    return Dataset(name, digest, feature_names, IRIS_LABEL, class_names[:bound], features, int_labels)


def _parse_named(header, body, name, digest, label_column, n_classes) -> Dataset:
    if len(header) < 2:
        raise DataError(f"{name}: line 1: expected at least two columns (features and a label), found {len(header)}")
    label_column = label_column or header[-1]
    if label_column not in header:
        raise DataError(f"{name}: label column {label_column!r} not found; columns are {', '.join(header)}")
    label_index = header.index(label_column)
    features, labels = _numeric_rows(body, name, header, label_index)
    feature_names = [c for i, c in enumerate(header) if i != label_index]
    if all(_is_number(value) for value in labels):
        int_labels = _integer_labels(labels, body, name, label_column)
        bound = n_classes or int(int_labels.max()) + 1
        _check_label_range(int_labels, body, name, label_column, bound)
        class_names = [str(i) for i in range(bound)]
    else:
        numeric = [i for i, value in enumerate(labels) if _is_number(value)]
        if numeric:
            line = body[numeric[0]][0]
            raise DataError(
                f"{name}: line {line}, column {label_column!r}: {labels[numeric[0]]!r} is a number but other "
                "labels are class names; use one kind"
            )
        class_names = sorted(set(labels))
        if n_classes is not None and len(class_names) > n_classes:
            raise DataError(
                f"{name}: column {label_column!r} has {len(class_names)} classes, more than n_classes={n_classes}"
            )
        index = {c: i for i, c in enumerate(class_names)}
        int_labels = np.array([index[value] for value in labels], dtype=np.int32)
        if n_classes is not None:
            class_names += [str(i) for i in range(len(class_names), n_classes)]
    if len(class_names) < 2:
        raise DataError(
            f"{name}: column {label_column!r} holds one class only ({class_names[0]}); a classifier needs at least "
            "2 (declare them with n_classes when the data lacks some)"
        )
    return Dataset(name, digest, feature_names, label_column, class_names, features, int_labels)


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _numeric_rows(body, name, columns, label_index) -> tuple[np.ndarray, list[str]]:
    width = len(columns)
    features = np.empty((len(body), width - 1), dtype=np.float32)
    labels: list[str] = []
    for row_index, (line, row) in enumerate(body):
        if len(row) != width:
            raise DataError(f"{name}: line {line}: {len(row)} columns, expected {width} ({', '.join(columns)})")
        out = 0
        for col, cell in enumerate(row):
            cell = cell.strip()
            if col == label_index:
                labels.append(cell)
                continue
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise DataError(f"{name}: line {line}, column {columns[col]!r}: {cell!r} is not a finite number")
            features[row_index, out] = value
            out += 1
    return features, labels


def _integer_labels(labels, body, name, label_column) -> np.ndarray:
    values = []
    for (line, _row), value in zip(body, labels, strict=True):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not number.is_integer():
            raise DataError(f"{name}: line {line}, column {label_column!r}: label {value!r} is not an integer class id")
        if number >= MAX_CLASSES:  # before any array or class list is sized by it
            raise DataError(
                f"{name}: line {line}, column {label_column!r}: label {value} is above the largest class id "
                f"allowed ({MAX_CLASSES - 1}); labels are class ids 0..n_classes-1"
            )
        values.append(int(number))
    return np.array(values, dtype=np.int32)


def _check_label_range(labels, body, name, label_column, n_classes) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        line = body[bad[0]][0]
        raise DataError(
            f"{name}: line {line}, column {label_column!r}: label {labels[bad[0]]} is outside 0..{n_classes - 1} "
            f"(n_classes={n_classes})"
        )
