"""Bad input to the heads fails with a message naming the argument (issue #17)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import heads


def _x(batch, length, width):
    return np.random.default_rng(0).standard_normal((batch, length, width)).astype("float32")


@pytest.mark.parametrize("position", [-1, 4])
def test_masked_lm_head_position_out_of_range_eager(position):
    head = heads.MaskedLMHead(vocabulary_size=10)
    with pytest.raises(ValueError, match=r"`mask_positions`.*\[0, 4\)"):
        head(_x(1, 4, 8), mask_positions=np.array([[0, position]]))


@pytest.mark.parametrize("position", [-1, 4])
def test_masked_lm_head_position_out_of_range_in_tf_function(position):
    head = heads.MaskedLMHead(vocabulary_size=10)
    head(_x(1, 4, 8), mask_positions=np.array([[0, 1]]))
    call = tf.function(lambda x, p: head(x, mask_positions=p))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`mask_positions`"):
        call(_x(1, 4, 8), tf.constant([[0, position]]))
    # In range, the same graph still runs.
    assert call(_x(1, 4, 8), tf.constant([[0, 3]])).shape == (1, 2, 10)


def test_extract_token_head_all_padding_row():
    head = heads.ExtractTokenHead(num_classes=2, dropout=0.0)
    with pytest.raises(ValueError, match=r"`padding_mask` rows \[1\]"):
        head(_x(2, 4, 8), np.array([[1, 1, 0, 0], [0, 0, 0, 0]], "int32"))


def test_extract_token_head_padding_mask_of_another_length():
    head = heads.ExtractTokenHead(num_classes=2, dropout=0.0)
    with pytest.raises(ValueError, match=r"`padding_mask` must have shape.*\(1, 4\)"):
        head(_x(1, 4, 8), np.array([[1, 1, 1]], "int32"))


def test_causal_lm_head_rejects_a_dense_layer():
    with pytest.raises(TypeError, match="`token_embedding`.*Dense"):
        heads.CausalLMHead(keras.layers.Dense(4))


def test_masked_lm_head_rejects_a_dense_layer():
    with pytest.raises(TypeError, match="`token_embedding`.*Dense"):
        heads.MaskedLMHead(vocabulary_size=4, token_embedding=keras.layers.Dense(4))
