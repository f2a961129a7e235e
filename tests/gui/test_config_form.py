"""The config form: invalid fields marked inline with the config's own message; Start only when all is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import WINDOW_TIMEOUT_MS, save_screenshot

from ckptgui.modeldir.config import ConfigError, NetworkConfig, RunSpec


def error_label(window, field: str):
    return window.config.findChild(type(window.config.data_info), f"error_{field}")


def test_invalid_fields_are_marked_and_block_start(qtbot, window):
    form = window.config
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)

    form.learning_rate.setText("abc")
    form.batch_size.setText("0")
    form.steps.setText("1.5")
    form.dropout.setText("1")
    qtbot.waitUntil(lambda: not window.window_actions.start.isEnabled())
    errors = form.errors
    assert set(errors) == {"learning_rate", "batch_size", "steps", "dropout"}
    for field in errors:
        label = error_label(window, field)
        assert label.isVisible()
        assert label.full_text == errors[field] == label.toolTip()
    # The messages are the config's own: they name the value and what is allowed.
    with pytest.raises(ConfigError) as raised:
        NetworkConfig(batch_size=0)
    assert errors["batch_size"] == raised.value.message
    assert '"abc"' in errors["learning_rate"] and "> 0" in errors["learning_rate"]
    assert "[0, 1)" in errors["dropout"]
    assert not form.valid
    save_screenshot(window, "config-invalid-fields")

    form.learning_rate.setText("0.1")
    form.batch_size.setText("32")
    form.steps.setText("10")
    form.dropout.setText("")
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled())
    assert form.errors == {}
    assert not error_label(window, "batch_size").isVisible()
    spec = form.spec()
    assert (spec.network.learning_rate, spec.network.batch_size, spec.network.steps) == (0.1, 32, 10)


def test_hidden_units_edited_as_a_list(qtbot, window):
    editor = window.config.hidden_units
    editor.set_units([10, 10])
    editor.add_button.click()
    editor.spin_boxes()[2].setValue(7)
    editor.remove_layer(0)
    qtbot.waitUntil(lambda: window.config.valid)
    assert window.config.spec().network.hidden_units == [10, 7]
    editor.remove_layer(0)
    editor.remove_layer(0)
    qtbot.waitUntil(lambda: "hidden_units" in window.config.errors)
    assert not window.window_actions.start.isEnabled()
    assert "positive integers" in window.config.errors["hidden_units"]


def test_schedule_by_seconds_and_exclusive_fields(qtbot, window):
    form = window.config
    form.save_unit.setCurrentText("seconds")
    form.save_every.setText("0")
    qtbot.waitUntil(lambda: "save_checkpoints_secs" in form.errors)
    assert error_label(window, "save_checkpoints").isVisible()
    form.save_every.setText("2.5")
    qtbot.waitUntil(lambda: form.valid)
    schedule = form.spec().schedule
    assert schedule.save_checkpoints_secs == 2.5
    assert schedule.save_checkpoints_steps is None


def test_csv_data_errors_name_the_file_and_line(qtbot, window, tmp_path: Path):
    form = window.config
    form.data_kind.setCurrentIndex(1)
    missing = tmp_path / "missing.csv"
    form.data_path.setText(str(missing))
    qtbot.waitUntil(lambda: "data" in form.errors, timeout=WINDOW_TIMEOUT_MS)
    assert "no such file" in form.errors["data"] and str(missing) in form.errors["data"]
    assert not window.window_actions.start.isEnabled()

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n", encoding="utf-8")
    form.data_path.setText(str(bad))
    qtbot.waitUntil(lambda: "line 3" in form.errors.get("data", ""), timeout=WINDOW_TIMEOUT_MS)
    assert "'b'" in form.errors["data"]

    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20)), encoding="utf-8")
    form.data_path.setText(str(good))
    qtbot.waitUntil(lambda: form.valid, timeout=WINDOW_TIMEOUT_MS)
    assert form.dataset.n_classes == 2
    assert "16 train / 4 test rows" in form.data_info.text()


def test_a_long_message_keeps_to_its_line_and_shows_whole_in_its_tooltip(qtbot, window, tmp_path: Path):
    window.resize(1280, 720)
    form = window.config
    qtbot.waitUntil(lambda: form.valid, timeout=WINDOW_TIMEOUT_MS)
    form.data_kind.setCurrentIndex(1)
    qtbot.waitUntil(lambda: "data" in form.errors, timeout=WINDOW_TIMEOUT_MS)  # an empty path: a short message
    qtbot.wait(50)
    below = form.label_column.mapTo(form, form.label_column.rect().topLeft()).y()
    width = form.width()
    missing = tmp_path / ("a-folder-with-a-long-name-" * 6) / "and-a-csv-file-with-a-long-name-too.csv"
    form.data_path.setText(str(missing))
    qtbot.waitUntil(lambda: "no such file" in form.errors.get("data", ""), timeout=WINDOW_TIMEOUT_MS)
    qtbot.wait(50)
    assert form.label_column.mapTo(form, form.label_column.rect().topLeft()).y() == below
    assert form.width() == width
    label = error_label(window, "data")
    message = form.errors["data"]
    assert label.isVisible() and label.full_text == message == label.toolTip()
    assert label.fontMetrics().horizontalAdvance(message) > label.width()  # it would take several lines
    assert label.text() != message and "…" in label.text()
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    save_screenshot(window, "config-long-message-elided")


def test_model_dir_that_is_a_file_is_refused(qtbot, window, tmp_path: Path):
    afile = tmp_path / "not-a-dir"
    afile.write_text("x", encoding="utf-8")
    window.workspace.set_model_dir(str(afile))
    qtbot.waitUntil(lambda: "model_dir" in window.config.errors)
    assert "is a file" in window.config.errors["model_dir"]
    assert not window.window_actions.start.isEnabled()


def test_last_config_is_remembered(qtbot, make_window, isolated_settings: Path):
    first = make_window()
    first.config.hidden_units.set_units([16, 8, 4])
    first.config.learning_rate.setText("0.02")
    qtbot.waitUntil(lambda: first.config.valid)
    first.close()
    assert any(isolated_settings.rglob("*.ini")), "settings go to the isolated folder"
    second = make_window()
    network = second.config.spec().network
    assert network.hidden_units == [16, 8, 4]
    assert network.learning_rate == 0.02


def test_devices_tensorflow_sees_are_listed_and_make_the_distribution(qtbot, window):
    form = window.config
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
    assert "CPU:0" in form.devices.boxes  # listed once TensorFlow loaded, by the names the config takes
    assert not form.devices.devices_row.isEnabled()  # default: one device, nothing to choose
    assert (form.spec().distribution, form.spec().devices) == ("default", [])

    form.devices.distribution.setCurrentIndex(form.devices.distribution.findData("mirrored"))
    form.devices.boxes["CPU:0"].setChecked(True)
    assert form.devices.devices_row.isEnabled()
    assert (form.spec().distribution, form.spec().devices) == ("mirrored", ["CPU:0"])

    form.devices.set_values("one_device", ["CPU:0", "GPU:7"])  # GPU:7 not seen: kept, for the trainer to refuse
    qtbot.waitUntil(lambda: not window.window_actions.start.isEnabled())
    assert form.errors["devices"] == "one_device takes one device, not 2"
    assert error_label(window, "devices").full_text == "one_device takes one device, not 2"

    form.set_spec(RunSpec(distribution="multi_worker"))  # the command line's: shown as default here
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
    assert form.spec().distribution == "default"
