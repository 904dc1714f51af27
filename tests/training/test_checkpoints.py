"""Crash-safe training checkpoints: the file format, a run SIGKILLed mid-write, damaged and changed runs.

The module fixture trains three runs of the same 15-step config in
subprocesses (`_processes.run_worker`): one SIGKILLed while it writes its
3rd checkpoint (step 15), then that run resumed, and an uninterrupted one.
The killed run's directory (good checkpoints at steps 5 and 10, a torn
temporary file of step 15) is copied before the resume, and the tests below
damage copies of it. Dropout stays on (the preset's 0.1): the checkpoint
holds the dropout seed state, so resumed runs must still match exactly.
"""

import argparse
import json
import os
import re
import shutil
import types
import warnings

import numpy as np
import pytest

from kerasnlp_lite.training import (
    CheckpointError,
    CheckpointWarning,
    TrainConfig,
    TrainingDivergedError,
    check_resumable,
    train,
)
from kerasnlp_lite.training.callbacks import StopOnNonFiniteLoss, TrainingCheckpoint, restore_state
from kerasnlp_lite.training.checkpointing import latest_checkpoint, list_checkpoints, read_checkpoint, write_checkpoint
from kerasnlp_lite.training.cli import add_train_parser, run_train
from tests.training._processes import max_weight_diff, run_worker, weights

TINY = dict(
    model="gpt2_tiny", global_batch_size=8, sequence_length=32, vocabulary_size=300, max_documents=300,
    warmup_steps=2, learning_rate=1e-3, verbose=0, steps=15, checkpoint_every=5,
)


# --- the file format, without training -------------------------------------------------------------------
def _arrays(step):
    return [np.full((2, 3), step, "float32"), np.arange(4, dtype="int64") + step]


def _write(directory, step, keep=2):
    return write_checkpoint(str(directory), step, _arrays(step), ["a", "b"], {"config": {"steps": 15}}, keep=keep)


def _flip_byte(path, offset=None):
    data = bytearray(open(path, "rb").read())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0x10
    open(path, "wb").write(bytes(data))


def _data_path(directory, step):
    (checkpoint,) = [c for c in list_checkpoints(str(directory)) if c.step == step]
    return os.path.join(str(directory), checkpoint.manifest["data"])


def test_round_trip_keeps_two_and_cleans_leftovers(tmp_path):
    for step in (5, 10):
        _write(tmp_path, step)
    # What a kill leaves: a torn temporary file and a data file whose manifest was never written.
    (tmp_path / "ckpt-000000015-0123abcd.npz.tmp-99").write_bytes(b"torn")
    (tmp_path / "ckpt-000000015-0123abcd.npz").write_bytes(b"no manifest names me")
    checkpoint, arrays = latest_checkpoint(str(tmp_path))
    assert checkpoint.step == 10 and [a.tolist() for a in arrays] == [a.tolist() for a in _arrays(10)]
    _write(tmp_path, 15)
    assert [c.step for c in list_checkpoints(str(tmp_path))] == [15, 10]  # the newest two
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["ckpt-000000015.json", "ckpt-000000010.json",
         os.path.basename(_data_path(tmp_path, 15)), os.path.basename(_data_path(tmp_path, 10))])
    # Resuming from 10 and writing 12 drops the checkpoint of the abandoned step 15.
    _write(tmp_path, 12)
    assert [c.step for c in list_checkpoints(str(tmp_path))] == [12, 10]
    with pytest.raises(ValueError, match="at least 2"):
        _write(tmp_path, 20, keep=1)


def test_damaged_checkpoints_fall_back_then_fail_clearly(tmp_path):
    for step in (5, 10):
        _write(tmp_path, step)
    _flip_byte(_data_path(tmp_path, 10))
    with pytest.warns(CheckpointWarning, match="step 10.*sha256"):
        checkpoint, arrays = latest_checkpoint(str(tmp_path))
    assert checkpoint.step == 5 and arrays[0][0, 0] == 5
    # A flipped bit in a manifest that still parses (the step 5 -> 7: another data position) fails its own sha256.
    manifest = tmp_path / "ckpt-000000005.json"
    assert '"step": 5,' in manifest.read_text()
    manifest.write_text(manifest.read_text().replace('"step": 5,', '"step": 7,'))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match="No usable checkpoint.*step 10.*step 5.*fresh weights"):
            latest_checkpoint(str(tmp_path))
    assert len([w for w in caught if issubclass(w.category, CheckpointWarning)]) == 2
    assert latest_checkpoint(str(tmp_path / "none")) == (None, None)


