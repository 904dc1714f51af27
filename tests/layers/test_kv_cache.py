"""The two KV-cache writers (XLA DynamicUpdateSlice and TensorFlow scatter) write the same slots."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.layers.kv_cache import native_cache_writes, write_cache
from tests.test_case import assert_allclose


def _ops_in(function, *args):
    return {node.op for node in function.get_concrete_function(*args).graph.as_graph_def().node}


@pytest.mark.parametrize("length, index", [(3, 0), (1, 5), (2, 6)])  # prefill, one step, the last slots
def test_scatter_and_slice_update_write_the_same_slots(length, index):
    rng = np.random.default_rng(0)
    cache = tuple(rng.standard_normal((2, 3, 8, 4)).astype("float32") for _ in range(2))  # [B, N, L, H]
    new = tuple(rng.standard_normal((2, 3, length, 4)).astype("float32") for _ in range(2))  # [B, N, T, H]
    expected = [c.copy() for c in cache]
    for e, n in zip(expected, new):
        e[:, :, index : index + length] = n

    def default(c, n, i):
        return write_cache(c, n, i)

    def native(c, n, i):
        with native_cache_writes():
            return write_cache(c, n, i)

    for function in (tf.function(default), tf.function(native)):
        actual = function(cache, new, tf.constant(index))
        for a, e in zip(actual, expected):
            assert_allclose(a, e, atol=0)
    args = (cache, new, tf.constant(index))
    # Exports and XLA keep DynamicUpdateSlice; only the context switches to the scatter.
    assert "XlaDynamicUpdateSlice" in _ops_in(tf.function(default), *args)
    assert "TensorScatterUpdate" in _ops_in(tf.function(native), *args)
    assert "XlaDynamicUpdateSlice" not in _ops_in(tf.function(native), *args)


def test_context_is_restored_after_an_error():
    with pytest.raises(RuntimeError):
        with native_cache_writes():
            raise RuntimeError("boom")
    cache = (np.zeros((1, 1, 2, 1), "float32"),) * 2
    graph_ops = _ops_in(tf.function(lambda c: write_cache(c, (np.ones((1, 1, 1, 1), "float32"),) * 2, 1)), cache)
    assert "XlaDynamicUpdateSlice" in graph_ops
