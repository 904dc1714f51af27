"""Scaled dot-product attention (Vaswani et al. 2017, eq. 1).

Shape legend: B = batch, N = heads, T = query length, S = key length,
H = key/query head size, V = value head size.
"""

import contextlib
import math
import threading

import keras
from keras import ops

from kerasnlp_lite.layers.masks import _check_broadcastable_to
from kerasnlp_lite.utils.trace_flags import switched_on
from kerasnlp_lite.utils.validation import as_bool_mask, check_float_dtype, check_rank, check_rate, dtype_name

# Masked logits are set this far *below the row's smallest logit*: a finite
# value, because -inf gives NaN for fully masked rows and -1e9 wrecks int8
# activation ranges. Relative to the row minimum (not a fixed -1e4) so that a
# row whose allowed logits are all very negative (a large negative `bias`)
# still puts all its weight on them: exp(-1e4) is exactly 0 in float32.
# Masked weights are also multiplied by zero after the softmax, so a fully
# masked row gives zeros, not a uniform average over masked keys.
MASK_VALUE = -1e4
# Floor for the row minimum, so a -inf in `bias` cannot make masked logits -inf.
_LOGIT_FLOOR = -1e30

_STATE = threading.local()


@contextlib.contextmanager
def single_query_reductions():
    """Within this context, attention with one query position (a decode step) multiplies and sums instead
    of two batched matmuls.

    For T = 1, `Q K^T` is `sum_H(q * K)` and `weights V` is `sum_S(weights^T * V)`: the same products,
    summed in another order. TFLite runs them as MUL + SUM (XNNPack) instead of BATCH_MATMUL, whose
    `weights V` product with a `[S, V]` right-hand side is slow there: at the GPT-2-small shape (12 layers,
    caches `[1, 12, 256, 64]`) the attention of one decode step took 3.2 ms as BATCH_MATMULs and 1.5 ms as
    reductions (1 thread, benchmarks/on_device_decode.py has the whole step). Like `native_cache_writes`,
    it acts while a function is traced: the export's decode functions enter it inside their bodies.
    Training and Keras inference keep the matmuls.
    """
    with switched_on(_STATE, "reductions"):
        yield


def _single_query(query):
    return getattr(_STATE, "reductions", False) and query.shape[2] == 1


