import keras
import numpy as np
import pytest

from kerasnlp_lite.layers import FeedForward, gelu, gelu_tanh
from tests.layers.test_activations import gelu_exact_reference, gelu_tanh_reference
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)


def _x(*shape):
    return rng.standard_normal(shape).astype("float32")


@pytest.mark.parametrize(
    "extra,num_weights,output_width",
    [
        ({"activation": "gelu", "dropout": 0.1}, 4, 8),
        ({"activation": "gelu_tanh", "output_dim": 4}, 4, 4),
        ({"activation": "relu", "use_bias": False}, 2, 8),
    ],
)
def test_layer_basics(extra, num_weights, output_width):
    run_layer_test(
        FeedForward,
        init_kwargs={"intermediate_dim": 32, **extra},
        input_data={"inputs": _x(2, 5, 8)},
        expected_output_shape=(2, 5, output_width),
        expected_output_dtype="float32",
        expected_num_trainable_weights=num_weights,
    )


@pytest.mark.parametrize("activation,reference", [("gelu", gelu_exact_reference), ("gelu_tanh", gelu_tanh_reference)])
def test_matches_numpy(activation, reference):
    # FFN(x) = act(x W1 + b1) W2 + b2 (Vaswani et al. 3.3), with random biases so they count.
    layer = FeedForward(16, activation=activation, output_dim=4, bias_initializer="random_normal")
    x = _x(2, 3, 8) * 2.0
    out = layer(x)
    w1, b1 = layer.intermediate_dense.get_weights()
    w2, b2 = layer.output_dense.get_weights()
    assert w1.shape == (8, 16) and w2.shape == (16, 4)
    expected = reference(x @ w1 + b1) @ w2 + b2
    assert_allclose(out, expected, atol=1e-5)
    assert_allclose(layer(x[0]), expected[0], atol=1e-5)  # rank 2 works too
    assert_allclose(layer(x[None]), expected[None], atol=1e-5)  # and rank 4 (one 2-D matmul inside)


def test_dropout_acts_on_the_intermediate_activations():
    # With a second kernel of ones, every output unit is the sum of the (dropped) intermediate
    # units: dropout before it gives equal columns; dropout after it would zero single columns.
    layer = FeedForward(64, activation="relu", dropout=0.5, use_bias=False)
    x = np.abs(_x(2, 3, 8))
    layer(x)
    layer.output_dense.kernel.assign(np.ones((64, 8), "float32"))
    inference = np.asarray(layer(x))
    trained = np.asarray(layer(x, training=True))
    assert np.allclose(trained, trained[..., :1], rtol=1e-6)
    assert not np.allclose(trained, inference)


def test_initializers():
    layer = FeedForward(
        4,
        kernel_initializer=keras.initializers.Constant(0.1),
        output_kernel_initializer=keras.initializers.Constant(0.5),
        bias_initializer=keras.initializers.Constant(0.2),
    )
    layer(_x(1, 2, 3))
    assert np.all(layer.intermediate_dense.kernel.numpy() == np.float32(0.1))
    assert np.all(layer.output_dense.kernel.numpy() == np.float32(0.5))
    assert np.all(layer.output_dense.bias.numpy() == np.float32(0.2))
    # The output kernel defaults to the first kernel's initializer.
    default = FeedForward(4, kernel_initializer=keras.initializers.Constant(0.3))
    default(_x(1, 2, 3))
    assert np.all(default.output_dense.kernel.numpy() == np.float32(0.3))


@pytest.mark.parametrize("activation", ["gelu_tanh", gelu_tanh, keras.activations.relu, None])
def test_activation_stored_as_given_and_round_trips(activation):
    layer = FeedForward(4, activation=activation)
    assert layer.activation is activation
    config = layer.get_config()
    revived = FeedForward.from_config(config)
    assert revived.get_config() == config
    x = _x(1, 2, 3) * 3.0
    expected = layer(x)
    revived(x)
    revived.set_weights(layer.get_weights())
    assert_allclose(revived(x), expected, atol=0)


def test_gelu_default_is_exact():
    assert FeedForward(4).intermediate_dense.activation is gelu


def test_bad_inputs():
    with pytest.raises(ValueError, match="`intermediate_dim` must be an integer >= 1"):
        FeedForward(0)
    with pytest.raises(TypeError, match="`intermediate_dim` must be an integer"):
        FeedForward(3.0)
    with pytest.raises(ValueError, match="`output_dim` must be an integer >= 1"):
        FeedForward(4, output_dim=-2)
    with pytest.raises(ValueError, match="`dropout` must be in"):
        FeedForward(4, dropout=1.0)
    with pytest.raises(ValueError, match="Unknown `activation` 'swishy'"):
        FeedForward(4, activation="swishy")
    with pytest.raises(TypeError, match="`inputs` must have a floating dtype"):
        FeedForward(4)(np.zeros((2, 3, 8), "int32"))
    with pytest.raises(ValueError, match=r"`inputs` must have shape \[batch, ..., hidden_dim\]"):
        FeedForward(4)(np.zeros((8,), "float32"))


@pytest.mark.slow
@pytest.mark.tflite
def test_tflite_parity_both_gelus():
    # Inputs spread over [-6, 6]: there the two GELU forms differ by up to 5e-4, so parity at 1e-5
    # also proves TFLite's GELU got the right `approximate` flag for each. (The two bare activations
    # take different inputs: on the same tensor, the converter shares their `0.5 * x` and fuses
    # neither; see activations.py.)
    inputs = keras.Input((5, 8), batch_size=1, name="inputs")
    other = keras.Input((5, 8), batch_size=1, name="other")
    outputs = [
        FeedForward(16, activation="gelu")(inputs),
        FeedForward(16, activation="gelu_tanh", dropout=0.1)(inputs),
        keras.layers.Activation(gelu)(inputs),
        keras.layers.Activation(gelu_tanh)(other),
    ]
    model = keras.Model({"inputs": inputs, "other": other}, outputs)
    x = np.linspace(-6, 6, 40, dtype="float32").reshape(1, 5, 8)
    _, op_names = run_tflite_parity_test(model, {"inputs": x, "other": x[..., ::-1].copy()})
    assert "GELU" in op_names
    assert "TANH" not in op_names and "POW" not in op_names, op_names  # no hand-expanded formula


def test_int8_is_weight_only_with_keras_variables():
    """`quantize("int8")` keeps Keras' Dense int8 variables (int8 kernel, `kernel_scale`) and computes
    `act(x (int8 / scale) + b)`: the activations are not rounded to int8."""
    layer = FeedForward(16, activation="gelu", output_dim=4, bias_initializer="random_normal")
    x = _x(2, 3, 8) * 2.0
    layer(x)
    dense = [layer.intermediate_dense, layer.output_dense]
    for d in dense:  # what `model.quantize("int8")` does to them
        d.quantize("int8")
    assert [str(d._kernel.dtype) for d in dense] == ["int8", "int8"]
    w1, w2 = (np.asarray(d._kernel, np.float32) / np.asarray(d.kernel_scale) for d in dense)
    expected = gelu_exact_reference(x @ w1 + np.asarray(dense[0].bias)) @ w2 + np.asarray(dense[1].bias)
    assert_allclose(layer(x), expected, atol=1e-5)
    assert_allclose(layer(x[0]), expected[0], atol=1e-5)
