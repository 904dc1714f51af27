"""Property tests (hypothesis) for every causal / padded / cached sequence layer.

(a) causality: changing inputs after position t never changes outputs at <= t;
(b) padding: appending padding (masked out) never changes outputs at the real
    positions, whatever the padding holds and whatever each row's length;
(c) cache: prefill plus step-by-step decoding through the fixed-shape KV cache
    equals the full causal forward pass (max abs diff <= 1e-5), and cache slots
    past the decoded length are left untouched.

Each property is a plain function of callables (`assert_causal`,
`assert_padding_invariant`, `assert_cache_matches_full_pass`). A layer enters
through an `Adapter` of three small callables built by a factory; adding a
layer is one factory and one `SEQUENCE_LAYERS` row. Callables a layer cannot
provide are left `None` and its property tests are skipped.
"""

from typing import Callable, NamedTuple, Optional

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasnlp_lite.layers import (
    MultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    padding_mask_to_attention_mask,
)

DIM, HEADS, KEY_DIM = 8, 2, 4
ATOL = 1e-5
# Small and derandomized: deterministic CI, a few seconds per layer.
PROPERTY_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None)


class Adapter(NamedTuple):
    """A sequence layer seen through three calls (numpy in, tensors out).

    causal: `x [B, T, D] -> [B, T, D]`, the full causal forward pass.
    padded: `(x [B, S, D], padding_mask [B, S] int, 1 = real) -> [B, S, D]`,
        a non-causal forward pass with padded keys masked out.
    step: `(x [B, T, D], cache, cache_index) -> (output, cache)`, one cached
        causal call; `cache` is `(key_cache, value_cache)`, each `[B, N, L, H]`.
    """

    causal: Optional[Callable] = None
    padded: Optional[Callable] = None
    step: Optional[Callable] = None


# --- the properties -----------------------------------------------------------------


def assert_causal(causal, x, t, replacement):
    """Outputs at <= t ignore inputs at > t (and do depend on them after t)."""
    changed = x.copy()
    changed[:, t + 1 :] = replacement[:, t + 1 :]
    before, after = np.asarray(causal(x)), np.asarray(causal(changed))
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=ATOL)
    if t + 1 < x.shape[1]:  # the changed positions do change: the property can fail
        assert np.max(np.abs(after[:, t + 1 :] - before[:, t + 1 :])) > 1e-4


def assert_padding_invariant(padded, x, lengths):
    """Row b of `x` has `lengths[b]` real positions, then padding."""
    batch, total, _ = x.shape
    mask = (np.arange(total)[None, :] < np.asarray(lengths)[:, None]).astype("int32")
    out = np.asarray(padded(x, mask))
    for b, length in enumerate(lengths):
        alone = np.asarray(padded(x[b : b + 1, :length], np.ones((1, length), "int32")))
        np.testing.assert_allclose(out[b, :length], alone[0], atol=ATOL)
    if min(lengths) < total:  # without the mask the padding is seen: the property can fail
        unmasked = np.asarray(padded(x, np.ones_like(mask)))
        assert np.max(np.abs((unmasked - out)[mask.astype(bool)])) > 1e-4


def assert_cache_matches_full_pass(causal, step, x, prefill, chunk, initial_cache):
    """Prefill `prefill` tokens at index 0, then `chunk` tokens per call."""
    length = x.shape[1]
    full = np.asarray(causal(x))
    out, cache = step(x[:, :prefill], initial_cache, 0)
    outputs = [np.asarray(out)]
    for start in range(prefill, length, chunk):
        out, cache = step(x[:, start : start + chunk], cache, start)
        outputs.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=ATOL)
    for before, after in zip(initial_cache, cache):
        after = np.asarray(after)
        assert after.shape == before.shape, "the cache changed shape"
        np.testing.assert_array_equal(after[:, :, length:], before[:, :, length:])  # untouched slots
        assert not np.any(np.all(after[:, :, :length] == before[:, :, :length], axis=-1))  # written slots


# --- adapters: one factory per layer kind -----------------------------------------


def _mha(**kwargs):
    layer = MultiHeadAttention(num_heads=HEADS, **kwargs)
    return Adapter(
        causal=lambda x: layer(x, use_causal_mask=True),
        padded=lambda x, mask: layer(x, attention_mask=padding_mask_to_attention_mask(mask)),
        step=lambda x, cache, index: layer(x, use_causal_mask=True, cache=cache, cache_index=index),
    )


def _encoder(**kwargs):
    block = TransformerEncoderBlock(num_heads=HEADS, intermediate_dim=16, **kwargs)
    return Adapter(
        causal=lambda x: block(x, use_causal_mask=True),
        padded=lambda x, mask: block(x, padding_mask=mask),
    )


