"""Bad prompts to `generate` (issue #17) and seeded sampling that XLA does not change."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import generation
from kerasnlp_lite.generation.samplers import gumbel_max_sample, hash_uniform
from kerasnlp_lite.models import CausalLM, GPTBackbone, Seq2SeqLM, TransformerSeq2Seq

V = 40
SIZES = dict(vocabulary_size=V, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)


@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    return CausalLM(GPTBackbone(**SIZES, dropout=0.0))


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("bad", [-1, V, V + 7])
def test_prompt_ids_out_of_range(lm, bad, jit_compile):
    # -1 used to be read as V-1, and XLA clamped ids >= V: both generated without complaint.
    with pytest.raises(ValueError, match=rf"`prompts` must hold .*ids.*{bad} at index \(1, 1\)"):
        lm.generate([[1, 2], [3, bad]], max_length=6, jit_compile=jit_compile)


def test_float_prompts_are_refused_not_truncated(lm):
    with pytest.raises(TypeError, match="`prompts` must hold integer token ids.*float64"):
        lm.generate(np.array([[1.7, 2.9]]), max_length=6)
    with pytest.raises(TypeError, match=r"`prompts\[0\]` must hold integer token ids"):
        lm.generate([[1.7, 2.9]], max_length=6)


def test_seq2seq_sources_and_decoder_prompts():
    keras.utils.set_random_seed(0)
    model = Seq2SeqLM(TransformerSeq2Seq(**SIZES))
    with pytest.raises(TypeError, match="`encoder_token_ids` must hold integer token ids"):
        model.generate({"encoder_token_ids": np.array([[1.5, 2.0]])}, max_length=4)
    with pytest.raises(ValueError, match="encoder_token_ids.*-3"):
        model.generate({"encoder_token_ids": np.array([[5, -3]])}, max_length=4)
    with pytest.raises(ValueError, match="decoder_prompts"):
        model.generate({"encoder_token_ids": np.array([[5, 6]])}, max_length=4, decoder_prompts=[[1, V]])
    with pytest.raises(ValueError, match="`encoder_padding_mask` is all zeros"):
        model.generate({"encoder_token_ids": np.array([[0, 0]]), "encoder_padding_mask": np.zeros((1, 2))},
                       max_length=4)


# --- the same seed gives the same samples with and without XLA --------------------------------
@pytest.mark.slow
def test_seeded_samples_equal_with_and_without_jit_compile(lm):
    # top_p draws over the whole vocabulary (as "random" does; top_k draws over k values through the same code).
    prompts = [[1, 2, 3], [4]]
    eager = lm.generate(prompts, max_length=12, sampler="top_p", p=0.9, seed=11)
    compiled = lm.generate(prompts, max_length=12, sampler="top_p", p=0.9, seed=11, jit_compile=True)
    np.testing.assert_array_equal(compiled["token_ids"], eager["token_ids"])
    np.testing.assert_array_equal(compiled["padding_mask"], eager["padding_mask"])
    other = lm.generate(prompts, max_length=12, sampler="top_p", p=0.9, seed=12)
    assert not np.array_equal(other["token_ids"], eager["token_ids"])  # the seed matters


def test_hash_uniform_is_uniform_and_seeded():
    u = hash_uniform([64, 1000], np.array([3, 9], "int32")).numpy()
    assert u.dtype == np.float32 and 0.0 < u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    np.testing.assert_array_equal(hash_uniform([64, 1000], np.array([3, 9], "int32")).numpy(), u)
    assert not np.array_equal(hash_uniform([64, 1000], np.array([3, 10], "int32")).numpy(), u)
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 0.02  # neighbours independent


def test_gumbel_max_samples_from_the_softmax():
    probabilities = np.array([0.05, 0.15, 0.3, 0.5, 0.0])
    logits = np.tile(np.log(np.maximum(probabilities, 1e-30)), (20000, 1)).astype("float32")
    logits[:, -1] = -1e9  # a token outside a top-p nucleus is never drawn
    draws = gumbel_max_sample(logits, np.array([5, 1], "int32")).numpy()
    frequencies = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(frequencies, probabilities, atol=0.015)


# --- Bad input to the samplers and prompt helpers fails with a message naming the argument (issue #17). ---

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