def test_read_checks_the_data_it_is_given(tmp_path):
    _write(tmp_path, 5)
    (checkpoint,) = list_checkpoints(str(tmp_path))
    os.remove(_data_path(tmp_path, 5))
    with pytest.raises(CheckpointError, match="cannot read the data file"):
        read_checkpoint(checkpoint)


def test_callbacks_never_write_non_finite_state_and_restore_checks_shapes(tmp_path):
    import keras

    def model(units):
        dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
        dense.compile(optimizer="adam", loss="mse")
        return dense

    small = model(2)
    saver = TrainingCheckpoint(str(tmp_path), {"config": {}}, start_step=4)
    saver.set_model(small)
    saver.on_epoch_begin(0)
    saver.on_train_batch_end(1)  # two steps after step 4
    saver.on_epoch_end(0)
    (checkpoint,) = list_checkpoints(str(tmp_path))
    assert checkpoint.step == 6
    small.layers[0].kernel.assign(np.full((3, 2), np.nan, "float32"))
    saver.on_epoch_begin(1)
    saver.on_train_batch_end(1)
    with pytest.raises(TrainingDivergedError, match="not finite after step 8.*the last good checkpoint, step 6"):
        saver.on_epoch_end(1)
    assert [c.step for c in list_checkpoints(str(tmp_path))] == [6]  # nothing written from the NaN weights
    guard = StopOnNonFiniteLoss(start_step=0)
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, {"loss": 1.5})
    with pytest.raises(TrainingDivergedError, match="loss is inf after step 2"):
        guard.on_train_batch_end(1, {"loss": float("inf")})
    # A checkpoint restores into the same architecture only.
    arrays = read_checkpoint(checkpoint)
    names = [v["name"] for v in checkpoint.manifest["variables"]]
    same = model(2)
    restore_state(same, arrays, names, "ckpt")
    np.testing.assert_array_equal(same.layers[0].kernel.numpy(), arrays[0])
    with pytest.raises(CheckpointError, match=r"ckpt: model/.*kernel is float32\[3, 2\] in the checkpoint"):
        restore_state(model(4), arrays, names, "ckpt")


# --- a SIGKILL during a checkpoint write, and what a resumed run does with damaged or changed checkpoints ---------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checkpoints")
    killed = {"config": dict(TINY, out=str(tmp / "killed")), "kill_in_checkpoint_write": 3}
    code, output, arrays = run_worker(tmp, killed, name="killed")
    assert code == -9 and arrays is None, (code, output[-3000:])
    pristine = tmp / "pristine"
    shutil.copytree(tmp / "killed", pristine)
    code, output, resumed = run_worker(tmp, dict(killed, kill_in_checkpoint_write=None), name="resumed")
    assert code == 0, output[-3000:]
    code, output, straight = run_worker(tmp, {"config": dict(TINY, out=str(tmp / "straight"))}, name="straight")
    assert code == 0, output[-3000:]
    return types.SimpleNamespace(tmp=tmp, pristine=pristine, resumed=resumed, straight=straight)


def _copy(runs, name):
    out = runs.tmp / name
    shutil.copytree(runs.pristine, out)
    return out, out / "backup" / "worker_0"


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def _flags(config, out):
    return [part for name, value in dict(config, out=out).items() for part in ("--" + name.replace("_", "-"), str(value))]


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_resumes_to_the_uninterrupted_result(runs):
    backup = runs.pristine / "backup" / "worker_0"
    names = sorted(os.listdir(backup))
    # Killed inside the 3rd write: its torn temporary data file is there, its manifest is not.
    assert [c.step for c in list_checkpoints(str(backup))] == [10, 5]
    assert any(name.startswith("ckpt-000000015-") and ".tmp-" in name for name in names), names
    # Dropout is live and its seed state is in the checkpoints: it moved between steps 5 and 10.
    seeds = {}
    for checkpoint in list_checkpoints(str(backup)):
        arrays = read_checkpoint(checkpoint)
        seeds[checkpoint.step] = [a for a, v in zip(arrays, checkpoint.manifest["variables"]) if "seed" in v["name"]]
    assert seeds[5] and not all(np.array_equal(a, b) for a, b in zip(seeds[5], seeds[10]))
    resumed, straight = runs.resumed, runs.straight
    assert int(resumed["default/initial_step"]) == 10 and int(resumed["default/iterations"]) == 15
    assert int(straight["default/initial_step"]) == 0
    assert len(resumed["default/loss"]) == 1  # only the last epoch (steps 10-14) ran after the restart
    diff = max_weight_diff(weights(resumed, "default"), weights(straight, "default"))
    loss_diff = abs(float(resumed["default/loss"][-1]) - float(straight["default/loss"][-1]))
    print(f"resumed at step 10 after a torn write: weight diff vs uninterrupted {diff:.2e}, loss diff {loss_diff:.2e}")
    assert diff <= 1e-6 and loss_diff <= 1e-6, (diff, loss_diff)
    assert not (runs.tmp / "killed" / "backup" / "worker_0").exists()  # a finished run removes its checkpoints


