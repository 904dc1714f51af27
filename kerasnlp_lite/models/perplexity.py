"""Perplexity: exp of the mean next-token cross-entropy over real (unpadded) tokens."""

import keras
import numpy as np
from keras import ops

from kerasnlp_lite.utils.validation import checked_in_range


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class Perplexity(keras.metrics.Metric):
    """exp(sum_i w_i CE_i / sum_i w_i), accumulated over batches.

    Averaging the cross-entropy over all tokens first and exponentiating at
    the end is the corpus perplexity (not a mean of per-batch perplexities).

    Call arguments (`update_state`):
        y_true: int labels `[B, T]`.
        y_pred: float logits `[B, T, V]`.
        sample_weight: `[B, T]`, 0 at padding (`CausalLM` passes its
            `padding_mask` when none is given).
    """

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total", dtype="float32")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count", dtype="float32")

    def update_state(self, y_true, y_pred, sample_weight=None):
        vocabulary_size = y_pred.shape[-1]
        if vocabulary_size is not None:
            # A label past the logits fails deep in the cross-entropy kernel; -1 would give a NaN perplexity.
            y_true = checked_in_range(ops.convert_to_tensor(y_true), vocabulary_size, "y_true", "token ids",
                                      "vocabulary_size of `y_pred`")
        losses = keras.losses.sparse_categorical_crossentropy(y_true, ops.cast(y_pred, "float32"), from_logits=True)
        weights = ops.ones_like(losses) if sample_weight is None else ops.cast(sample_weight, "float32")
        if sample_weight is not None and None not in tuple(weights.shape) + tuple(losses.shape):
            try:
                np.broadcast_shapes(tuple(weights.shape), tuple(losses.shape))
            except ValueError:
                raise ValueError(
                    f"`sample_weight` must have the shape of `y_true` {tuple(losses.shape)} ([batch, sequence_length]), "
                    f"got {tuple(weights.shape)}."
                ) from None
        weights = ops.broadcast_to(weights, ops.shape(losses))
        self.total.assign_add(ops.sum(losses * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        return ops.exp(self.total / ops.maximum(self.count, 1e-9))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)
