"""Property tests (hypothesis) for every causal / padded sequence layer.

(a) causality: changing inputs after position t never changes outputs at <= t;
(b) padding: appending padding never changes outputs at the real positions;
(c) cache: step-by-step decoding with the fixed-shape KV cache equals the
    full-sequence forward pass (max abs diff <= 1e-5).

Each layer enters through a small adapter, so a new layer is one table row.
"""

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

DIM, HEADS = 8, 2
PROPERTY_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


def _mha(**kwargs):
    layer = MultiHeadAttention(num_heads=HEADS, **kwargs)
    return {
        "causal": lambda x: layer(x, use_causal_mask=True),
        "padded": lambda x, mask: layer(x, attention_mask=padding_mask_to_attention_mask(mask)),
        "step": lambda x, cache, index: layer(x, use_causal_mask=True, cache=cache, cache_index=index),
        "key_dim": DIM // HEADS,
    }


def _encoder(**kwargs):
    block = TransformerEncoderBlock(num_heads=HEADS, intermediate_dim=16, **kwargs)
    return {
        "causal": lambda x: block(x, use_causal_mask=True),
        "padded": lambda x, mask: block(x, padding_mask=mask),
    }


def _decoder(**kwargs):
    block = TransformerDecoderBlock(num_heads=HEADS, intermediate_dim=16, cross_attention=False, **kwargs)
    return {
        "causal": lambda x: block(x),
        "padded": lambda x, mask: block(x, decoder_padding_mask=mask, use_causal_mask=False),
        "step": lambda x, cache, index: block(x, self_attention_cache=cache, self_attention_cache_index=index),
        "key_dim": DIM // HEADS,
    }


LAYERS = {
    "mha": lambda: _mha(),
    "mha_shaw": lambda: _mha(relative_max_distance=3),
    "mha_rotary": lambda: _mha(rotary_max_wavelength=100),
    "encoder_post_ln": lambda: _encoder(),
    "encoder_pre_ln_shaw": lambda: _encoder(norm_first=True, relative_max_distance=2),
    "gpt1_block": lambda: _decoder(),
    "gpt2_block": lambda: _decoder(norm_first=True, activation="gelu_tanh"),
    "rotary_block": lambda: _decoder(norm_first=True, rotary_max_wavelength=1000),
}
CACHED = [name for name in LAYERS if name.startswith(("mha", "gpt", "rotary"))]
_built = {}


def _layer(name):
    # One instance per layer kind: weights stay fixed across examples.
    if name not in _built:
        _built[name] = LAYERS[name]()
    return _built[name]


def _sequence(seed, batch, length):
    return np.random.default_rng(seed).standard_normal((batch, length, DIM)).astype("float32")


@pytest.mark.parametrize("name", list(LAYERS))
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), length=st.integers(2, 9), t=st.integers(0, 8), batch=st.integers(1, 2))
def test_causality(name, seed, length, t, batch):
    t = t % length
    x = _sequence(seed, batch, length)
    changed = x.copy()
    changed[:, t + 1 :] = _sequence(seed + 1, batch, length)[:, t + 1 :]
    causal = _layer(name)["causal"]
    before, after = np.asarray(causal(x)), np.asarray(causal(changed))
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-5)
    if t + 1 < length:  # the changed positions do change: the test can fail
        assert np.max(np.abs(after[:, t + 1 :] - before[:, t + 1 :])) > 1e-4


@pytest.mark.parametrize("name", list(LAYERS))
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), length=st.integers(1, 7), extra=st.integers(1, 5))
def test_padding_never_changes_real_positions(name, seed, length, extra):
    x = _sequence(seed, 2, length)
    padded = np.concatenate([x, _sequence(seed + 7, 2, extra) * 100.0], axis=1)  # loud padding values
    mask = np.concatenate([np.ones((2, length), "int32"), np.zeros((2, extra), "int32")], axis=1)
    fn = _layer(name)["padded"]
    unpadded_out = np.asarray(fn(x, np.ones((2, length), "int32")))
    padded_out = np.asarray(fn(padded, mask))
    np.testing.assert_allclose(padded_out[:, :length], unpadded_out, atol=1e-5)


@pytest.mark.parametrize("name", CACHED)
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), length=st.integers(2, 9), prefill=st.integers(1, 9), spare=st.integers(0, 3))
def test_cached_decoding_equals_full_pass(name, seed, length, prefill, spare):
    prefill = 1 + (prefill - 1) % length
    layer = _layer(name)
    x = _sequence(seed, 2, length)
    full = np.asarray(layer["causal"](x))
    cache_length = length + spare  # a cache longer than the sequence
    empty = np.zeros((2, HEADS, cache_length, layer["key_dim"]), "float32")
    cache = (empty, empty)
    out, cache = layer["step"](x[:, :prefill], cache, 0)
    outputs = [np.asarray(out)]
    for t in range(prefill, length):
        out, cache = layer["step"](x[:, t : t + 1], cache, t)
        outputs.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)
