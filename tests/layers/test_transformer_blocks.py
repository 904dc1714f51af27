import keras
import keras_hub
import numpy as np
import pytest

from kerasnlp_lite.layers import TransformerDecoderBlock, TransformerEncoderBlock
from tests.reference_weights import copy_keras_hub_encoder_block
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)


def _x(batch=2, length=6, dim=16):
    return rng.standard_normal((batch, length, dim)).astype("float32")


def _padding(batch=2, length=6, real=(6, 4)):
    mask = np.zeros((batch, length), "int32")
    for i, n in enumerate(real):
        mask[i, :n] = 1
    return mask


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"norm_first": True, "activation": "gelu_tanh"},
        {"relative_max_distance": 4},
        {"rotary_max_wavelength": 100},
        # T5's block: pre-norm RMS norm, no biases, no 1/sqrt(H) logit scale.
        {"norm_first": True, "normalization": "rms_norm", "use_bias": False, "attention_scale": 1.0,
         "query_kernel_initializer": "random_normal"},
    ],
)
def test_encoder_block_basics(extra):
    run_layer_test(
        TransformerEncoderBlock,
        init_kwargs={"num_heads": 2, "intermediate_dim": 32, "dropout": 0.1, **extra},
        input_data={"inputs": _x(), "padding_mask": _padding()},
        expected_output_shape=(2, 6, 16),
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_basics(norm_first):
    run_layer_test(
        TransformerDecoderBlock,
        init_kwargs={"num_heads": 2, "intermediate_dim": 32, "norm_first": norm_first, "dropout": 0.1},
        input_data={
            "decoder_sequence": _x(length=5),
            "encoder_sequence": _x(length=7),
            "decoder_padding_mask": _padding(length=5, real=(5, 3)),
            "encoder_padding_mask": _padding(length=7, real=(7, 2)),
        },
        expected_output_shape=(2, 5, 16),
    )


def test_gpt_block_basics():
    run_layer_test(
        TransformerDecoderBlock,
        init_kwargs={"num_heads": 4, "intermediate_dim": 64, "cross_attention": False, "norm_first": True},
        input_data={"decoder_sequence": _x()},
        expected_output_shape=(2, 6, 16),
        expected_num_trainable_weights=8 + 4 + 4,  # attention, feed-forward, two LayerNorms
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_keras_hub(norm_first):
    x, padding = _x(), _padding()
    reference = keras_hub.layers.TransformerEncoder(
        intermediate_dim=32, num_heads=2, activation="gelu", layer_norm_epsilon=1e-5, normalize_first=norm_first
    )
    expected = reference(x, padding_mask=padding)
    block = TransformerEncoderBlock(
        num_heads=2, intermediate_dim=32, activation="gelu", layer_norm_epsilon=1e-5, norm_first=norm_first
    )
    block(x, padding_mask=padding)
    copy_keras_hub_encoder_block(block, reference)
    actual = block(x, padding_mask=padding)
    # Padding rows are compared too: both libraries attend from them to the real keys.
    assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_matches_keras_hub(norm_first):
    decoder, encoder = _x(length=5), _x(length=7)
    decoder_padding, encoder_padding = _padding(length=5, real=(5, 3)), _padding(length=7, real=(7, 2))
    reference = keras_hub.layers.TransformerDecoder(
        intermediate_dim=32, num_heads=2, activation="relu", layer_norm_epsilon=1e-5, normalize_first=norm_first
    )
    kwargs = dict(decoder_padding_mask=decoder_padding, encoder_padding_mask=encoder_padding)
    expected = reference(decoder, encoder, **kwargs)
    block = TransformerDecoderBlock(
        num_heads=2, intermediate_dim=32, activation="relu", layer_norm_epsilon=1e-5, norm_first=norm_first
    )
    block(decoder, encoder, **kwargs)
    copy_keras_hub_encoder_block(block, reference, cross=True)
    actual = block(decoder, encoder, **kwargs)
    # Real query rows only: KerasHub also masks padded *query* rows of the
    # decoder, which then average uniformly; the real rows must agree.
    for b, n in enumerate((5, 3)):
        assert_allclose(np.asarray(actual)[b, :n], np.asarray(expected)[b, :n], atol=1e-5)


@pytest.mark.parametrize("cross", [False, True])
def test_decoder_block_cached_decoding_equals_full_pass(cross):
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32, norm_first=True, cross_attention=cross)
    decoder, encoder = _x(length=6), _x(length=4)
    encoder_kwargs = {"encoder_sequence": encoder} if cross else {}
    full = np.asarray(block(decoder, **encoder_kwargs))
    empty = np.zeros((2, 2, 8, 8), "float32")
    cache = (empty, empty)
    cross_kwargs = {"cross_attention_cache": block.compute_cross_attention_cache(encoder)} if cross else {}
    out, cache = block(decoder[:, :2], self_attention_cache=cache, self_attention_cache_index=0, **cross_kwargs)
    steps = [np.asarray(out)]
    for t in range(2, 6):
        out, cache = block(
            decoder[:, t : t + 1], self_attention_cache=cache, self_attention_cache_index=t, **cross_kwargs
        )
        steps.append(np.asarray(out))
    assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_output_kernel_initializer_reaches_residual_projections():
    # GPT-2: residual projections initialised with std 0.02 / sqrt(2 * num_layers).
    std = 0.02 / np.sqrt(2 * 12)
    block = TransformerDecoderBlock(
        num_heads=4,
        intermediate_dim=512,
        cross_attention=False,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
        output_kernel_initializer=keras.initializers.RandomNormal(stddev=std),
    )
    block(np.zeros((1, 2, 128), "float32"))
    assert abs(np.std(block.self_attention.output_kernel.numpy()) - std) < 0.1 * std
    assert abs(np.std(block.feed_forward.output_dense.kernel.numpy()) - std) < 0.1 * std
    assert abs(np.std(block.self_attention.query_kernel.numpy()) - 0.02) < 0.1 * 0.02


def test_bad_inputs():
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        TransformerEncoderBlock(num_heads=3, intermediate_dim=8)(_x())
    with pytest.raises(ValueError, match="`intermediate_dim` must be an integer >= 1"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=0)
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=8)(np.zeros((2, 16), "float32"))
    with pytest.raises(ValueError, match="`padding_mask` must have shape"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=8)(_x(), padding_mask=np.ones((2, 6, 1), "int32"))
    with pytest.raises(ValueError, match="`attention_mask`"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=8)(_x(), attention_mask=np.ones((2, 5, 5), bool))
    with pytest.raises(ValueError, match="`encoder_sequence`"):
        TransformerDecoderBlock(num_heads=2, intermediate_dim=8)(_x())
    with pytest.raises(ValueError, match="cross_attention=False"):
        TransformerDecoderBlock(num_heads=2, intermediate_dim=8, cross_attention=False)(_x(), _x())
    with pytest.raises(ValueError, match="both `self_attention_cache` and `self_attention_cache_index`"):
        TransformerDecoderBlock(num_heads=2, intermediate_dim=8, cross_attention=False)(
            _x(), self_attention_cache_index=0
        )
    with pytest.raises(ValueError, match="`dropout` must be in"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=8, dropout=1.5)


