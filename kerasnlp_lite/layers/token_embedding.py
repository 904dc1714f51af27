"""Token embeddings with a tied output projection (Press and Wolf 2017; GPT)."""

import keras
import tensorflow as tf
from keras import ops

from kerasnlp_lite.layers.int8_weights import Int8Weights
from kerasnlp_lite.utils.validation import (
    check_float_dtype,
    check_ids_in_range,
    checked_in_range,
    check_integer_dtype,
    check_positive_int,
    fresh_initializer,
)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TokenEmbedding(Int8Weights, keras.layers.Layer):
    """A `[vocabulary_size, hidden_dim]` lookup table, also usable as the output layer.

    GPT (Radford et al. 2018, eq. 2) ties the input and output embeddings:
    h_0 = U W_e + W_p and P(u) = softmax(h_n W_e^T). `logits(hidden)`
    computes h W_e^T with the same table.

    Args:
        vocabulary_size: number of tokens V.
        hidden_dim: embedding width D.
        embeddings_initializer: initializer of the table (BERT/GPT: normal
            with std 0.02; the default is KerasHub's truncated normal).

    Call arguments:
        token_ids: int `[B, T]` (any shape) in `[0, V)`. Out-of-range ids
            raise ValueError in eager mode and fail Assert ops naming
            `token_ids` in a tf.function; under XLA and in TFLite (which
            drop asserts) their rows are NaN, never another token's row.

    Returns:
        `[B, T, D]` in the compute dtype.

    Example:
    >>> embedding = TokenEmbedding(vocabulary_size=100, hidden_dim=16)
    >>> hidden = embedding(np.array([[1, 2, 3]]))    # [1, 3, 16]
    >>> embedding.logits(hidden).shape               # tied output layer
    TensorShape([1, 3, 100])
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size, "vocabulary_size")
        check_positive_int(hidden_dim, "hidden_dim")
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, token_ids_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.vocabulary_size, self.hidden_dim), initializer=fresh_initializer(self.embeddings_initializer)
        )
        self.built = True
        self._build_int8()  # a layer rebuilt from a quantized config (int8_weights.py)

    def _int8_kernels(self):
        return [("embeddings", (1,))]  # one scale per vocabulary row (the tied logits' output channel)

    def _lookup(self, token_ids):
        if self.quantization_mode == "int8":  # int8 rows times their scales, not the whole table dequantized
            rows = ops.cast(ops.take(self.embeddings, token_ids, axis=0), "float32")
            return ops.cast(rows * ops.take(self.embeddings_scale, token_ids, axis=0), self.compute_dtype)
        return ops.take(ops.cast(self.embeddings, self.compute_dtype), token_ids, axis=0)

    def call(self, token_ids):
        check_integer_dtype(token_ids, "token_ids")
        if tf.executing_eagerly() or isinstance(token_ids, keras.KerasTensor):
            check_ids_in_range(token_ids, self.vocabulary_size, "token_ids")
            return self._lookup(token_ids)
        # In a graph, Assert ops name the input (a tf.function fails with our message). XLA and the
        # TFLite converter drop asserts, and a gather there wraps -1 to V-1 or clamps V: an
        # out-of-range id reads a NaN row instead, so the error shows (a NaN loss stops `train`)
        # rather than another token's embedding.
        token_ids = checked_in_range(token_ids, self.vocabulary_size, "token_ids", "token ids", "vocabulary_size")
        in_range = ops.logical_and(token_ids >= 0, token_ids < self.vocabulary_size)
        embedded = self._lookup(token_ids)
        return ops.where(ops.expand_dims(in_range, -1), embedded, ops.cast(float("nan"), embedded.dtype))

    def logits(self, hidden):
        """Tied output projection: `[..., D]` -> `[..., V]` = hidden @ W_e^T.

        The result has the dtype of `hidden` (the compute dtype under mixed
        precision, as Keras' Dense and KerasHub's ReversibleEmbedding do).
        Matmuls accumulate in float32 on CPU/GPU; heads cast the logits to
        float32 before softmax and loss.
        """
        check_float_dtype(hidden, "hidden")
        if len(hidden.shape) < 1 or (hidden.shape[-1] is not None and hidden.shape[-1] != self.hidden_dim):
            raise ValueError(
                f"`hidden` must have shape [..., hidden_dim] with hidden_dim={self.hidden_dim}, "
                f"got shape {tuple(hidden.shape)}."
            )
        if not self.built:
            self.build()
        table, scale = self.kernel_and_scale("embeddings")  # int8 rows: one scale per row, on the logits
        logits = ops.matmul(hidden, ops.transpose(ops.cast(table, hidden.dtype)))
        return logits if scale is None else logits * ops.cast(scale, logits.dtype)

    def compute_output_shape(self, token_ids_shape):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
