"""BartBackbone and T5Backbone against KerasHub's BartBackbone and T5Backbone (weights transferred,
random and non-trivial: LayerNorm / RMS norm scales and biases perturbed, relative position
tables with a large spread), on a right-padded batch."""

import keras
import keras_hub
import numpy as np

from kerasnlp_lite.models import BartBackbone, T5Backbone
from tests.reference_weights import copy_keras_hub_bart, copy_keras_hub_t5

TOLERANCE = 1e-5
VOCABULARY_SIZE = 50


def _perturb(model, seed, embedding_std=0.2, bias_std=0.1, kernel_std=0.2, position_bias_std=1.0):
    """Every weight redrawn: norm scales around 1, biases and kernels with a larger spread than the
    initializers' (LayerNorm betas and biases start at zero, which would hide a misplaced one)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        path, shape = weight.path, tuple(weight.shape)
        noise = rng.standard_normal(shape).astype("float32")
        leaf = path.rsplit("/", 1)[-1]
        if leaf in ("gamma", "weight", "scale"):  # LayerNorm / T5LayerNorm scales
            value = 1.0 + 0.2 * noise
        elif leaf in ("beta", "bias"):
            value = bias_std * noise
        elif path.endswith("self_attention/embeddings"):  # T5's relative position table [32, N]
            value = position_bias_std * noise
        elif "token_embedding" in path or "position_embedding" in path:
            value = embedding_std * noise
        else:
            value = kernel_std * noise
        weight.assign(value)


def _inputs(encoder_lengths, decoder_lengths, encoder_width, decoder_width, seed):
    rng = np.random.default_rng(seed)

    def side(lengths, width):
        mask = (np.arange(width)[None] < np.array(lengths)[:, None]).astype("int32")
        return rng.integers(1, VOCABULARY_SIZE, (len(lengths), width)).astype("int32") * mask, mask

    encoder_ids, encoder_mask = side(encoder_lengths, encoder_width)
    decoder_ids, decoder_mask = side(decoder_lengths, decoder_width)
    return {
        "encoder_token_ids": encoder_ids,
        "encoder_padding_mask": encoder_mask,
        "decoder_token_ids": decoder_ids,
        "decoder_padding_mask": decoder_mask,
    }


def _max_diffs(ours, theirs, data):
    """Max abs differences of both outputs at real positions; also the outputs' scale."""
    expected, actual = theirs(data), ours(data)
    diffs, scale = {}, {}
    for side in ("encoder", "decoder"):
        name = f"{side}_sequence_output"
        real = data[f"{side}_padding_mask"].astype(bool)
        e, a = np.asarray(expected[name])[real], np.asarray(actual[name])[real]
        diffs[side], scale[side] = float(np.max(np.abs(a - e))), float(np.max(np.abs(e)))
    return diffs, scale


def test_bart_matches_keras_hub():
    keras.utils.set_random_seed(3)
    size = dict(vocabulary_size=VOCABULARY_SIZE, num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=64,
                max_sequence_length=16, dropout=0.0)
    theirs = keras_hub.models.BartBackbone(**size)
    _perturb(theirs, seed=3)
    ours = BartBackbone(**size)
    copy_keras_hub_bart(ours, theirs)
    # Full-width rows and padded ones, up to KerasHub's 16 positions.
    data = _inputs((16, 9), (5, 12), 16, 12, seed=3)
    diffs, scale = _max_diffs(ours, theirs, data)
    assert min(scale.values()) > 0.5  # not a trivially small comparison
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_t5_matches_keras_hub():
    # KerasHub's T5 with use_gated_activation=False and relu is T5 v1.0, T5Backbone's architecture;
    # its relative position buckets are fixed at 32 up to distance 128 (T5Backbone's defaults).
    # Rows of up to 20 positions reach the logarithmic buckets (distances >= 8 per direction).
    keras.utils.set_random_seed(4)
    size = dict(vocabulary_size=VOCABULARY_SIZE, num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=48,
                dropout=0.0)
    theirs = keras_hub.models.T5Backbone(**size, activation="relu", use_gated_activation=False)
    _perturb(theirs, seed=4, embedding_std=1.0, kernel_std=0.2, position_bias_std=2.0)
    ours = T5Backbone(**size)
    copy_keras_hub_t5(ours, theirs)
    data = _inputs((20, 7), (14, 4), 20, 14, seed=4)
    diffs, scale = _max_diffs(ours, theirs, data)
    assert min(scale.values()) > 0.5
    assert max(diffs.values()) <= TOLERANCE, diffs
