"""Bundled Iris with its documented split, user CSVs, and an error naming file, line and column for bad ones."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ckptgui.modeldir.config import DataConfig
from ckptgui.modeldir.data import IRIS_FEATURES, DataError, load_dataset


def test_bundled_iris_has_the_documented_120_30_split():
    data = load_dataset(DataConfig())
    assert data.feature_names == IRIS_FEATURES and data.label_name == "Species"
    assert data.class_names == ["setosa", "versicolor", "virginica"]
    train_x, _ = data.train
    test_x, test_y = data.test
    assert train_x.shape == (120, 4) and test_x.shape == (30, 4)
    assert np.bincount(test_y).tolist() == [10, 10, 10]
    np.testing.assert_allclose(test_x[0], [5.0, 3.6, 1.4, 0.2])  # the fifth data row of the file
    assert len(data.sha256) == 64


def write(tmp_path, text, name="data.csv", raw=None):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text)
    return str(path)


def test_named_header_with_label_column_and_class_names(tmp_path):
    path = write(tmp_path, "a,kind,b\n1,cat,2\n3,dog,4\n5,cat,6\n")
    data = load_dataset(DataConfig(source=path, label_column="kind"))
    assert data.feature_names == ["a", "b"] and data.class_names == ["cat", "dog"]
    assert data.labels.tolist() == [0, 1, 0]
    np.testing.assert_allclose(data.features[1], [3, 4])


def test_last_column_is_the_default_label(tmp_path):
    data = load_dataset(DataConfig(source=write(tmp_path, "x,y,label\n1,2,0\n3,4,2\n")))
    assert data.label_name == "label" and data.n_classes == 3


@pytest.mark.parametrize(
    ("content", "label", "message"),
    [
        ("", None, "the file is empty; expected a header row and data rows"),
        ("a,b\n", None, "line 1: a header but no data rows"),
        ("a,b,c\n1,2,0\n3,4\n", None, "line 3: 2 columns, expected 3 (a, b, c)"),
        ("a,b,c\n1,2,0\n3,x,1\n", None, "line 3, column 'b': 'x' is not a finite number"),
        ("a,b,c\n1,2,0\n3,inf,1\n", None, "line 3, column 'b': 'inf' is not a finite number"),
        ("a,b,c\n1,2,0\n3,4,1.5\n", None, "line 3, column 'c': label '1.5' is not an integer class id"),
        ("a,b,c\n1,2,0\n3,4,-1\n", None, "line 3, column 'c': label -1 is outside 0..0 (n_classes=1)"),
        ("a,b,c\n1,2,0\n", "d", "label column 'd' not found; columns are a, b, c"),
        ("a,b,c\n1,2,cat\n3,4,1\n", None, "line 3, column 'c': '1' is a number but other labels are class names"),
        ("4,2,x,y\n1,2,0\n1,2,5\n", None, "line 3, column 'Species': label 5 is outside 0..1 (n_classes=2)"),
    ],
)
def test_bad_csv_files_are_named_with_line_and_column(tmp_path, content, label, message):
    path = write(tmp_path, content)
    with pytest.raises(DataError) as caught:
        load_dataset(DataConfig(source=path, label_column=label))
    assert str(caught.value).startswith(f"{path}: {message}")


def test_labels_beyond_n_classes_are_refused(tmp_path):
    path = write(tmp_path, "a,label\n1,0\n2,3\n")
    with pytest.raises(DataError, match=r"line 3, column 'label': label 3 is outside 0..2 \(n_classes=3\)"):
        load_dataset(DataConfig(source=path), n_classes=3)


def test_non_utf8_missing_and_directory_paths(tmp_path):
    bad = write(tmp_path, None, raw=b"a,b\n1,\xff\n")
    with pytest.raises(DataError, match=r"line 2: not UTF-8 text \(byte 0xff\)"):
        load_dataset(DataConfig(source=bad))
    with pytest.raises(DataError, match="no such file"):
        load_dataset(DataConfig(source=str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match="is a directory, expected a CSV file"):
        load_dataset(DataConfig(source=str(tmp_path)))


# Hostile data: refused before anything is sized by it.


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "a,b,label\n1,2,2000000000\n3,4,0\n",
            "line 2, column 'label': label 2000000000 is above the largest class id",
        ),
        ("a,b,label\n1,2,9999999999999\n3,4,0\n", "label 9999999999999 is above the largest class id allowed (9999)"),
        ("30,1000000000,x,y\n1,2,0\n3,4,1\n", "line 1 declares 1000000000 features, line 2 has 2; fix the header"),
        ("a,b,label\n1,2,0\n3,4,0\n", "column 'label' holds one class only (0); a classifier needs at least 2"),
        ("a,b,label\n1,2,cat\n3,4,cat\n", "column 'label' holds one class only (cat)"),
    ],
)
def test_labels_and_headers_that_would_size_huge_arrays_are_refused(tmp_path, content, message):
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(DataConfig(source=write(tmp_path, content)))


def test_devices_pipes_and_oversized_files_are_refused_unread(tmp_path):
    import os

    from ckptgui.modeldir.data import MAX_DATA_BYTES

    with pytest.raises(DataError, match="/dev/zero: is not a regular file"):
        load_dataset(DataConfig(source="/dev/zero"))
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it would block until a writer comes
    with pytest.raises(DataError, match=r"pipe\.csv: is not a regular file"):
        load_dataset(DataConfig(source=str(fifo)))
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_DATA_BYTES + 1)  # sparse: no disk used
    with pytest.raises(DataError, match=r"huge.csv: 33,554,433 bytes; data files up to 32 MiB are read"):
        load_dataset(DataConfig(source=str(huge)))
