"""Attention of a decoder state over encoder states: Luong dot / general, Bahdanau additive.

Shape legend: B = batch, F = query steps (decoder positions), T = encoder
positions, Q = query (decoder state) width, D = value (encoder state) width,
A = additive attention width (`units`).
"""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_float_dtype, check_positive_int, check_rank, fresh_initializer

SCORES = ("dot", "general", "additive")

# Added to the scores of padded positions before the softmax: large and finite
# (-inf would give NaN for a fully padded row and NaN gradients), computed in
# float32 so it does not overflow float16.
MASK_VALUE = -1e9


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class SequenceAttention(keras.layers.Layer):
    """Softmax attention of queries over a sequence of values (encoder states).

    score(s, h_j), for a query s (decoder state) and value h_j:
      - "dot": s . h_j (Luong et al. 2015, eq. 8); needs Q == D.
      - "general": s^T W h_j, W `[Q, D]` (Luong et al. 2015, eq. 8).
      - "additive": v^T tanh(W1 h_j + W2 s) (Bahdanau et al. 2015,
        appendix A.1.2), W1 `[D, A]`, W2 `[Q, A]`, v `[A]`.
    weights a_j = softmax_j(score) over the real positions (padding masked),
    context c = sum_j a_j h_j.

    Scores and the softmax are computed in float32 under mixed precision.

    Args:
        score: "dot", "general" or "additive".
        units: A, the hidden width of the additive score (default D); only
            for "additive".
        kernel_initializer: initializer of W, W1, W2 and v.

    Call arguments:
        query: float `[B, Q]` (one decoder step) or `[B, F, Q]`.
        values: float `[B, T, D]`.
        padding_mask: optional int or bool `[B, T]`, 1 at real positions.
        keys: optional `precompute_keys(values)`, so a decode loop computes
            W1 h_j once per sequence rather than once per step.

    Returns:
        `(context, weights)`: context `[B, D]` or `[B, F, D]`, weights
        `[B, T]` or `[B, F, T]` (both in the compute dtype; the weights sum
        to 1 over T and are 0 at padded positions).

    Example:
    >>> attention = SequenceAttention(score="additive", units=16)
    >>> context, weights = attention(decoder_state, encoder_states, padding_mask=mask)

    Reference:
        Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly
        Learning to Align and Translate"; Luong, Pham & Manning 2015,
        "Effective Approaches to Attention-based Neural Machine Translation".
    """

    def __init__(self, score="dot", units=None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"`score` must be one of {SCORES}, got {score!r}.")
        check_positive_int(units, "units", allow_none=True)
        if units is not None and score != "additive":
            raise ValueError(f"`units` is the width of the additive score; got units={units} with score={score!r}.")
        self.score = score
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = False

    def build(self, query_shape, values_shape, padding_mask_shape=None, keys_shape=None):
        query_dim, value_dim = query_shape[-1], values_shape[-1]
        if self.score == "dot" and query_dim != value_dim:
            raise ValueError(
                f'score="dot" needs `query` and `values` of the same width, got query width {query_dim} '
                f"and values width {value_dim}; use 'general' or 'additive'."
            )
        if self.score == "general":
            self.kernel = self.add_weight(name="kernel", shape=(query_dim, value_dim), initializer=fresh_initializer(self.kernel_initializer))
        elif self.score == "additive":
            units = self.units or value_dim
            self.key_kernel = self.add_weight(name="key_kernel", shape=(value_dim, units), initializer=fresh_initializer(self.kernel_initializer))
            self.query_kernel = self.add_weight(
                name="query_kernel", shape=(query_dim, units), initializer=fresh_initializer(self.kernel_initializer)
            )
            self.score_kernel = self.add_weight(name="score_kernel", shape=(units,), initializer=fresh_initializer(self.kernel_initializer))
        self.built = True

    def precompute_keys(self, values):
        """W1 h_j `[B, T, A]` for "additive"; the values themselves otherwise."""
        if self.score != "additive":
            return values
        return ops.einsum("btd,da->bta", values, ops.cast(self.key_kernel, values.dtype))

    def call(self, query, values, padding_mask=None, keys=None):
        check_rank(query, (2, 3), "query", "[batch, query_dim] or [batch, query_steps, query_dim]")
        check_rank(values, 3, "values", "[batch, sequence_length, value_dim]")
        check_float_dtype(query, "query")
        check_float_dtype(values, "values")
        if padding_mask is not None:
            check_rank(padding_mask, 2, "padding_mask", "[batch, sequence_length]")
            if values.shape[1] is not None and padding_mask.shape[1] not in (None, values.shape[1]):
                raise ValueError(
                    f"`padding_mask` must have shape [batch, sequence_length={values.shape[1]}], "
                    f"got shape {tuple(padding_mask.shape)}."
                )
        single_step = len(query.shape) == 2
        if single_step:
            query = query[:, None, :]  # [B, 1, Q]
        if keys is None:
            keys = self.precompute_keys(values)
        dtype = values.dtype
        if self.score == "dot":
            scores = ops.einsum("bfd,btd->bft", query, values)
        elif self.score == "general":
            # s^T W h_j = (s W) . h_j: project the F queries rather than the T values.
            projected = ops.einsum("bfq,qd->bfd", query, ops.cast(self.kernel, dtype))
            scores = ops.einsum("bfd,btd->bft", projected, values)
        else:
            projected = ops.einsum("bfq,qa->bfa", query, ops.cast(self.query_kernel, dtype))
            # [B, F, 1, A] + [B, 1, T, A] -> [B, F, T, A] -> v^T -> [B, F, T]
            hidden = ops.tanh(projected[:, :, None, :] + keys[:, None, :, :])
            scores = ops.einsum("bfta,a->bft", hidden, ops.cast(self.score_kernel, dtype))
        scores = ops.cast(scores, "float32")
        if padding_mask is not None:
            mask = ops.cast(padding_mask, "float32")[:, None, :]  # [B, 1, T]
            scores = scores + (1.0 - mask) * MASK_VALUE
        weights = ops.cast(ops.softmax(scores, axis=-1), dtype)  # [B, F, T]
        context = ops.einsum("bft,btd->bfd", weights, values)
        if single_step:
            return context[:, 0], weights[:, 0]
        return context, weights

    def compute_output_shape(self, query_shape, values_shape, padding_mask_shape=None, keys_shape=None):
        lead = tuple(query_shape[:-1])
        return lead + (values_shape[-1],), lead + (values_shape[1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "score": self.score,
                "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
