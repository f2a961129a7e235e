"""The engine reproduces the guide's checkpoint behaviour on real TensorFlow training."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import tensorflow as tf

from ckptgui.engine.training import (
    CheckpointDeleted,
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    IncompatibleCheckpointError,
    Paused,
    Progress,
    Resumed,
    Started,
    Trainer,
    preflight,
)
from ckptgui.modeldir.config import ConfigError, NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.records import read_run_log, read_written, set_pinned
from ckptgui.modeldir.retention import why_kept


def spec_for(model_dir, steps=200, hidden_units=(10, 10), **schedule) -> RunSpec:
    schedule.setdefault("save_checkpoints_steps", 100)
    return RunSpec(
        network=NetworkConfig(hidden_units=list(hidden_units), steps=steps),
        schedule=ScheduleConfig(**schedule),
        model_dir=str(model_dir) if model_dir is not None else None,
        seed=7,
    )


def checkpoint_steps_on_disk(model_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1].split(".")[0]) for p in model_dir.glob("model.ckpt-*.index"))


def listed_steps(model_dir: Path) -> list[int]:
    state = tf.train.get_checkpoint_state(str(model_dir))
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]


def snapshot(model_dir: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(model_dir)): (p.stat().st_size, p.stat().st_mtime_ns) for p in model_dir.rglob("*")}


def test_schedule_example_from_the_issue_keeps_exactly_500_550_600(tmp_path):
    events = []
    finished = Trainer(spec_for(tmp_path, 600, save_checkpoints_steps=50, keep_checkpoint_max=3)).run(events.append)
    assert finished == Finished(600, stopped=False)
    assert checkpoint_steps_on_disk(tmp_path) == [500, 550, 600]
    assert listed_steps(tmp_path) == [500, 550, 600]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-600")
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert saved == list(range(0, 601, 50))  # the first file is model.ckpt-0, as Estimator wrote it
    deleted = [e.step for e in events if isinstance(e, CheckpointDeleted)]
    assert deleted == list(range(0, 451, 50))
    assert not list(tmp_path.glob("*_temp*"))


def test_a_fresh_run_writes_the_guides_files(tmp_path):
    events = []
    Trainer(spec_for(tmp_path, 200, keep_checkpoint_max=0)).run(events.append)
    assert checkpoint_steps_on_disk(tmp_path) == [0, 100, 200]
    assert sorted(p.name for p in tmp_path.glob("model.ckpt-200.*")) == [
        "model.ckpt-200.data-00000-of-00001",
        "model.ckpt-200.index",
    ]
    assert (tmp_path / "graph.pbtxt").stat().st_size > 0
    assert list(tmp_path.glob("events.out.tfevents.*")) and list((tmp_path / "eval").glob("events.out.tfevents.*"))
    keys = dict(tf.train.list_variables(str(tmp_path / "model.ckpt-200")))
    assert keys["dnn/hiddenlayer_0/kernel/.ATTRIBUTES/VARIABLE_VALUE"] == [4, 10]
    assert keys["dnn/logits/bias/.ATTRIBUTES/VARIABLE_VALUE"] == [3]
    assert keys["dnn/hiddenlayer_1/kernel/.OPTIMIZER_SLOT/optimizer/accumulator/.ATTRIBUTES/VARIABLE_VALUE"] == [10, 10]
    assert (
        tf.train.load_checkpoint(str(tmp_path / "model.ckpt-200")).get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE")
        == 200
    )
    evaluated = [e for e in events if isinstance(e, Evaluated)]
    assert [e.step for e in evaluated] == [0, 100, 200]
    assert evaluated[-1].metrics["accuracy"] > evaluated[0].metrics["accuracy"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].step == 200 and progress[-1].steps_per_sec > 0


def test_the_run_spec_file_records_what_made_each_checkpoint(tmp_path):
    Trainer(spec_for(tmp_path, 100)).run()
    Trainer(spec_for(tmp_path, 100)).run()
    log = read_run_log(tmp_path)
    assert [h["start_step"] for h in log.history] == [0, 100]
    assert [h["end_step"] for h in log.history] == [100, 200]
    assert log.history[1]["resumed_from"] == "model.ckpt-100"
    assert log.history[0]["network"]["hidden_units"] == [10, 10]
    assert log.history[0]["versions"]["tensorflow"] == tf.__version__
    assert log.data["sha256"] and log.data["feature_names"][0] == "SepalLength"
    steps, metrics = read_written(tmp_path)
    assert steps == {0, 100, 200}
    assert set(metrics[200]) == {"accuracy", "loss"}
    assert json.loads((tmp_path / "ckptgui_run.json").read_text())["format"] == "ckptgui-run/1"


def test_a_second_call_restores_the_latest_checkpoint_and_continues_the_global_step(tmp_path):
    Trainer(spec_for(tmp_path, 200)).run()
    weights_200 = tf.train.load_checkpoint(str(tmp_path / "model.ckpt-200")).get_tensor(
        "dnn/logits/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    )
    events = []
    finished = Trainer(spec_for(tmp_path, 200)).run(events.append)
    started = events[0]
    assert isinstance(started, Started)
    assert (started.start_step, started.target_step) == (200, 400)
    assert started.resumed_from.endswith("model.ckpt-200")
    assert finished.step == 400
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [300, 400]  # 200 is not written again
    assert checkpoint_steps_on_disk(tmp_path) == [0, 100, 200, 300, 400]
    first_progress = next(e for e in events if isinstance(e, Progress))
    assert first_progress.loss < 0.9  # trained weights were restored, not a fresh start (≈1.1 for 3 classes)
    assert weights_200.shape == (10, 3)


def test_an_incompatible_network_is_refused_before_anything_is_written(tmp_path):
    Trainer(spec_for(tmp_path, 100)).run()
    before = snapshot(tmp_path)
    wider = spec_for(tmp_path, 100, hidden_units=(20, 20))
    report = preflight(wider)
    assert report is not None and not report.compatible
    with pytest.raises(IncompatibleCheckpointError) as caught:
        Trainer(wider)
    message = str(caught.value)
    assert "dnn/hiddenlayer_0/kernel: checkpoint [4, 10], config [4, 20]" in message
    assert "dnn/hiddenlayer_1/bias: checkpoint [10], config [20]" in message
    assert caught.value.report.summary
    assert snapshot(tmp_path) == before
    assert preflight(spec_for(tmp_path, 100)).compatible


def test_stop_from_another_thread_writes_a_final_checkpoint_at_the_step_reached(tmp_path):
    trainer = Trainer(spec_for(tmp_path, 10_000_000, save_checkpoints_steps=None, save_checkpoints_secs=3600))
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, Progress) and event.step >= 1000:
            threading.Thread(target=trainer.stop).start()

    finished = trainer.run(on_event)
    assert finished.stopped and 1000 <= finished.step < 10_000_000
    assert checkpoint_steps_on_disk(tmp_path) == [0, finished.step]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith(f"model.ckpt-{finished.step}")
    last_progress = [e for e in events if isinstance(e, Progress)][-1]
    assert finished.step == last_progress.step  # stopped within one compiled chunk, nothing lost


def test_pause_and_resume_are_cooperative(tmp_path):
    trainer = Trainer(spec_for(tmp_path, 2000))
    seen = []
    iterator = trainer.events()
    for event in iterator:
        seen.append(event)
        if isinstance(event, Progress) and not trainer.is_paused and not any(isinstance(e, Paused) for e in seen):
            trainer.pause()
        if isinstance(event, Paused):
            assert trainer.is_paused
            threading.Timer(0.05, trainer.resume).start()
        if isinstance(event, Finished):
            break
    kinds = [type(e) for e in seen]
    assert kinds.index(Paused) < kinds.index(Resumed) < kinds.index(Finished)
    assert seen[-1] == Finished(2000, stopped=False)


def test_a_pause_that_arrives_after_the_stop_does_not_hold_the_trainer(tmp_path):
    """Stop, then pause (a button pressed twice, or timers racing): the run still stops with its final checkpoint."""
    trainer = Trainer(spec_for(tmp_path, 10_000_000))
    trainer.stop()
    trainer.pause()
    runs: list[Finished] = []
    worker = threading.Thread(target=lambda: runs.append(trainer.run()), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert runs, "the trainer stayed paused after stop()"
    finished = runs[0]
    assert finished.stopped and not trainer.is_paused
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith(f"model.ckpt-{finished.step}")


def test_keep_every_n_hours_preserves_swept_checkpoints(tmp_path):
    Trainer(spec_for(tmp_path, 400, keep_checkpoint_max=1, keep_checkpoint_every_n_hours=1e-9)).run()
    assert checkpoint_steps_on_disk(tmp_path) == [0, 100, 200, 300, 400]
    assert listed_steps(tmp_path) == [400]
    assert read_run_log(tmp_path).preserved == [0, 100, 200, 300]


def test_pinned_checkpoints_survive_retention(tmp_path):
    Trainer(spec_for(tmp_path, 100, keep_checkpoint_max=1)).run()
    set_pinned(tmp_path, 100)
    Trainer(spec_for(tmp_path, 300, keep_checkpoint_max=1)).run()
    assert checkpoint_steps_on_disk(tmp_path) == [100, 400]


def test_time_based_schedule_checkpoints_between_start_and_end(tmp_path):
    events = []
    Trainer(
        spec_for(tmp_path, 30_000, save_checkpoints_steps=None, save_checkpoints_secs=0.05, keep_checkpoint_max=0)
    ).run(events.append)
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert saved[0] == 0 and saved[-1] == 30_000 and len(saved) > 2


def test_a_fresh_temporary_model_dir_is_made_when_none_is_given():
    trainer = Trainer(spec_for(None, 10))
    assert trainer.model_dir.is_dir() and trainer.model_dir.name.startswith("ckptgui-")
    trainer.run()
    assert checkpoint_steps_on_disk(trainer.model_dir) == [0, 10]


def test_a_model_dir_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"model_dir: .* is a file; expected a directory"):
        Trainer(spec_for(target, 10))


def test_a_failed_save_is_reported_and_earlier_checkpoints_stay(tmp_path):
    Trainer(spec_for(tmp_path, 100)).run()
    trainer = Trainer(spec_for(tmp_path, 100))
    events = trainer.events()
    for event in events:
        if isinstance(event, Started):
            (tmp_path / "model.ckpt-200.index").mkdir()  # the next save cannot write its index
    failures = [e for e in [event] if isinstance(e, Failed)]
    assert failures and "model.ckpt-200" in failures[0].message
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-100")
    assert checkpoint_steps_on_disk(tmp_path)[:2] == [0, 100]


def test_keep_best_also_keeps_the_most_accurate_checkpoints(tmp_path):
    spec = spec_for(tmp_path, 600, keep_checkpoint_max=1, keep_best_max=2, best_metric="loss")
    events = []
    Trainer(spec).run(events.append)
    losses = {e.step: e.metrics["loss"] for e in events if isinstance(e, Evaluated)}
    best_two = sorted(sorted(losses, key=losses.get)[:2])
    assert checkpoint_steps_on_disk(tmp_path) == sorted({*best_two, 600})
    reasons = why_kept(tmp_path)
    assert reasons[600][0] == "latest 1"
    for step in best_two:
        assert "best 2 by loss" in reasons[step]


def test_retention_never_deletes_checkpoints_it_did_not_write(tmp_path):
    foreign = tmp_path / "model.ckpt-5"
    classifier_dir = tmp_path / "other"
    Trainer(spec_for(classifier_dir, 5)).run()
    for path in classifier_dir.glob("model.ckpt-5.*"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "checkpoint").write_text(
        f'model_checkpoint_path: "{foreign.name}"\nall_model_checkpoint_paths: "{foreign.name}"\n'
    )
    (tmp_path / "weights.01.weights.h5").write_bytes(b"keras file, not ours")
    (tmp_path / "notes.txt").write_text("unrelated")
    Trainer(spec_for(tmp_path, 300, keep_checkpoint_max=1)).run()
    assert checkpoint_steps_on_disk(tmp_path) == [5, 305]
    assert (tmp_path / "weights.01.weights.h5").read_bytes() == b"keras file, not ours"
    assert (tmp_path / "notes.txt").read_text() == "unrelated"
    assert why_kept(tmp_path)[5] == ["not written by ckptgui"]


def test_evaluate_and_predict_restore_any_step_into_a_fresh_model(tmp_path):
    trainer = Trainer(spec_for(tmp_path, 300, keep_checkpoint_max=0))
    evaluated = {}
    trainer.run(lambda e: evaluated.update({e.step: e.metrics}) if isinstance(e, Evaluated) else None)
    for step in (0, 100, 300):
        result = trainer.evaluate(step=step)
        assert result.step == step and result.examples == 30
        assert result.accuracy == pytest.approx(evaluated[step]["accuracy"], abs=1e-6)
        assert result.loss == pytest.approx(evaluated[step]["loss"], rel=1e-4)
    assert trainer.evaluate().step == 300
    flowers = [[5.1, 3.3, 1.7, 0.5], [5.9, 3.0, 4.2, 1.5], [6.9, 3.1, 5.4, 2.1]]
    at_0, at_300 = trainer.predict(flowers, step=0), trainer.predict(flowers)
    for prediction in at_300:
        assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert [p.probabilities for p in at_0] != [p.probabilities for p in at_300]
    assert at_300[0].class_name == "setosa"


ESTIMATOR_DIR = Path(__file__).parents[1] / "fixtures" / "estimator_dnn_iris"


def test_warm_start_from_an_estimator_checkpoint_reorders_its_sorted_input_columns(tmp_path):
    expected = json.loads((ESTIMATOR_DIR / "expected.json").read_text())["evaluate_by_step"]["200"]["test_30"]
    spec = spec_for(tmp_path, 1)
    spec.network.learning_rate = 1e-12  # one step that changes nothing measurable
    events = []
    Trainer(spec, warm_start_from=str(ESTIMATOR_DIR / "model.ckpt-200")).run(events.append)
    assert "warm-started 6 variables" in " ".join(events[0].notes)
    first_eval = next(e for e in events if isinstance(e, Evaluated))
    assert first_eval.step == 0
    assert first_eval.metrics["loss"] == pytest.approx(expected["average_loss"], abs=1e-5)


def test_training_continues_an_estimator_model_dir_without_touching_its_files(tmp_path):
    model_dir = tmp_path / "estimator"
    shutil.copytree(ESTIMATOR_DIR, model_dir)
    before = {p.name: p.read_bytes() for p in model_dir.glob("model.ckpt-*")}
    events = []
    finished = Trainer(spec_for(model_dir, 100, keep_checkpoint_max=1)).run(events.append)
    assert events[0].start_step == 200 and finished.step == 300
    assert {p.name: p.read_bytes() for p in model_dir.glob("model.ckpt-*") if p.name in before} == before
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("model.ckpt-300")


def test_many_runs_in_one_process_trace_nothing_twice(tmp_path, caplog):
    """The window trains again and again in one process: TensorFlow must not start warning about retracing."""
    caplog.set_level("WARNING", logger="tensorflow")
    for run in range(6):
        Trainer(spec_for(tmp_path / str(run), 20, save_checkpoints_steps=10)).run()
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
