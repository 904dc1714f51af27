"""Running test subprocesses safely: own process group, wall-clock timeout, group killed in `finally`."""

import json
import os
import signal
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_process(command, timeout, env=None):
    """Runs `command`; returns (returncode, output). Kills its whole process group whatever happens."""
    environment = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    environment.pop("TF_CONFIG", None)
    environment.update(env or {})
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{command} ran past {timeout}s") from None
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def run_worker(tmp_path, spec, name="run", timeout=240):
    """Runs `_train_worker.py` on `spec`; returns (returncode, output, arrays or None)."""
    spec = dict(spec, output=str(tmp_path / f"{name}.npz"))
    spec_path = tmp_path / f"{name}.json"
    spec_path.write_text(json.dumps(spec))
    code, output = run_process([sys.executable, os.path.join(HERE, "_train_worker.py"), str(spec_path)], timeout)
    arrays = dict(np.load(spec["output"])) if os.path.exists(spec["output"]) else None
    return code, output, arrays


def weights(arrays, kind, which="weights"):
    count = len([k for k in arrays if k.startswith(f"{kind}/{which}/")])
    return [arrays[f"{kind}/{which}/{i}"] for i in range(count)]


def max_weight_diff(a, b):
    assert len(a) == len(b) and len(a) > 0
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


class Interrupted(Exception):
    """Raised by `InterruptAfterFirstCheckpoint`: an in-process stand-in for a crash after step one's epoch."""


def interrupt_after_first_checkpoint():
    """A Keras callback that raises `Interrupted` at the end of the first epoch.

    `train` runs its checkpoint callback before the ones it is given, so the
    first epoch's checkpoint is on disk when this raises.
    """
    import keras

    class InterruptAfterFirstCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise Interrupted()

    return InterruptAfterFirstCheckpoint()
