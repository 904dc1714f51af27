"""Bad input to the small layers and functions fails with a message naming the argument (issue #17)."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import layers


def test_relative_position_bucket_rejects_float_positions():
    with pytest.raises(TypeError, match="`relative_position` must be integer"):
        layers.relative_position_bucket(np.array([0.5, -1.5], "float32"))
    assert layers.relative_position_bucket(np.array([0, -1], "int32")).shape == (2,)


def test_gelu_rejects_a_string_tensor():
    with pytest.raises(TypeError, match="`x` must be a float tensor"):
        layers.gelu(tf.constant(["a"]))


def test_position_embedding_tensor_start_index_past_the_table():
    layer = layers.PositionEmbedding(8)
    x = np.zeros((1, 2, 4), "float32")
    layer(x)
    with pytest.raises(ValueError, match=r"`start_index` must be a start position in \[0, 7\)"):
        layer(x, start_index=tf.constant(7))
    call = tf.function(lambda i: layer(x, start_index=i))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`start_index`"):
        call(tf.constant(7))
    # The last start that fits still runs, in the same graph, and reads the last two rows.
    np.testing.assert_allclose(call(tf.constant(6))[0], layer.embeddings.numpy()[6:8])