def _decoder(**kwargs):
    block = TransformerDecoderBlock(num_heads=HEADS, intermediate_dim=16, cross_attention=False, **kwargs)
    return Adapter(
        causal=lambda x: block(x),
        padded=lambda x, mask: block(x, decoder_padding_mask=mask, use_causal_mask=False),
        step=lambda x, cache, index: block(x, self_attention_cache=cache, self_attention_cache_index=index),
    )


def _seq2seq_decoder(**kwargs):
    # Cross-attention to a fixed encoder output (3 real positions of 5) must
    # not break any property of the self-attention side. Every row gets the
    # same encoder output, so a row run alone sees what it saw in the batch.
    block = TransformerDecoderBlock(num_heads=HEADS, intermediate_dim=16, cross_attention=True, **kwargs)
    memory = np.random.default_rng(99).standard_normal((1, 5, DIM)).astype("float32")
    memory_mask = np.array([[1, 1, 1, 0, 0]], "int32")

    def enc(x):
        b = x.shape[0]
        return {"encoder_sequence": np.repeat(memory, b, 0), "encoder_padding_mask": np.repeat(memory_mask, b, 0)}

    return Adapter(
        causal=lambda x: block(x, **enc(x)),
        padded=lambda x, mask: block(x, decoder_padding_mask=mask, use_causal_mask=False, **enc(x)),
        step=lambda x, c, i: block(x, self_attention_cache=c, self_attention_cache_index=i, **enc(x)),
    )


SEQUENCE_LAYERS = {
    "mha": lambda: _mha(),
    "mha_shaw": lambda: _mha(relative_max_distance=3),
    "mha_rotary": lambda: _mha(rotary_max_wavelength=100),
    "encoder_post_ln": lambda: _encoder(),
    "encoder_pre_ln_shaw": lambda: _encoder(norm_first=True, relative_max_distance=2),
    "gpt1_block": lambda: _decoder(),
    "gpt2_block": lambda: _decoder(norm_first=True, activation="gelu_tanh"),
    "rotary_block": lambda: _decoder(norm_first=True, rotary_max_wavelength=1000),
    "seq2seq_block": lambda: _seq2seq_decoder(norm_first=True),
}
_built = {}


def _adapter(name, prop):
    # One instance per layer kind, with seeded weights that stay fixed across
    # the examples of a property.
    if name not in _built:
        keras.utils.set_random_seed(list(SEQUENCE_LAYERS).index(name))
        _built[name] = SEQUENCE_LAYERS[name]()
    adapter = _built[name]
    if getattr(adapter, prop) is None:
        pytest.skip(f"{name} has no `{prop}` adapter")
    return adapter


def _sequence(seed, batch, length):
    return np.random.default_rng(seed).standard_normal((batch, length, DIM)).astype("float32")


# --- the tests ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SEQUENCE_LAYERS))
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), length=st.integers(2, 9), t=st.integers(0, 8), batch=st.integers(1, 2))
def test_causality(name, seed, length, t, batch):
    adapter = _adapter(name, "causal")
    t = t % length
    assert_causal(adapter.causal, _sequence(seed, batch, length), t, _sequence(seed + 1, batch, length))


@st.composite
def _ragged_batch(draw):
    batch = draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(1, 6), min_size=batch, max_size=batch))
    extra = draw(st.integers(1, 4))
    return lengths, max(lengths) + extra


@pytest.mark.parametrize("name", list(SEQUENCE_LAYERS))
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), ragged=_ragged_batch(), loudness=st.sampled_from([1.0, 100.0]))
def test_padding_never_changes_real_positions(name, seed, ragged, loudness):
    adapter = _adapter(name, "padded")
    lengths, total = ragged
    x = _sequence(seed, len(lengths), total)
    padding = np.arange(total)[None, :, None] >= np.asarray(lengths)[:, None, None]
    x = np.where(padding, x * loudness, x)  # padding may hold anything, even large values
    assert_padding_invariant(adapter.padded, x, lengths)


@pytest.mark.parametrize("name", list(SEQUENCE_LAYERS))
@PROPERTY_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 2),
    length=st.integers(2, 9),
    prefill=st.integers(1, 9),
    chunk=st.sampled_from([1, 1, 2, 3]),
    spare=st.integers(1, 3),
)
def test_cached_decoding_equals_full_pass(name, seed, batch, length, prefill, chunk, spare):
    adapter = _adapter(name, "step")
    prefill = 1 + (prefill - 1) % length
    x = _sequence(seed, batch, length)
    # A cache longer than the sequence, holding garbage: unwritten slots must
    # be masked out, not merely zero.
    noise = np.random.default_rng(seed + 2).standard_normal((2, batch, HEADS, length + spare, KEY_DIM))
    initial_cache = (noise[0].astype("float32"), noise[1].astype("float32"))
    assert_cache_matches_full_pass(adapter.causal, adapter.step, x, prefill, chunk, initial_cache)