def scaled_dot_product_attention(
    query,
    key,
    value,
    attention_mask=None,
    bias=None,
    dropout=0.0,
    training=False,
    seed=None,
    scale=None,
    return_attention_scores=False,
):
    """softmax(Q K^T / sqrt(d_k) + bias) V, with masking and dropout.

    Args:
        query: `[B, N, T, H]`, a float dtype.
        key: `[B, N, S, H]`, the dtype of `query`.
        value: `[B, N, S, V]`, the dtype of `query`.
        attention_mask: optional bool/int mask, `True`/nonzero where query `t`
            may attend to key `s`; shape `[T, S]`, `[B, T, S]` or
            `[B, N or 1, T, S]`, each dimension 1 or equal to the logits'
            (it broadcasts *to* `[B, N, T, S]`, never enlarges it). A query
            row with no allowed key gets an all-zero output (not NaN) in
            every float dtype.
        bias: optional float tensor added to the logits (relative position
            bias, T5), broadcastable to `[B, N, T, S]` in the same one-way
            sense.
        dropout: dropout rate in [0, 1) on the attention weights (training
            only); kept weights are scaled by `1 / (1 - dropout)`.
        training: whether dropout is active.
        seed: a `keras.random.SeedGenerator` (needed for dropout in graphs).
        scale: logit scale; defaults to `1 / sqrt(H)`. T5 uses 1.0.
        return_attention_scores: also return the weights `[B, N, T, S]`.

    Returns:
        `[B, N, T, V]` in the dtype of `query`, and the weights if asked.
    """
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        check_rank(tensor, 4, name, "[batch, num_heads, length, head_dim]")
        check_float_dtype(tensor, name)
    for name, tensor in (("key", key), ("value", value)):
        # Mixed dtypes would silently upcast the output away from `query`'s.
        if dtype_name(tensor) != dtype_name(query):
            raise TypeError(
                f"`{name}` must have the dtype of `query` ({dtype_name(query)}), got {dtype_name(tensor)}."
            )
    check_rate(dropout, "dropout")
    if query.shape[-1] is not None and key.shape[-1] is not None and query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"`query` and `key` must have the same head size, got {tuple(query.shape)} and {tuple(key.shape)}."
        )
    if key.shape[2] is not None and value.shape[2] is not None and key.shape[2] != value.shape[2]:
        raise ValueError(
            f"`key` and `value` must have the same length S, got {tuple(key.shape)} and {tuple(value.shape)}."
        )
    compute_dtype = query.dtype
    if scale is None:
        if query.shape[-1] is not None:
            scale = 1.0 / math.sqrt(query.shape[-1])
        else:  # head size only known at run time
            scale = ops.rsqrt(ops.cast(ops.shape(query)[-1], "float32"))
    # Scale the queries before the matmul (as keras.layers.MultiHeadAttention
    # does) so float16 logits are less likely to overflow.
    query = ops.multiply(query, ops.cast(scale, compute_dtype))
    # Batched matmuls, not einsum: TensorFlow's CPU Einsum kernel in bfloat16 is
    # ~10x slower than its BatchMatMul (166 vs 17-20 ms for [32, 12, 128, 32]
    # on an AVX2 CPU, which made mixed_bfloat16 training 4x slower than
    # KerasHub's); in float32 they time the same. TFLite gets BATCH_MATMUL
    # either way.
    if _single_query(query):  # T = 1 (see `single_query_reductions`)
        logits = ops.expand_dims(ops.sum(query * key, axis=-1), 2)  # [B, N, 1, S]
    else:
        logits = ops.matmul(query, ops.swapaxes(key, -1, -2))  # [B, N, T, S]
    # Softmax in float32 whatever the compute dtype: float16/bfloat16 lose too
    # much in the exponent sum.
    logits = ops.cast(logits, "float32")
    if bias is not None:
        # One-way: a bias may broadcast up to the logits, never enlarge them.
        _check_broadcastable_to(bias.shape, logits.shape, "bias")
        logits = logits + ops.cast(bias, "float32")
    mask = None
    if attention_mask is not None:
        mask = _expand_mask(as_bool_mask(attention_mask, "attention_mask"), logits.shape)
        # [B, N, T, 1]; no gradient needed: softmax is shift invariant.
        row_min = ops.stop_gradient(ops.min(logits, axis=-1, keepdims=True))
        masked_value = ops.maximum(row_min, _LOGIT_FLOOR) + MASK_VALUE
        logits = ops.where(mask, logits, masked_value)
    weights = ops.softmax(logits, axis=-1)
    if mask is not None:
        # Zero the masked weights: a fully masked row's uniform softmax
        # becomes an all-zero row instead of attending to padding.
        weights = weights * ops.cast(mask, "float32")
    if dropout and training:
        weights = keras.random.dropout(weights, dropout, seed=seed)
    weights = ops.cast(weights, compute_dtype)
    if _single_query(query):
        output = ops.sum(ops.swapaxes(weights, -1, -2) * value, axis=2, keepdims=True)  # [B, N, 1, V]
    else:
        output = ops.matmul(weights, value)  # [B, N, T, V]
    if return_attention_scores:
        return output, weights
    return output


def _expand_mask(mask, logits_shape):
    rank = len(mask.shape)
    if rank not in (2, 3, 4):
        raise ValueError(
            "`attention_mask` must have shape [T, S], [B, T, S] or [B, N, T, S], "
            f"got shape {tuple(mask.shape)}."
        )
    b, n, t, s = logits_shape
    # One-way: e.g. a [T_full, S] mask must not turn a one-token decode step
    # into T_full query rows.
    target = {2: (t, s), 3: (b, t, s), 4: (b, n, t, s)}[rank]
    _check_broadcastable_to(mask.shape, target, "attention_mask")
    if rank == 2:  # [T, S] -> [1, 1, T, S]
        mask = ops.expand_dims(ops.expand_dims(mask, 0), 0)
    elif rank == 3:  # [B, T, S] -> [B, 1, T, S]
        mask = ops.expand_dims(mask, 1)
    return mask
