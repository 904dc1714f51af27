"""Bad input to the data objectives fails with a message naming the argument (issue #17)."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import data

V = 34


def test_mask_language_model_token_id_past_the_vocabulary():
    with pytest.raises(ValueError, match=r"`token_ids`.*\[0, 34\)"):
        data.mask_language_model(tf.constant([[5, 6, V, 7]]), vocabulary_size=V, mask_token_id=4, seed=0)


def test_mask_language_model_token_id_past_the_vocabulary_in_dataset_map():
    dataset = tf.data.Dataset.from_tensors(tf.constant([[5, 6, V, 7]])).map(
        lambda ids: data.mask_language_model(ids, vocabulary_size=V, mask_token_id=4, seed=0)["token_ids"]
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="`token_ids`"):
        list(dataset)


def test_mask_language_model_ragged_negative_id():
    with pytest.raises(ValueError, match="`token_ids`"):
        data.mask_language_model(
            tf.ragged.constant([[5, -1], [6]]), vocabulary_size=V, mask_token_id=4, seed=0, max_selections=2
        )


def test_span_corruption_token_id_past_the_vocabulary():
    with pytest.raises(ValueError, match=r"`token_ids`.*\[0, 34\)"):
        data.span_corruption(tf.constant([5, 6, V, 7, 8, 9]), 0, vocabulary_size=V, num_sentinels=4)


@pytest.mark.parametrize("num_to_mask", [-1, tf.constant(-1)])
def test_poisson_span_lengths_negative_count(num_to_mask):
    with pytest.raises(ValueError, match="`num_to_mask`"):
        data.poisson_span_lengths(num_to_mask, tf.constant([1, 2], tf.int64))


@pytest.mark.parametrize("poisson_lambda", [0.0, -3.0])
def test_poisson_span_lengths_lambda(poisson_lambda):
    with pytest.raises(ValueError, match="`poisson_lambda`"):
        data.poisson_span_lengths(4, tf.constant([1, 2], tf.int64), poisson_lambda=poisson_lambda)


def test_random_spans_noise_mask_negative_length():
    with pytest.raises(ValueError, match="`length`"):
        data.random_spans_noise_mask(-1, 0)
    assert data.random_spans_noise_mask(10, 0).shape == (10,)


def test_nonnoise_span_to_unique_sentinel_int_mask():
    with pytest.raises(TypeError, match="`noise_mask`.*bool"):
        data.nonnoise_span_to_unique_sentinel(tf.range(5, 13), tf.ones([8], "int32"), 30)


def test_noise_span_to_unique_sentinel_mask_of_another_length():
    with pytest.raises(ValueError, match=r"`noise_mask` must have the shape of `token_ids`"):
        data.noise_span_to_unique_sentinel(tf.range(5, 13), tf.constant([True, False]), 30)


@pytest.mark.parametrize("counts", [[0, 0, 0], [3, -1, 2], [1.0, np.nan, 2.0]])
def test_negative_sampling_distribution_bad_counts(counts):
    with pytest.raises(ValueError, match="`unigram_counts`"):
        data.negative_sampling_distribution(counts)
    np.testing.assert_allclose(data.negative_sampling_distribution([1, 0, 1]), [0.5, 0.0, 0.5])
