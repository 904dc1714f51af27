"""GELU against the paper's formulas (Hendrycks and Gimpel 2016), and activation lookup by name.

TFLite lowering of both forms (builtin GELU, right `approximate` flag) is checked in
test_feed_forward.py, in the same conversion as FeedForward.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

from kerasnlp_lite.layers import FeedForward, gelu, gelu_tanh, get_activation
from kerasnlp_lite.layers.activations import activation_names

X = np.linspace(-8, 8, 641).astype("float32")

# Independent references in float64: math.erf, and the tanh formula written out.
_erf = np.vectorize(math.erf)


def gelu_exact_reference(x):
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh_reference(x):
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _numpy(x):
    return ops.convert_to_numpy(ops.cast(x, "float32")).astype(np.float64)


@pytest.mark.parametrize("fn,reference", [(gelu, gelu_exact_reference), (gelu_tanh, gelu_tanh_reference)])
def test_gelu_float32_matches_formula(fn, reference):
    out = fn(ops.convert_to_tensor(X))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(_numpy(out), reference(X), atol=1e-6, rtol=1e-6)


def test_gelu_forms_differ():
    # Up to ~5e-4 apart near |x| = 2: a model trained with one must not silently get the other.
    difference = np.abs(gelu_exact_reference(X) - gelu_tanh_reference(X))
    assert 1e-4 < difference.max() < 1e-3
    assert np.max(np.abs(_numpy(gelu(X)) - _numpy(gelu_tanh(X)))) > 1e-4


# Half-ulp relative rounding of the output (2^-11 float16, 2^-8 bfloat16), plus 1e-6 absolute for
# float32's own cancellation in 1 + tanh(.) / 1 + erf(.) at large negative x: what computing in
# float32 and rounding once allows. Evaluated natively in half precision, the tanh form is off by
# up to 4e-4 absolute where its output is tiny (30% relative in float16, 100% in bfloat16).
@pytest.mark.parametrize("dtype,rtol", [("float16", 2.0**-11), ("bfloat16", 2.0**-8)])
@pytest.mark.parametrize("fn,reference", [(gelu, gelu_exact_reference), (gelu_tanh, gelu_tanh_reference)])
def test_gelu_half_precision_is_computed_in_float32(dtype, rtol, fn, reference):
    x = ops.cast(X, dtype)
    out = fn(x)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    # The reference takes the rounded inputs, so only the output rounding remains.
    np.testing.assert_allclose(_numpy(out), reference(_numpy(x)), rtol=rtol * 1.01, atol=1e-6)


def test_get_activation_names():
    assert get_activation("gelu") is gelu  # ours (exact, float32 inside) before Keras' "gelu"
    assert get_activation("gelu_tanh") is gelu_tanh
    assert get_activation("kerasnlp_lite>gelu_tanh") is gelu_tanh  # the registered name
    assert get_activation("relu") is keras.activations.relu
    assert get_activation("silu") is keras.activations.silu
    assert get_activation(None) is keras.activations.linear
    assert get_activation(np.tanh) is np.tanh
    assert get_activation(keras.saving.serialize_keras_object(gelu_tanh)) is gelu_tanh
    names = activation_names()
    assert names[:2] == ["gelu", "gelu_tanh"] and "relu" in names and "get" not in names


def test_registered_functions_round_trip_in_keras_configs():
    dense = keras.layers.Dense(3, activation=gelu_tanh)
    assert keras.layers.Dense.from_config(dense.get_config()).activation is gelu_tanh
    assert keras.saving.get_registered_object("kerasnlp_lite>gelu") is gelu


def test_bad_identifiers():
    with pytest.raises(ValueError, match=r"Unknown `activation` 'swishy'; valid names: gelu, gelu_tanh, .*relu"):
        get_activation("swishy")
    with pytest.raises(ValueError, match="Unknown `activation` 'get'"):
        get_activation("get")  # a public name of keras.activations that is not an activation
    with pytest.raises(TypeError, match="`activation` must be a name or a callable"):
        get_activation(3)
    with pytest.raises(ValueError, match="Unknown `activation` 'Gelu'"):
        FeedForward(8, activation="Gelu")  # layers fail at construction, not at first call
