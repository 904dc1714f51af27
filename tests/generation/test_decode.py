"""The decode loop on a tiny GPT: cache vs recompute, XLA, samplers, beams, stop tokens, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.generation import TopPSampler
from kerasnlp_lite.models import CausalLM, GPTBackbone

PROMPTS = [[5, 6, 7], [8, 9, 10, 11, 12], [13]]  # different lengths, right-padded inside
MAX_LENGTH = 14


@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    backbone = GPTBackbone(
        vocabulary_size=48, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=16,
        dropout=0.0,
    )
    # Larger-than-default weights so that the next-token distribution is far from uniform.
    backbone.token_embedding.embeddings.assign(backbone.token_embedding.embeddings * 5)
    return CausalLM(backbone)


@pytest.fixture(scope="module")
def greedy(lm):
    return lm.generate(PROMPTS, MAX_LENGTH)


def continuation_log_prob(lm, token_ids, prompt_lengths, padding_mask):
    """sum of log P(token_t | tokens_<t) over generated positions, by a full forward pass."""
    logits = np.asarray(lm({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}), "float64")
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(
        -1, keepdims=True
    )
    totals = []
    for b, start in enumerate(prompt_lengths):
        end = int(padding_mask[b].sum())
        totals.append(sum(log_probs[b, t - 1, token_ids[b, t]] for t in range(start, end)))
    return np.array(totals)


def test_cached_and_uncached_logits_agree(lm):
    ids = np.random.default_rng(1).integers(0, 48, (2, 12)).astype("int32")
    full = np.asarray(lm({"token_ids": ids, "padding_mask": np.ones_like(ids)}))
    cache = lm.backbone.init_cache(2, 16)
    logits, cache = lm.call_with_cache(ids[:, :4], cache, 0)  # prefill once
    stepped = [np.asarray(logits)]
    for t in range(4, 12):  # then one token per step
        logits, cache = lm.call_with_cache(ids[:, t : t + 1], cache, t)
        stepped.append(np.asarray(logits))
    assert np.max(np.abs(np.concatenate(stepped, axis=1) - full)) <= 1e-5


def test_greedy_shapes_padding_and_batch_independence(lm, greedy):
    ids, mask = greedy["token_ids"], greedy["padding_mask"]
    assert ids.shape == mask.shape == (3, MAX_LENGTH) and ids.dtype == np.int32
    for b, prompt in enumerate(PROMPTS):
        assert ids[b, : len(prompt)].tolist() == prompt
        alone = lm.generate([prompt], MAX_LENGTH)["token_ids"][0]
        np.testing.assert_array_equal(alone, ids[b])  # right padding does not leak between rows
    assert mask.all()


def test_cache_no_cache_and_jit_give_identical_greedy_output(lm, greedy):
    for kwargs in (dict(use_cache=False), dict(jit_compile=True), dict(use_cache=False, jit_compile=True)):
        np.testing.assert_array_equal(lm.generate(PROMPTS, MAX_LENGTH, **kwargs)["token_ids"], greedy["token_ids"])


def test_prompts_of_nearby_widths_share_one_traced_loop(lm, greedy):
    key = next(k for k in lm._generate_functions if k[1] == "GreedySampler()" and k[-2] and not k[-1])
    function = lm._generate_functions[key].function
    traces = function.experimental_get_tracing_count()
    # Width 3 instead of PROMPTS' 5: both are padded to one bucket, so no new trace.
    narrower = lm.generate([[5, 6, 7], [8, 9], [13]], MAX_LENGTH)
    assert function.experimental_get_tracing_count() == traces
    np.testing.assert_array_equal(narrower["token_ids"][[0, 2]], greedy["token_ids"][[0, 2]])  # same prompts
    assert narrower["padding_mask"].all()


def test_jit_compiles_the_loop_with_xla(lm):
    lm.generate(PROMPTS, MAX_LENGTH, jit_compile=True, sampler="top_p", p=0.9, seed=1)
    function = next(f for key, f in lm._generate_functions.items() if key[-1] and "TopP" in key[1]).function
    concrete = function.get_concrete_function(
        tf.TensorSpec((3, 5), tf.int32), tf.TensorSpec((3, 5), tf.bool), tf.TensorSpec((), tf.int32)
    )
    assert concrete.function_def.attr["_XlaMustCompile"].b


def test_top_k_1_and_cold_temperature_equal_greedy(lm, greedy):
    np.testing.assert_array_equal(lm.generate(PROMPTS, MAX_LENGTH, sampler="top_k", k=1, seed=3)["token_ids"],
                                  greedy["token_ids"])
    cold = lm.generate(PROMPTS, MAX_LENGTH, sampler="random", temperature=1e-4, seed=3)["token_ids"]
    np.testing.assert_array_equal(cold, greedy["token_ids"])


def test_random_samplers_are_seeded(lm, greedy):
    for kwargs in (dict(sampler="random"), dict(sampler="top_k", k=5), dict(sampler="top_p", p=0.9, temperature=2.0)):
        first = lm.generate(PROMPTS, MAX_LENGTH, seed=7, **kwargs)["token_ids"]
        np.testing.assert_array_equal(lm.generate(PROMPTS, MAX_LENGTH, seed=7, **kwargs)["token_ids"], first)
        assert not np.array_equal(lm.generate(PROMPTS, MAX_LENGTH, seed=8, **kwargs)["token_ids"], first)


def test_top_p_samples_only_from_the_nucleus():
    probabilities = np.array([0.5, 0.3, 0.1, 0.06, 0.04])
    logits = tf.constant(np.log(np.tile(probabilities, (4000, 1))), tf.float32)
    for p, nucleus in ((0.75, {0, 1}), (0.5, {0}), (0.85, {0, 1, 2}), (1.0, {0, 1, 2, 3, 4})):
        samples = TopPSampler(p=p)(logits, tf.constant([1, 2])).numpy()
        assert set(samples.tolist()) == nucleus, p
    # Renormalised within the nucleus: 0.5 / 0.8 of the draws are token 0.
    samples = TopPSampler(p=0.75)(logits, tf.constant([3, 4])).numpy()
    assert np.mean(samples == 0) == pytest.approx(0.625, abs=0.03)


def test_beam_search(lm, greedy):
    one = lm.generate(PROMPTS, MAX_LENGTH, sampler="beam", num_beams=1)
    np.testing.assert_array_equal(one["token_ids"], greedy["token_ids"])
    lengths = [len(p) for p in PROMPTS]
    greedy_log_prob = continuation_log_prob(lm, greedy["token_ids"], lengths, greedy["padding_mask"])
    np.testing.assert_allclose(one["scores"], greedy_log_prob, atol=1e-3)
    beams = lm.generate(PROMPTS, MAX_LENGTH, sampler="beam", num_beams=4)
    beam_log_prob = continuation_log_prob(lm, beams["token_ids"], lengths, beams["padding_mask"])
    np.testing.assert_allclose(beams["scores"], beam_log_prob, atol=1e-3)
    assert np.all(beam_log_prob >= greedy_log_prob - 1e-4)
    for b, prompt in enumerate(PROMPTS):
        assert beams["token_ids"][b, : len(prompt)].tolist() == prompt
    uncached = lm.generate(PROMPTS, MAX_LENGTH, sampler="beam", num_beams=4, use_cache=False, jit_compile=True)
    np.testing.assert_array_equal(uncached["token_ids"], beams["token_ids"])


@pytest.mark.parametrize("sampler", [dict(), dict(sampler="beam", num_beams=3)], ids=["greedy", "beam"])
def test_stop_tokens_end_rows_with_padding(lm, greedy, sampler):
    free = lm.generate(PROMPTS, MAX_LENGTH, **sampler)["token_ids"]
    stop = int(free[0, len(PROMPTS[0])])  # the first token row 0 generates
    out = lm.generate(PROMPTS, MAX_LENGTH, stop_token_ids=[stop], pad_token_id=47, **sampler)
    ids, mask = out["token_ids"], out["padding_mask"]
    for b, prompt in enumerate(PROMPTS):
        generated = ids[b, len(prompt) :]
        hits = np.flatnonzero(generated == stop)
        if hits.size:  # the row ends with the stop token, then only padding
            end = len(prompt) + hits[0] + 1
            assert np.all(ids[b, end:] == 47) and mask[b, :end].all() and not mask[b, end:].any()
        else:
            assert mask[b].all()
    assert not mask.all()
    if not sampler:  # greedy: row 0 is the free run up to and with its first token, then padding
        assert ids[0, :4].tolist() == free[0, :4].tolist() and ids[0, 4:].tolist() == [47] * (MAX_LENGTH - 4)
    # A stop token inside a prompt does not end it.
    assert lm.generate(PROMPTS, MAX_LENGTH, stop_token_ids=[6], **sampler)["padding_mask"][0, :4].all()


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        (dict(max_length=5), "max_length"),
        (dict(max_length=4), "max_length"),
        (dict(max_length=17), "max_length"),
        (dict(sampler="top_k", k=0), "`k`"),
        (dict(sampler="top_k", k=49), "`k`"),
        (dict(sampler="top_k", k=2.5), "`k`"),
        (dict(sampler="top_p", p=0.0), "`p`"),
        (dict(sampler="top_p", p=1.5), "`p`"),
        (dict(sampler="random", temperature=0.0), "temperature"),
        (dict(sampler="top_k", k=3, temperature=-1.0), "temperature"),
        (dict(sampler="beam", num_beams=0), "num_beams"),
        (dict(sampler="nucleus"), "sampler"),
        (dict(sampler="greedy", k=3), "greedy"),
        (dict(stop_token_ids=[48]), "stop_token_ids"),
    ],
)
def test_bad_arguments_name_the_argument(lm, kwargs, argument):
    kwargs = dict(dict(max_length=MAX_LENGTH), **kwargs)
    with pytest.raises(ValueError, match=argument):
        lm.generate(PROMPTS, **kwargs)


def test_bad_prompts(lm):
    with pytest.raises(ValueError, match="right-padded"):
        lm.generate(np.ones((1, 4), "int32"), MAX_LENGTH, padding_mask=np.array([[0, 1, 1, 1]]))
    with pytest.raises(ValueError, match="at least one token"):
        lm.generate([[1, 2], []], MAX_LENGTH)
