"""A narrow workaround for Keras 3 `fit` under `MultiWorkerMirroredStrategy`.

keras-team/keras#20585 (https://github.com/keras-team/keras/issues/20585,
open): with Keras 3 on TensorFlow, `fit` under a multi-worker
`MultiWorkerMirroredStrategy` fails twice.

1. `TensorFlowTrainer._maybe_symbolic_build` reduces the whole first batch
   (a nested structure) with one `strategy.reduce("MEAN", batch)`; the
   collective all-reduce of `MultiWorkerMirroredStrategy` cannot take a
   structure: "Attempt to convert a value ({'token_ids': PerReplica...})".
   The batch is only used for its shapes and dtypes (to build the model
   symbolically), so the workaround takes the first local replica's value of
   each leaf instead (no collective at all).
2. The train step's outputs (a dict of scalar metric results) go through
   `keras.src.backend.tensorflow.trainer.reduce_per_replica`, which in
   multi-worker mode calls `strategy.reduce("MEAN", value, axis=0)` on
   scalars: "Invalid reduction dimension 0 for input with 0 dimensions". The
   workaround reduces scalars with `axis=None` (an all-reduce mean over
   replicas) and leaves every other case to Keras.

Both are applied only:
- while `fit` runs inside `multi_worker_fit_workaround(model, strategy)`, to that model,
- when the strategy is a `MultiWorkerMirroredStrategy` in multi-worker mode,
- for the Keras versions it was tested with (`AFFECTED_KERAS`); on a newer
  Keras nothing is patched, so a fixed upstream is used as is, and the test
  `tests/training/test_multi_worker.py` says whether this still trains.
"""

import contextlib

import keras
import tensorflow as tf

# Tested on 3.15.1; the bug is present since Keras 3.0 (TF 2.16).
AFFECTED_KERAS = ((3, 0), (3, 15))


def _keras_version():
    return tuple(int(part) for part in keras.__version__.split(".")[:2])


def needs_workaround(strategy):
    low, high = AFFECTED_KERAS
    return (
        low <= _keras_version() <= high
        and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def _local_value(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


@contextlib.contextmanager
def multi_worker_fit_workaround(model, strategy):
    """Patches `model`'s symbolic build and Keras' `reduce_per_replica` within the block, if needed."""
    if not needs_workaround(strategy):
        yield False
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def maybe_symbolic_build(iterator=None, data_batch=None):
        # Keras' TensorFlowTrainer._maybe_symbolic_build, without the collective reduce of the batch.
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(_local_value, next(it))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, distribute_strategy, reduction):
        if distribute_strategy is strategy and reduction in ("auto", "mean"):

            def reduce(value):
                if isinstance(value, (tf.Tensor, tf.distribute.DistributedValues)) and value.shape.rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return original(value, distribute_strategy, reduction)

            return tf.nest.map_structure(reduce, values)
        return original(values, distribute_strategy, reduction)

    tf_trainer.reduce_per_replica = reduce_per_replica
    model._maybe_symbolic_build = maybe_symbolic_build  # an instance attribute shadows the method
    try:
        yield True
    finally:
        tf_trainer.reduce_per_replica = original
        del model._maybe_symbolic_build
