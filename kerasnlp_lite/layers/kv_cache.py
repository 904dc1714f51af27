"""Writing a call's keys and values into a fixed-shape KV cache.

Shape legend: B = batch, N = heads, L = cache length, T = tokens of this
call, H = head size.

Two ways to write `cache[:, :, i : i + T] = new`, with identical results:

- `keras.ops.slice_update` (the default): one `XlaDynamicUpdateSlice` op.
  XLA (`jit_compile=True`) updates the buffer in place, and the TFLite
  converter turns it into DYNAMIC_UPDATE_SLICE, the fastest cache update on
  device (SCATTER_ND is about 2x slower there), so exports keep it.
- a TensorFlow scatter (`tf.tensor_scatter_nd_update`), inside
  `native_cache_writes()`. Outside XLA, TensorFlow runs each
  `XlaDynamicUpdateSlice` through an on-demand XLA compilation that copies the
  whole cache into a fresh buffer at every call; the native scatter kernel is
  cheaper: at the GPT-2-small shape (24 cache updates per token) greedy
  `generate` spent 5-6 ms less CPU time per token (67 vs 72 and 74 vs 80 ms
  in two alternating runs), the same tokens; on a shared 2-core machine the
  wall-clock difference was within the noise. The non-XLA `generate` loop
  traces its model inside this context.
"""

import contextlib
import threading

import tensorflow as tf
from keras import ops

from kerasnlp_lite.utils.trace_flags import switched_on

_STATE = threading.local()


@contextlib.contextmanager
def native_cache_writes():
    """Within this context, `write_cache` uses TensorFlow's scatter instead of XLA's DynamicUpdateSlice.

    It acts while a function is *traced*: enter it inside the `tf.function`
    body, so that every retrace sees it. Only for graphs that run in
    TensorFlow without XLA; never for a graph that is exported to TFLite.
    """
    with switched_on(_STATE, "native"):
        yield


def write_cache(cache, new, index):
    """`(key_cache, value_cache)` with `new` `(keys, values)` written at positions `index .. index + T - 1`.

    Args:
        cache: `(key_cache [B, N, L, H], value_cache [B, N, L, V])`.
        new: `(keys [B, N, T, H], values [B, N, T, V])`, cast to the cache
            dtype by the caller.
        index: scalar int (Python or tensor), the position of `new[:, :, 0]`;
            `index + T <= L` (the generate loop guarantees it).

    Returns:
        The updated `(key_cache, value_cache)`.
    """
    index = ops.cast(index, "int32")
    if not getattr(_STATE, "native", False):
        zero = ops.zeros((), "int32")
        start = [zero, zero, index, zero]
        return tuple(ops.slice_update(c, start, n) for c, n in zip(cache, new))
    # One [B, N, T, 3] index tensor (batch, head, cache slot) shared by K and V.
    shape = tf.shape(new[0])
    b, n, t = tf.meshgrid(tf.range(shape[0]), tf.range(shape[1]), index + tf.range(shape[2]), indexing="ij")
    indices = tf.stack([b, n, t], axis=-1)
    return tuple(tf.tensor_scatter_nd_update(c, indices, u) for c, u in zip(cache, new))
