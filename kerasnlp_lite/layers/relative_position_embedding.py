"""Relative position representations (Shaw, Uszkoreit and Vaswani 2018).

https://arxiv.org/abs/1803.02155
"""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_positive_int, check_rank, fresh_initializer


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RelativePositionEmbedding(keras.layers.Layer):
    """Learned embeddings of clipped relative distances, as attention logits.

    Shaw et al. (eq. 4) add a learned vector a_ij to each key:
    e_ij = q_i (k_j + a_ij)^T / sqrt(d). This layer computes the extra term
    q_i a_ij^T for every query/key pair, where a_ij = w[clip(j - i, -k, k)]
    and k = `max_distance`; `MultiHeadAttention(relative_max_distance=k)`
    scales it by 1/sqrt(d) and adds it to the logits. Only the key-side
    term is used: the paper's ablation (table 3) found the value-side term
    a^V unnecessary.

    Args:
        max_distance: k, the largest distance told apart; farther pairs
            share the embedding of +-k (the paper's clipping).
        embeddings_initializer: initializer of the `[2k + 1, H]` table.

    Call arguments:
        query: `[B, N, T, H]` projected queries.
        key_length: S, the number of keys.
        query_offset: absolute position of query 0 (the cache index when
            decoding step by step); keys sit at positions `0..S-1`.

    Returns:
        `[B, N, T, S]` logits in the query's dtype.
    """

    def __init__(self, max_distance, embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(max_distance, "max_distance")
        self.max_distance = max_distance
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, query_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(2 * self.max_distance + 1, query_shape[-1]),
            initializer=fresh_initializer(self.embeddings_initializer),
        )
        self.built = True

    def relative_indices(self, query_length, key_length, query_offset=0):
        """`[T, S]` int32 indices into the table: clip(j - i, -k, k) + k."""
        query_positions = ops.arange(query_length, dtype="int32") + ops.cast(query_offset, "int32")
        key_positions = ops.arange(key_length, dtype="int32")
        distance = ops.expand_dims(key_positions, 0) - ops.expand_dims(query_positions, 1)
        return ops.clip(distance, -self.max_distance, self.max_distance) + self.max_distance

    def call(self, query, key_length=None, query_offset=0):
        check_rank(query, 4, "query", "[batch, num_heads, query_length, head_dim]")
        if isinstance(query_offset, float):
            raise TypeError(f"`query_offset` must be an integer, got float {query_offset}.")
        if isinstance(query_offset, int) and query_offset < 0:
            raise ValueError(f"`query_offset` must be >= 0, got {query_offset}.")
        query_length = ops.shape(query)[2]
        if key_length is None:
            key_length = query_length
        indices = self.relative_indices(query_length, key_length, query_offset)
        table = ops.take(ops.cast(self.embeddings, query.dtype), indices, axis=0)  # [T, S, H]
        return ops.einsum("bnth,tsh->bnts", query, table)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_distance": self.max_distance,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
