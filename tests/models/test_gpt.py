import math

import keras
import keras_hub
import numpy as np
import pytest

from kerasnlp_lite.models import GPTBackbone
from tests.reference_weights import copy_keras_hub_gpt2
from tests.test_case import assert_allclose, run_backbone_test, run_preset_test

TINY = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
rng = np.random.default_rng(0)


def _inputs(batch=2, length=10, real=(10, 6)):
    mask = (np.arange(length)[None] < np.array(real)[:, None]).astype("int32")
    return {"token_ids": rng.integers(0, 50, (batch, length)).astype("int32") * mask, "padding_mask": mask}


def test_backbone_basics():
    """Outputs, config (every argument: vocabulary_size ... norm_first, final_norm, layer_norm_epsilon),
    `.keras` round trip and mixed precision (see `run_backbone_test`)."""
    run_backbone_test(GPTBackbone, TINY, _inputs(), {"sequence_output": (2, 10, 16)})


@pytest.mark.parametrize("norm_first", [True, False], ids=["gpt2", "gpt1"])
def test_cached_steps_equal_the_full_pass(norm_first):
    backbone = GPTBackbone(**TINY, norm_first=norm_first, final_norm=norm_first, dropout=0.0)
    ids = _inputs(real=(10, 10))["token_ids"]
    full = np.asarray(backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)})["sequence_output"])
    cache = backbone.init_cache(2, 16)
    assert len(cache) == 2 and tuple(cache[0][0].shape) == (2, 2, 16, 8)
    hidden, cache = backbone.call_with_cache(ids[:, :6], cache, 0)  # prefill
    steps = [np.asarray(hidden)]
    for t in range(6, 10):
        hidden, cache = backbone.call_with_cache(ids[:, t : t + 1], cache, t)
        steps.append(np.asarray(hidden))
    assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # The cached path runs the backbone's own layers: no second set of weights.
    assert len(backbone.weights) == len({id(w) for w in backbone.weights})


def test_gpt2_residual_projection_init():
    backbone = GPTBackbone(vocabulary_size=50, num_layers=8, num_heads=4, hidden_dim=64, intermediate_dim=256)
    block = backbone.decoder_blocks[0]
    expected = 0.02 / math.sqrt(2 * 8)  # GPT-2 section 2.3
    assert np.std(block.self_attention.output_kernel.numpy()) == pytest.approx(expected, rel=0.1)
    assert np.std(block.feed_forward.output_dense.kernel.numpy()) == pytest.approx(expected, rel=0.1)
    assert np.std(block.self_attention.query_kernel.numpy()) == pytest.approx(0.02, rel=0.1)
    gpt1 = GPTBackbone(**TINY, norm_first=False, final_norm=False)
    assert gpt1.final_layer_norm is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        GPTBackbone(**dict(TINY, num_heads=3))
    backbone = GPTBackbone(**TINY)
    with pytest.raises(ValueError, match="max_length"):
        backbone.init_cache(1, 17)
    with pytest.raises(ValueError, match="token_ids"):
        backbone({"token_ids": np.full((1, 4), 50, "int32"), "padding_mask": np.ones((1, 4), "int32")})


def test_matches_keras_hub_gpt2_backbone():
    keras.utils.set_random_seed(1)
    theirs = keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16,
        dropout=0.0,
    )
    ours = GPTBackbone(**TINY, dropout=0.0)
    copy_keras_hub_gpt2(ours, theirs)
    data = _inputs()
    expected, actual = np.asarray(theirs(data)), np.asarray(ours(data)["sequence_output"])
    assert np.max(np.abs(expected)) > 0.1  # not a trivially zero comparison
    assert_allclose(actual, expected, atol=1e-5)


# Sizes of the released checkpoints (HF openai-gpt; GPT-2 124M/355M/774M/1558M).
PUBLISHED = {"gpt1": 117, "gpt2_small": 124, "gpt2_medium": 355, "gpt2_large": 774, "gpt2_xl": 1558}
# Ours, for smoke tests and CPU training (no published size): counted by hand from the layout.
SMALL = {"gpt2_tiny": 6.96}


def test_every_preset_has_a_published_or_stated_size():
    assert GPTBackbone.presets() == sorted({**PUBLISHED, **SMALL})


def test_small_preset_sizes():
    for name, millions in SMALL.items():  # built for real
        run_preset_test(GPTBackbone, name, expected_num_params=millions * 1e6, rel_tol=0.01, shapes_only=False)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_parameter_count(name):
    # Shapes only: nothing allocated.
    run_preset_test(GPTBackbone, name, expected_num_params=PUBLISHED[name] * 1e6, rel_tol=0.02)
