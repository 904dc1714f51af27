"""The Keras callbacks of `train`: crash-safe checkpoints, a guard against divergence, the stop at `steps`.

They count optimizer steps themselves, from the step the run (re)started at:
`fit`'s epoch and batch indices only give the step when every epoch since
step 0 had the same length, which a resumed run with another
`checkpoint_every` does not.
"""

import math

import keras
import numpy as np

from kerasnlp_lite.training.checkpointing import CheckpointError, write_checkpoint


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became NaN or infinite; nothing was saved from that point on."""


def training_state(model):
    """The variables a checkpoint holds, and their names: weights, seed state, optimizer variables.

    `model.non_trainable_variables` includes the `SeedGenerator` states of
    the dropout layers (Keras 3), so a resumed run draws the same dropout
    masks as an uninterrupted one. The optimizer is built first if it is not
    yet (it creates its variables lazily), so the list is the same before
    `fit` (restore) and during it (save).
    """
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    variables = [*model.trainable_variables, *model.non_trainable_variables]
    names = [f"model/{v.path}" for v in variables]
    names += [f"optimizer/{v.path}" for v in optimizer.variables]
    return variables + list(optimizer.variables), names


def restore_state(model, arrays, names, source):
    """Assigns checkpoint `arrays` (saved under `names`) to `model`'s training state.

    Variables are matched by position and checked by shape and dtype; the
    names only go into messages (Keras numbers unnamed layers and seed
    generators per process, so a rebuilt model's paths may differ).

    Raises:
        CheckpointError: the checkpoint's variables do not fit this model, naming the first that does not.
    """
    variables, expected = training_state(model)
    if len(arrays) != len(variables):
        raise CheckpointError(
            f"{source} holds {len(arrays)} variables and this model has {len(variables)}: it is a checkpoint of "
            "another model."
        )
    for variable, array, name, here in zip(variables, arrays, names, expected):
        if tuple(array.shape) != tuple(variable.shape) or np.dtype(array.dtype) != np.dtype(variable.dtype):
            raise CheckpointError(
                f"{source}: {name} is {array.dtype}{list(array.shape)} in the checkpoint, but {here} is "
                f"{variable.dtype}{list(variable.shape)} in this model."
            )
    for variable, array in zip(variables, arrays):
        variable.assign(array)


class _StepCounter(keras.callbacks.Callback):
    def __init__(self, start_step):
        super().__init__()
        self.step = start_step
        self._epoch_start = start_step

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of the call (steps_per_execution > 1 reports the call's end).
        self.step = self._epoch_start + batch + 1


class StopAtStep(_StepCounter):
    """Ends `fit` at `steps`, inside the last (shorter) epoch; that epoch's end (checkpoint, logs) still runs."""

    def __init__(self, steps, start_step=0):
        super().__init__(start_step)
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step >= self.steps:
            self.model.stop_training = True


class StopOnNonFiniteLoss(_StepCounter):
    """Raises `TrainingDivergedError` at the first NaN or infinite loss, before that epoch's checkpoint.

    Keras' `TerminateOnNaN` only sets `stop_training`: the epoch end still
    runs, so a checkpoint (and then the final model) would be written from
    the diverged weights. Raising ends `fit` at once.
    """

    def __init__(self, start_step=0, last_good=None):
        super().__init__(start_step)
        self.last_good = last_good

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDivergedError(
                f"The loss is {float(loss)} after step {self.step}: training stopped before saving anything from it "
                f"({self.last_good() if self.last_good else 'nothing was written'}). Lower --learning-rate (or "
                "check the data) and rerun; changed flags need --force to resume the checkpoint."
            )


class TrainingCheckpoint(_StepCounter):
    """Writes a `checkpointing` checkpoint (weights, seed state, optimizer state, step) at each epoch end.

    Args:
        directory: this worker's backup directory.
        metadata: stored in each manifest (the run's config, the tokenizer's sha256).
        start_step: the step `fit` starts at.
    """

    def __init__(self, directory, metadata, start_step=0):
        super().__init__(start_step)
        self.directory, self.metadata = directory, metadata
        self.last_step = start_step if start_step else None

    def describe_last(self):
        if self.last_step is None:
            return "no checkpoint was written"
        return f"the last good checkpoint, step {self.last_step}, is in {self.directory}"

    def on_epoch_end(self, epoch, logs=None):
        variables, names = training_state(self.model)
        arrays = [np.asarray(v.numpy()) for v in variables]
        bad = [n for n, a in zip(names, arrays) if a.dtype.kind == "f" and not np.all(np.isfinite(a))]
        if bad:
            # The loss of the step that made them was still finite: its update is the first to see NaN.
            raise TrainingDivergedError(
                f"{len(bad)} variables are not finite after step {self.step} (first: {bad[0]}): not saving them "
                f"({self.describe_last()}). Lower --learning-rate and rerun; changed flags need --force."
            )
        write_checkpoint(self.directory, self.step, arrays, names, self.metadata)
        self.last_step = self.step
