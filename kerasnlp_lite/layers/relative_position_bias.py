"""T5's bucketed relative position bias (Raffel et al. 2020, section 2.1).

https://arxiv.org/abs/1910.10683
"""

import math

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_positive_int, check_rank, fresh_initializer


def _check_bucket_args(bidirectional, num_buckets, max_distance):
    if not isinstance(bidirectional, bool):
        raise TypeError(f"`bidirectional` must be a bool, got {bidirectional!r}.")
    # Each direction needs at least one exact bucket (max_exact >= 1), or the
    # logarithmic formula divides by log(max_distance / 0).
    check_positive_int(num_buckets, "num_buckets", minimum=4 if bidirectional else 2)
    check_positive_int(max_distance, "max_distance")
    if bidirectional and num_buckets % 2:
        raise ValueError(f"`num_buckets` must be even when bidirectional (one half per direction), got {num_buckets}.")
    exact = (num_buckets // 2 if bidirectional else num_buckets) // 2
    if max_distance <= exact:
        raise ValueError(
            f"`max_distance` must exceed the exact-bucket range {exact} (num_buckets={num_buckets}, "
            f"bidirectional={bidirectional}), got {max_distance}."
        )


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """Maps relative positions (key - query) to bucket ids, as T5 does.

    A port of mesh-tensorflow's `_relative_position_bucket` (also HF's and
    KerasHub's). Per direction, half of the buckets hold the exact distances
    0..max_exact-1; the other half grow logarithmically up to
    `max_distance`, beyond which all distances share the last bucket.
    Bidirectional attention gives keys before and after the query separate
    halves; causal attention maps every future key (positive distance) to
    bucket 0, the bucket of distance 0 (those keys are masked anyway).

    Args:
        relative_position: int tensor, key position minus query position.
        bidirectional: False for causal (decoder self-) attention.
        num_buckets: total number of buckets (32 in T5).
        max_distance: distances from here on share the last bucket (128).

    Returns:
        int32 tensor of bucket ids in `[0, num_buckets)`, same shape.
    """
    _check_bucket_args(bidirectional, num_buckets, max_distance)
    if "int" not in keras.backend.standardize_dtype(getattr(relative_position, "dtype", None) or
                                                  ops.convert_to_tensor(relative_position).dtype):
        # A cast would floor 0.5 to bucket 0 silently.
        raise TypeError("`relative_position` must be integer positions (key - query), got a non-integer dtype.")
    relative_position = ops.cast(relative_position, "int32")
    bucket = ops.zeros_like(relative_position)
    n = -relative_position  # mesh-tensorflow works with query - key
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + ops.cast(ops.less(n, 0), "int32") * num_buckets  # keys after the query
        n = ops.abs(n)
    else:
        n = ops.maximum(n, 0)
    max_exact = num_buckets // 2
    is_small = ops.less(n, max_exact)
    # max_exact + log(n / max_exact) / log(max_distance / max_exact) * (num_buckets - max_exact),
    # in float32 and in this order, as T5 computes it: ids at the bucket
    # edges then agree with pretrained checkpoints. (max(n, 1) only keeps
    # log() finite for the small-n lanes that `where` discards.)
    n_float = ops.cast(ops.maximum(n, 1), "float32")
    large = max_exact + ops.cast(
        ops.log(n_float / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact),
        "int32",
    )
    large = ops.minimum(large, num_buckets - 1)
    return bucket + ops.where(is_small, n, large)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RelativePositionBias(keras.layers.Layer):
    """A learned scalar per (distance bucket, head), added to attention logits.

    T5 shares one such table across all layers of a stack: the first layer's
    bias is computed once and passed to every layer as `position_bias`. T5
    does not scale the logits by 1/sqrt(d) (its init absorbs it); that is the
    attention layer's business, not this one's.

    Args:
        num_heads: attention heads N.
        num_buckets: number of distance buckets (32 in T5).
        max_distance: distances at or beyond this share the last bucket (128).
        bidirectional: True in the encoder, False in the (causal) decoder.
        embeddings_initializer: initializer of the `[num_buckets, N]` table.

    Call arguments:
        inputs: the query sequence `[B, T, D]` (only its shape is used).
        key_length: S, defaults to T (pass the cache length when decoding).
        query_offset: absolute position of query 0 (the cache index during
            step-by-step decoding), a Python int or scalar int tensor, >= 0;
            keys sit at positions `0..S-1`.

    Returns:
        `[1, N, T, S]` bias in the compute dtype, for
        `MultiHeadAttention(..., position_bias=bias)`.

    Example:
    >>> bias = RelativePositionBias(num_heads=8)
    >>> bias(keras.ops.zeros((2, 10, 64))).shape
    TensorShape([1, 8, 10, 10])
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
        _check_bucket_args(bidirectional, num_buckets, max_distance)
        self.num_heads = num_heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, inputs_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.num_buckets, self.num_heads), initializer=fresh_initializer(self.embeddings_initializer)
        )
        self.built = True

    def relative_position_bucket(self, relative_position):
        """Bucket ids of `relative_position` (key - query) with this layer's settings."""
        return relative_position_bucket(relative_position, self.bidirectional, self.num_buckets, self.max_distance)

    def call(self, inputs, key_length=None, query_offset=0):
        check_rank(inputs, 3, "inputs", "[batch, query_length, hidden_dim]")
        _check_offset(query_offset, "query_offset")
        if isinstance(key_length, (bool, int, float)):
            check_positive_int(key_length, "key_length")
        query_length = ops.shape(inputs)[1]
        if key_length is None:
            key_length = query_length
        query_positions = ops.arange(query_length, dtype="int32") + ops.cast(query_offset, "int32")
        key_positions = ops.arange(key_length, dtype="int32")
        # [T, S]: key position minus query position.
        relative = ops.expand_dims(key_positions, 0) - ops.expand_dims(query_positions, 1)
        buckets = self.relative_position_bucket(relative)
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


def _check_offset(offset, name):
    """A Python int must be >= 0; a tensor must be an integer scalar."""
    if isinstance(offset, (bool, float)):
        raise TypeError(f"`{name}` must be an integer >= 0 (Python int or scalar int tensor), got {offset!r}.")
    if isinstance(offset, int):
        if offset < 0:
            raise ValueError(f"`{name}` must be >= 0, got {offset}.")
        return
    dtype = keras.backend.standardize_dtype(offset.dtype)
    if "int" not in dtype:
        raise TypeError(f"`{name}` must be an integer >= 0 (Python int or scalar int tensor), got dtype {dtype}.")
    if len(offset.shape) != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {tuple(offset.shape)}.")
