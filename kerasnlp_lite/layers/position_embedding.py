"""Learned absolute position embeddings (BERT, GPT: h_0 = U W_e + W_p)."""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import (
    check_positive_int,
    check_rank,
    check_static_position_range,
    checked_in_range,
    fresh_initializer,
)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class PositionEmbedding(keras.layers.Layer):
    """A learned `[max_sequence_length, D]` table of position vectors.

    Args:
        max_sequence_length: number of positions the table holds.
        initializer: initializer of the table.

    Call arguments:
        inputs: `[B, T, D]` (usually token embeddings); only its shape is used.
        start_index: absolute position of the first element (the cache
            index during step-by-step decoding). Python ints are range
            checked; positions must stay below `max_sequence_length`.

    Returns:
        `[B, T, D]` position embeddings, broadcast over the batch.
    """

    def __init__(self, max_sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(max_sequence_length, "max_sequence_length")
        self.max_sequence_length = max_sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.max_sequence_length, inputs_shape[-1]), initializer=fresh_initializer(self.initializer)
        )
        self.built = True

    def call(self, inputs, start_index=0):
        check_rank(inputs, 3, "inputs", "[batch, sequence_length, hidden_dim]")
        length = inputs.shape[1]
        check_static_position_range(start_index, length, self.max_sequence_length, "start_index")
        if length is None:
            length = ops.shape(inputs)[1]
        if not isinstance(start_index, int):
            # A tensor start: checked eagerly, or by an Assert in a graph (dropped by the TFLite converter,
            # a no-op under XLA), instead of a bare "Expected size[0] in [0, 1]" from the slice.
            start_index = checked_in_range(
                ops.cast(start_index, "int32"), self.max_sequence_length - length + 1, "start_index", "a start position",
                f"max_sequence_length={self.max_sequence_length} minus the sequence length, plus 1",
            )
        table = ops.cast(self.embeddings, self.compute_dtype)
        positions = ops.slice(table, (start_index, 0), (length, ops.shape(table)[1]))
        return ops.broadcast_to(ops.expand_dims(positions, 0), ops.shape(inputs))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_sequence_length": self.max_sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