@pytest.mark.slow
def test_flipped_bytes_fall_back_to_the_previous_checkpoint_and_train_to_the_same_result(runs):
    out, backup = _copy(runs, "flipped")
    _flip_byte(_data_path(backup, 10))
    with pytest.warns(CheckpointWarning, match="Skipping the checkpoint at step 10"):
        result = train(TrainConfig(**dict(TINY, out=str(out))))
    assert result.initial_step == 5 and len(result.history["loss"]) == 2  # steps 5-14, not fresh weights at 10
    diff = max(float(np.max(np.abs(np.asarray(w) - s)))
               for w, s in zip(result.model.weights, weights(runs.straight, "default")))
    print(f"fell back to step 5: weight diff vs uninterrupted {diff:.2e}")
    assert diff <= 1e-6, diff


@pytest.mark.slow
def test_deleted_latest_checkpoint_and_none_left(runs, capsys):
    config = dict(TINY, out=str(runs.tmp / "deleted"))
    out, backup = _copy(runs, "deleted")
    data_10 = _data_path(backup, 10)
    os.remove(data_10)  # the manifest is left: skipped with a warning
    with pytest.warns(CheckpointWarning, match="step 10.*cannot read the data file"):
        assert check_resumable(TrainConfig(**config)) == 5
    os.remove(backup / "ckpt-000000010.json")  # deleted whole: the previous one, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_resumable(TrainConfig(**config)) == 5
    # With no good checkpoint left: exit code 2 and one line, never fresh weights at a later data position.
    _flip_byte(_data_path(backup, 5))
    assert run_train(_parse(_flags(TINY, str(out)))) == 2
    lines = capsys.readouterr().err.splitlines()
    skipped, error = lines[0], lines[-1]
    assert skipped.startswith("kerasnlp-lite train: warning: Skipping the checkpoint at step 5"), skipped
    assert error.startswith("kerasnlp-lite train: error: No usable checkpoint") and "Traceback" not in error, error
    assert not (out / "model.keras").exists()


@pytest.mark.slow
def test_changed_config_is_refused_force_resumes_and_nan_saves_nothing(runs, capsys):
    out, backup = _copy(runs, "changed")
    argv = _flags(dict(TINY, learning_rate=1e30), str(out))
    assert run_train(_parse(argv)) == 2
    error = capsys.readouterr().err
    assert "learning_rate: 0.001 -> 1e+30" in error and "--force" in error and "Traceback" not in error, error
    # Fields that only say where or how fast the run goes may change: the stored step places the data.
    assert check_resumable(TrainConfig(**dict(TINY, out=str(out), checkpoint_every=3, jit_compile=True))) == 10
    # --force resumes at step 10 with the new learning rate, which diverges: exit code 1, nothing saved from it.
    previous_model = b"the previous model file"
    (out / "model.keras").write_bytes(previous_model)
    before = {name: (backup / name).read_bytes() for name in os.listdir(backup)}
    assert run_train(_parse([*argv, "--force"])) == 1
    lines = capsys.readouterr().err.splitlines()
    warning, error = lines[0], lines[-1]
    assert warning.startswith("kerasnlp-lite train: warning: ") and "with changed settings: learning_rate" in warning
    assert error.startswith("kerasnlp-lite train: error: ") and "Traceback" not in error, error
    # Stopped after step 10 (so it resumed there), naming the last good checkpoint.
    assert re.search(r"(loss is (nan|inf)|variables are not finite) after step 1[1-5]\b", error), error
    assert "the last good checkpoint, step 10" in error, error
    assert (out / "model.keras").read_bytes() == previous_model
    assert {name: (backup / name).read_bytes() for name in os.listdir(backup)} == before
    assert json.loads((out / "config.json").read_text())["learning_rate"] == 1e30  # what the failed run used
