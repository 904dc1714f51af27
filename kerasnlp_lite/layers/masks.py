"""Attention masks.

Shape legend (as in google-research/bert): B = batch, T = query ("from") length,
S = key ("to") length, N = heads.

Every mask here is boolean with `True` meaning "may attend". A mask given to
`scaled_dot_product_attention` or `MultiHeadAttention` may have shape `[T, S]`,
`[B, T, S]` or `[B, N, T, S]` (`N` may be 1); it is broadcast against the
attention logits `[B, N, T, S]`.
"""

import numbers

import keras
from keras import ops

from kerasnlp_lite.utils.validation import as_bool_mask, check_rank


def causal_mask(query_length, key_length, offset=0):
    """Lower-triangular mask of shape `[T, S]`.

    Query position `i` sits at absolute position `offset + i` and may attend to
    key positions `j <= offset + i`. During cached decoding `offset` is the
    cache index, so a single query token (`T = 1`) written at position `p` sees
    keys `0..p` of a cache of length `S`.

    Args:
        query_length: int or scalar int tensor, `T`.
        key_length: int or scalar int tensor, `S`.
        offset: int or scalar int tensor, the absolute position of query 0.

    Returns:
        A boolean tensor of shape `[T, S]`.
    """
    for name, value in (("query_length", query_length), ("key_length", key_length), ("offset", offset)):
        _check_integer(value, name)
    query_positions = ops.arange(query_length, dtype="int32") + ops.cast(offset, "int32")
    key_positions = ops.arange(key_length, dtype="int32")
    # [T, 1] >= [1, S] -> [T, S]
    return ops.greater_equal(
        ops.expand_dims(query_positions, 1), ops.expand_dims(key_positions, 0)
    )


def padding_mask_to_attention_mask(padding_mask, query_length=None, query_padding_mask=None):
    """Turns a key padding mask `[B, S]` into an attention mask `[B, T, S]`.

    Args:
        padding_mask: `[B, S]` bool or int, nonzero/True at real (non-padding)
            key positions.
        query_length: `T`; defaults to `S` (self-attention).
        query_padding_mask: optional `[B, T]`; rows of padding queries are then
            fully masked (their attention output is zeros).

    Returns:
        A boolean tensor `[B, T, S]`.
    """
    padding_mask = as_bool_mask(padding_mask, "padding_mask")
    check_rank(padding_mask, 2, "padding_mask", "[batch, key_length]")
    if query_length is not None:
        _check_integer(query_length, "query_length")
    if query_padding_mask is not None:
        query_padding_mask = as_bool_mask(query_padding_mask, "query_padding_mask")
        check_rank(query_padding_mask, 2, "query_padding_mask", "[batch, query_length]")
        batch, query_batch = padding_mask.shape[0], query_padding_mask.shape[0]
        if batch is not None and query_batch is not None and batch != query_batch:
            raise ValueError(
                f"`query_padding_mask` must have the batch size of `padding_mask` ({batch}), "
                f"got shape {tuple(query_padding_mask.shape)}."
            )
        static_length = query_padding_mask.shape[1]
        if isinstance(query_length, numbers.Integral) and static_length is not None and query_length != static_length:
            raise ValueError(
                f"`query_length`={query_length} disagrees with `query_padding_mask` of shape "
                f"{tuple(query_padding_mask.shape)}; pass one of them."
            )
        # [B, T, 1] & [B, 1, S] -> [B, T, S]
        return ops.logical_and(
            ops.expand_dims(query_padding_mask, 2), ops.expand_dims(padding_mask, 1)
        )
    if query_length is None:
        query_length = ops.shape(padding_mask)[1]
    mask = ops.expand_dims(padding_mask, 1)  # [B, 1, S]
    batch, key_length = ops.shape(padding_mask)[0], ops.shape(padding_mask)[1]
    return ops.broadcast_to(mask, (batch, query_length, key_length))


def merge_masks(*masks):
    """Logical AND of masks that broadcast together; `None` entries are skipped.

    For example `merge_masks(causal_mask(T, S), padding_mask_to_attention_mask(p))`
    gives `[B, T, S]`. Returns `None` when every mask is `None`.
    """
    merged = None
    for i, mask in enumerate(masks):
        if mask is None:
            continue
        mask = as_bool_mask(mask, f"masks[{i}]")
        if merged is None:
            merged = mask
            continue
        _check_broadcastable(merged.shape, mask.shape, "masks")
        merged = ops.logical_and(merged, mask)
    return merged


def _check_integer(value, name):
    """Lengths and offsets: Python/numpy ints or integer tensors, never floats."""
    dtype = getattr(value, "dtype", None)
    is_float = (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)) or (
        dtype is not None and "float" in keras.backend.standardize_dtype(dtype)
    )
    if is_float:
        raise TypeError(f"`{name}` must be an integer or integer tensor, got {value!r}.")
    if isinstance(value, numbers.Integral) and value < 0:
        raise ValueError(f"`{name}` must be >= 0, got {value}.")


def _check_broadcastable_to(shape, target_shape, name):
    """One-way broadcasting: every dim of `shape` is 1 or equals the target's."""
    shape, target = list(shape), list(target_shape)
    mismatch = len(shape) > len(target) or any(
        x is not None and y is not None and x != 1 and x != y for x, y in zip(reversed(shape), reversed(target))
    )
    if mismatch:
        raise ValueError(
            f"`{name}` of shape {tuple(shape)} does not broadcast to shape {tuple(target)} "
            "(each dimension must be 1 or equal; attention logits are "
            "[batch, num_heads, query_length, key_length])."
        )


def _check_broadcastable(shape_a, shape_b, name):
    a, b = list(shape_a), list(shape_b)
    for x, y in zip(reversed(a), reversed(b)):
        if x is not None and y is not None and x != 1 and y != 1 and x != y:
            raise ValueError(
                f"`{name}` shapes {tuple(shape_a)} and {tuple(shape_b)} do not broadcast together."
            )


def zero_padded(x, padding_mask):
    """`x` `[B, S, D]` with the positions where `padding_mask` `[B, S]` is 0 set to exactly zero.

    Keys and values at padded positions get attention weight 0, but 0 times
    a NaN or inf (garbage in a padding slot) is still NaN, and the matmul
    would spread it into every real token. `where` (not a multiply) drops
    such values before they reach the logits or the weighted sum. Real
    positions are returned unchanged.
    """
    keep = padding_keep_mask(x, padding_mask)
    return ops.where(ops.expand_dims(keep, -1), x, ops.zeros((), x.dtype))


def padding_keep_mask(x, padding_mask):
    """`padding_mask` as a bool `[B, S]` (True at real positions), checked against `x` `[B, S, ...]`.

    Raises:
        ValueError: naming `padding_mask` when its shape is not `x`'s first two dimensions.
    """
    keep = as_bool_mask(padding_mask, "padding_mask")
    mask_shape, x_shape = tuple(keep.shape), tuple(x.shape)
    if len(mask_shape) != 2 or any(m is not None and d is not None and m != d for m, d in zip(mask_shape, x_shape)):
        raise ValueError(
            f"`padding_mask` must have shape [batch, sequence_length] = {x_shape[:2]} (from the inputs {x_shape}), "
            f"got {mask_shape}."
        )
    return keep
