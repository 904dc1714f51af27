"""Bad input to the samplers and prompt helpers fails with a message naming the argument (issue #17)."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import generation

LOGITS = np.array([[0.1, 2.0, 0.3, -1.0]], "float32")


def test_greedy_sampler_rejects_rank_1_logits():
    with pytest.raises(ValueError, match=r"`logits` must have shape \[batch, vocabulary_size\]"):
        generation.GreedySampler()(LOGITS[0], seed=None)


def test_greedy_sampler_rejects_nan_logits():
    with pytest.raises(ValueError, match="`logits` hold NaN"):
        generation.GreedySampler()(np.full((1, 4), np.nan, "float32"), seed=None)
    assert generation.GreedySampler()(LOGITS, seed=None).numpy().tolist() == [1]


def test_top_k_sampler_k_larger_than_the_vocabulary_at_call():
    with pytest.raises(ValueError, match=r"`k`=10 exceeds the vocabulary size 4"):
        generation.TopKSampler(k=10)(LOGITS, seed=tf.constant([1, 2]))
    assert generation.TopKSampler(k=4)(LOGITS, seed=tf.constant([1, 2])).shape == (1,)


def test_prepare_prompts_rejects_a_negative_id():
    with pytest.raises(ValueError, match="`prompts` must hold token ids >= 0, got -2"):
        generation.prepare_prompts([[1, -2]])
    # Padding positions are not ids and are not checked.
    ids, mask = generation.prepare_prompts(np.array([[1, -1]]), padding_mask=np.array([[1, 0]]))
    assert ids.tolist() == [[1]] and mask.tolist() == [[True]]
