import math

import keras
import numpy as np
import pytest

from kerasnlp_lite.layers import FeedForward, gelu, gelu_tanh, get_activation
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)
X = np.linspace(-6, 6, 241).astype("float32")


def _gelu_exact_reference(x):
    return np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype(np.float64)])


def _gelu_tanh_reference(x):
    x = x.astype(np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def test_gelu_formulas():
    assert_allclose(gelu(X), _gelu_exact_reference(X), atol=1e-6)
    assert_allclose(gelu_tanh(X), _gelu_tanh_reference(X), atol=1e-6)
    # The two differ (by up to ~5e-4 near |x| = 2), so the names matter.
    assert np.max(np.abs(_gelu_exact_reference(X) - _gelu_tanh_reference(X))) > 1e-4


@pytest.mark.parametrize("dtype,atol", [("float16", 2e-3), ("bfloat16", 3e-2)])
def test_gelu_half_precision(dtype, atol):
    x = keras.ops.cast(X, dtype)
    for fn, reference in ((gelu, _gelu_exact_reference), (gelu_tanh, _gelu_tanh_reference)):
        out = fn(x)
        assert keras.backend.standardize_dtype(out.dtype) == dtype
        expected = reference(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")))
        assert_allclose(keras.ops.cast(out, "float32"), expected, atol=atol, rtol=1e-2)


def test_activation_names_resolve_and_serialize():
    assert get_activation("gelu") is gelu
    assert get_activation("gelu_tanh") is gelu_tanh
    assert get_activation("relu") is keras.activations.relu
    with pytest.raises(ValueError, match="Unknown `activation` 'swishy'"):
        get_activation("swishy")
    with pytest.raises(ValueError, match="Unknown `activation`"):
        FeedForward(8, activation="swishy")


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh", "relu"])
def test_feed_forward_basics(activation):
    run_layer_test(
        FeedForward,
        init_kwargs={"intermediate_dim": 32, "activation": activation, "dropout": 0.1},
        input_data={"inputs": rng.standard_normal((2, 5, 8)).astype("float32")},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=4,
    )


def test_feed_forward_matches_numpy():
    layer = FeedForward(16, activation="gelu_tanh", output_dim=4)
    x = rng.standard_normal((2, 3, 8)).astype("float32")
    out = layer(x)
    w1, b1 = layer.intermediate_dense.get_weights()
    w2, b2 = layer.output_dense.get_weights()
    h = x @ w1 + b1
    expected = _gelu_tanh_reference(h.reshape(-1)).reshape(h.shape) @ w2 + b2
    assert_allclose(out, expected, atol=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="`intermediate_dim` must be an integer >= 1"):
        FeedForward(0)
    with pytest.raises(ValueError, match="`dropout` must be in"):
        FeedForward(4, dropout=-0.1)
    with pytest.raises(TypeError, match="`inputs` must have a floating dtype"):
        FeedForward(4)(np.zeros((2, 3, 8), "int32"))


@pytest.mark.slow
@pytest.mark.tflite
def test_feed_forward_tflite_parity_both_gelus():
    inputs = keras.Input((5, 8), batch_size=1, name="inputs")
    model = keras.Model(inputs, [FeedForward(16, activation="gelu")(inputs), FeedForward(16, activation="gelu_tanh")(inputs)])
    _, op_names = run_tflite_parity_test(model, {"inputs": rng.standard_normal((1, 5, 8)).astype("float32")})
    assert "GELU" in op_names