@pytest.mark.slow
@pytest.mark.tflite
def test_encoder_block_tflite_parity():
    inputs = keras.Input((6, 16), batch_size=1, name="inputs")
    padding = keras.Input((6,), batch_size=1, dtype="int32", name="padding_mask")
    outputs = TransformerEncoderBlock(num_heads=2, intermediate_dim=32, relative_max_distance=3)(
        inputs, padding_mask=padding
    )
    model = keras.Model({"inputs": inputs, "padding_mask": padding}, outputs)
    run_tflite_parity_test(model, {"inputs": _x(1), "padding_mask": _padding(1, real=(4,))})


@pytest.mark.slow
@pytest.mark.tflite
def test_decoder_block_decode_step_tflite_parity():
    """One cached decode step with a static cross-attention cache, as on a phone."""
    step = keras.Input((1, 16), batch_size=1, name="step")
    key_cache = keras.Input((2, 8, 8), batch_size=1, name="key_cache")
    value_cache = keras.Input((2, 8, 8), batch_size=1, name="value_cache")
    cross_keys = keras.Input((2, 5, 8), batch_size=1, name="cross_keys")
    cross_values = keras.Input((2, 5, 8), batch_size=1, name="cross_values")
    index = keras.Input((), batch_size=1, dtype="int32", name="index")
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32, norm_first=True)
    out, (new_keys, new_values) = block(
        step,
        self_attention_cache=(key_cache, value_cache),
        self_attention_cache_index=index[0],
        cross_attention_cache=(cross_keys, cross_values),
    )
    model = keras.Model(
        {"step": step, "key_cache": key_cache, "value_cache": value_cache, "cross_keys": cross_keys,
         "cross_values": cross_values, "index": index},
        {"output": out, "key_cache": new_keys, "value_cache": new_values},
    )
    data = {
        "step": _x(1, 1),
        "key_cache": rng.standard_normal((1, 2, 8, 8)).astype("float32"),
        "value_cache": rng.standard_normal((1, 2, 8, 8)).astype("float32"),
        "cross_keys": rng.standard_normal((1, 2, 5, 8)).astype("float32"),
        "cross_values": rng.standard_normal((1, 2, 5, 8)).astype("float32"),
        "index": np.array([4], "int32"),
    }
    run_tflite_parity_test(model, data)


def test_t5_style_block_options():
    block = TransformerEncoderBlock(
        num_heads=2, intermediate_dim=32, norm_first=True, normalization="rms_norm", use_bias=False,
        attention_scale=1.0,
    )
    x = _x()
    out = block(x)
    names = [w.path for w in block.weights]
    assert not any(n.endswith("bias") for n in names), names
    assert isinstance(block.self_attention_norm, keras.layers.RMSNormalization)
    # attention_scale=1.0 equals the default block with queries pre-multiplied by sqrt(H).
    default = TransformerEncoderBlock(num_heads=2, intermediate_dim=32, norm_first=True, normalization="rms_norm",
                                      use_bias=False)
    default(x)
    default.set_weights(block.get_weights())
    default.self_attention.query_kernel.assign(block.self_attention.query_kernel * np.sqrt(8.0))
    assert_allclose(default(x), out, atol=1e-5)
    with pytest.raises(ValueError, match="normalization"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=32, normalization="batch_norm")
    with pytest.raises(ValueError, match="attention_scale"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=32, attention_scale=0)
