"""One training run in a fresh process, for the tests that need one.

Usage: python _train_worker.py SPEC.json

SPEC: {"config": {TrainConfig fields}, "output": "result.npz",
       "logical_cpus": 2 (optional, configured before TF makes any tensor),
       "strategies": ["default", "mirrored"] (runs one after the other, outputs prefixed by the kind),
       "kill_in_checkpoint_write": k (optional: SIGKILL this process while it writes its k-th checkpoint,
           leaving half of the data file's temporary file on disk, as a kill during the write would),
       "interrupt_after_epoch": {kind: k} (optional: that kind's run raises after epoch k's checkpoint,
           then `train` runs again in this process and resumes)}
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

    if spec.get("kill_in_checkpoint_write"):
        # The checkpoint writer renames each file into place with os.replace; the k-th data file
        # (.npz) is cut to half its length and the process killed before the rename.
        replace, count = os.replace, [0]

        def replace_or_die(source, destination):
            if str(destination).endswith(".npz"):
                count[0] += 1
                if count[0] == spec["kill_in_checkpoint_write"]:
                    os.truncate(source, os.path.getsize(source) // 2)
                    sys.stdout.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            replace(source, destination)

        os.replace = replace_or_die

    class Interrupted(Exception):
        pass

    class InterruptAfterCheckpoint(keras.callbacks.Callback):
        # `train` runs its checkpoint callback before the ones it is given: the epoch's checkpoint is on disk.
        def __init__(self, epoch):
            super().__init__()
            self.epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == self.epoch:
                raise Interrupted()

    arrays = {}

    class InitialWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if not hasattr(self, "weights"):  # the first run's start, not a resumed run's restored weights
                self.weights = [np.asarray(w.numpy(), "float32") for w in self.model.weights]

    for kind in spec.get("strategies", ["default"]):
        initial = InitialWeights()
        config = dict(spec["config"])
        if len(spec.get("strategies", [])) > 1:
            config["out"] = os.path.join(config["out"], kind)
        strategy = get_strategy(kind)
        interrupt = spec.get("interrupt_after_epoch", {}).get(kind)
        if interrupt:
            try:
                train(TrainConfig(**config), strategy=strategy, callbacks=[initial, InterruptAfterCheckpoint(interrupt)])
                raise AssertionError("the run was not interrupted")
            except Interrupted:
                pass
        result = train(TrainConfig(**config), strategy=strategy, callbacks=[initial])
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
