"""One training run in a fresh process, for the tests that need one.

Usage: python _train_worker.py SPEC.json

SPEC: {"config": {TrainConfig fields}, "output": "result.npz",
       "logical_cpus": 2 (optional, configured before TF makes any tensor),
       "strategies": ["default", "mirrored"] (runs one after the other, outputs prefixed by the kind),
       "kill_after_epoch": k (optional: SIGKILL this process right after epoch k's checkpoint)}
Writes, per strategy: `{kind}/weights/{i}`, `{kind}/initial/{i}` (when fit starts), `{kind}/loss`, `{kind}/initial_step`.
"""

import json
import os
import signal
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    from kerasnlp_lite.training import configure_logical_cpus

    if spec.get("logical_cpus"):
        configure_logical_cpus(spec["logical_cpus"])
    import keras
    import numpy as np

    from kerasnlp_lite.training import TrainConfig, get_strategy, train

    class KillAfterCheckpoint(keras.callbacks.Callback):
        # Listed after BackupAndRestore, so its checkpoint of this epoch is on disk.
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == spec["kill_after_epoch"]:
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)

    arrays = {}

    class InitialWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [np.asarray(w.numpy(), "float32") for w in self.model.weights]

    for kind in spec.get("strategies", ["default"]):
        initial = InitialWeights()
        callbacks = [initial] + ([KillAfterCheckpoint()] if spec.get("kill_after_epoch") else [])
        config = dict(spec["config"])
        if len(spec.get("strategies", [])) > 1:
            config["out"] = os.path.join(config["out"], kind)
        result = train(TrainConfig(**config), strategy=get_strategy(kind), callbacks=callbacks)
        for i, weight in enumerate(result.model.weights):
            arrays[f"{kind}/weights/{i}"] = np.asarray(weight.numpy(), "float32")
        for i, weight in enumerate(initial.weights):
            arrays[f"{kind}/initial/{i}"] = weight
        arrays[f"{kind}/loss"] = np.asarray(result.history["loss"], "float64")
        arrays[f"{kind}/initial_step"] = np.asarray(result.initial_step)
        arrays[f"{kind}/iterations"] = np.asarray(int(result.model.optimizer.iterations.numpy()))
        arrays[f"{kind}/replicas"] = np.asarray(result.strategy.num_replicas_in_sync)
    np.savez(spec["output"], **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
