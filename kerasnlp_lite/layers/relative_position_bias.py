"""T5's bucketed relative position bias (Raffel et al. 2020, section 2.1)."""

import math

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_positive_int, check_rank


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """Maps relative positions (key - query) to bucket ids, as T5 does.

    Half of the buckets (per direction, when bidirectional) hold exact small
    distances; the rest grow logarithmically up to `max_distance`, beyond
    which all distances share the last bucket. Causal (unidirectional)
    attention maps every positive distance (a future key) to bucket 0.

    Args:
        relative_position: int tensor, key position minus query position.

    Returns:
        int32 tensor of bucket ids in `[0, num_buckets)`.
    """
    relative_position = ops.cast(relative_position, "int32")
    bucket = ops.zeros_like(relative_position)
    n = -relative_position  # T5 works with query - key
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + ops.cast(ops.less(n, 0), "int32") * num_buckets
        n = ops.abs(n)
    else:
        n = ops.maximum(n, 0)
    max_exact = num_buckets // 2
    is_small = ops.less(n, max_exact)
    # log(n / max_exact) / log(max_distance / max_exact) * (num_buckets - max_exact)
    n_float = ops.cast(ops.maximum(n, 1), "float32")
    large = max_exact + ops.cast(
        ops.log(n_float / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact),
        "int32",
    )
    large = ops.minimum(large, num_buckets - 1)
    return bucket + ops.where(is_small, n, large)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RelativePositionBias(keras.layers.Layer):
    """A learned scalar per (bucket, head), added to the attention logits.

    T5 shares one such table across all layers of a stack (computed once by
    the first layer and passed to the others as `position_bias`).

    Args:
        num_heads: attention heads N.
        num_buckets: number of distance buckets (32 in T5).
        max_distance: distances at or beyond this share the last bucket (128).
        bidirectional: True in the encoder, False in the (causal) decoder.
        embeddings_initializer: initializer of the `[num_buckets, N]` table.

    Call arguments:
        inputs: the query sequence `[B, T, D]` (only its shape is used).
        key_length: S, defaults to T (or to the cache length when decoding).
        query_offset: absolute position of query 0 (the cache index during
            step-by-step decoding); keys sit at positions `0..S-1`.

    Returns:
        `[1, N, T, S]` bias in the compute dtype, for
        `MultiHeadAttention(..., position_bias=bias)`.
    """

    def __init__(
        self,
        num_heads,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        embeddings_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads, "num_heads")
        check_positive_int(num_buckets, "num_buckets", minimum=2)
        check_positive_int(max_distance, "max_distance")
        if bidirectional and num_buckets % 2:
            raise ValueError(f"`num_buckets` must be even when bidirectional, got {num_buckets}.")
        exact = (num_buckets // 2 if bidirectional else num_buckets) // 2
        if max_distance <= exact:
            raise ValueError(
                f"`max_distance` must exceed the exact-bucket range {exact} (num_buckets={num_buckets}), "
                f"got {max_distance}."
            )
        self.num_heads = num_heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, inputs_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.num_buckets, self.num_heads), initializer=self.embeddings_initializer
        )
        self.built = True

    def call(self, inputs, key_length=None, query_offset=0):
        check_rank(inputs, 3, "inputs", "[batch, query_length, hidden_dim]")
        if isinstance(query_offset, float):
            raise TypeError(f"`query_offset` must be an integer, got float {query_offset}.")
        if isinstance(query_offset, int) and query_offset < 0:
            raise ValueError(f"`query_offset` must be >= 0, got {query_offset}.")
        query_length = ops.shape(inputs)[1]
        if key_length is None:
            key_length = query_length
        query_positions = ops.arange(query_length, dtype="int32") + ops.cast(query_offset, "int32")
        key_positions = ops.arange(key_length, dtype="int32")
        relative = ops.expand_dims(key_positions, 0) - ops.expand_dims(query_positions, 1)  # [T, S]
        buckets = relative_position_bucket(relative, self.bidirectional, self.num_buckets, self.max_distance)
        values = ops.take(ops.cast(self.embeddings, self.compute_dtype), buckets, axis=0)  # [T, S, N]
        return ops.expand_dims(ops.transpose(values, (2, 0, 1)), 0)  # [1, N, T, S]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "num_buckets": self.num_buckets,
                "max_distance": self.max_distance,
                "bidirectional": self.bidirectional,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
