import keras_hub
import numpy as np
import pytest

from kerasnlp_lite.layers import FactorizedEmbedding, TokenEmbedding
from kerasnlp_lite.models import AlbertBackbone, AlbertPretrainer
from tests.reference_weights import copy_keras_hub_albert
from tests.test_case import assert_allclose, run_backbone_test, run_task_test

rng = np.random.default_rng(0)
TINY = dict(
    vocabulary_size=50, num_layers=4, num_heads=2, hidden_dim=16, intermediate_dim=32, embedding_dim=8,
    max_sequence_length=12,
)


def _inputs(batch=2, length=10, real=(10, 6)):
    mask = np.zeros((batch, length), "int32")
    for i, n in enumerate(real):
        mask[i, :n] = 1
    return {
        "token_ids": rng.integers(0, 50, (batch, length)).astype("int32") * mask,
        "segment_ids": (np.arange(length)[None] >= length // 2).astype("int32").repeat(batch, 0) * mask,
        "padding_mask": mask,
    }


def test_backbone_basics():
    """Outputs, config, `.keras` round trip and mixed precision (see `run_backbone_test`)."""
    backbone, loaded = run_backbone_test(
        AlbertBackbone, dict(TINY, num_groups=2), _inputs(), {"sequence_output": (2, 10, 16), "pooled_output": (2, 16)}
    )
    # The tied table is the E-wide one; the embedding projects E -> H.
    assert isinstance(backbone.embedding.token_embedding, FactorizedEmbedding)
    assert isinstance(backbone.token_embedding, TokenEmbedding) and backbone.token_embedding.hidden_dim == 8
    assert {"embedding_dim", "num_groups", "num_inner_repetitions", "activation"} <= set(backbone.get_config())
    assert len(loaded.encoder_blocks) == 2


def test_matches_keras_hub_albert_backbone_with_groups_and_inner_repetitions():
    # 4 layers in 2 groups of 2 distinct blocks: exercises the layer -> group order of the sharing.
    kwargs = dict(TINY, num_groups=2, num_inner_repetitions=2, dropout=0.0)
    ours = AlbertBackbone(**kwargs)
    theirs = keras_hub.models.AlbertBackbone(**kwargs)
    copy_keras_hub_albert(ours, theirs)
    assert ours.count_params() == theirs.count_params()
    data = _inputs()
    expected, actual = theirs(data), ours(data)
    assert_allclose(actual["pooled_output"], expected["pooled_output"], atol=1e-5)
    for b, n in enumerate((10, 6)):  # real positions
        assert_allclose(
            np.asarray(actual["sequence_output"])[b, :n], np.asarray(expected["sequence_output"])[b, :n], atol=1e-5
        )


def test_cross_layer_parameter_sharing():
    def blocks_and_params(**overrides):
        backbone = AlbertBackbone(**dict(TINY, **overrides))
        return len(backbone.encoder_blocks), backbone.count_params()

    one_block, params_1 = blocks_and_params(num_layers=1)
    # One group: the weights of one block whatever the depth.
    assert one_block == 1
    assert blocks_and_params(num_layers=4) == (1, params_1)
    assert blocks_and_params(num_layers=12) == (1, params_1)
    # Two groups: two blocks; two inner repetitions per group: four.
    backbone = AlbertBackbone(**TINY)
    block_params = backbone.encoder_blocks[0].count_params()
    assert blocks_and_params(num_layers=4, num_groups=2) == (2, params_1 + block_params)
    assert blocks_and_params(num_layers=4, num_groups=2, num_inner_repetitions=2) == (4, params_1 + 3 * block_params)

    # Shared means the same layer object: 3 layers of one group equal one block applied 3 times.
    backbone = AlbertBackbone(**dict(TINY, num_layers=3))
    data = _inputs()
    x = backbone.embedding(data["token_ids"], segment_ids=data["segment_ids"])
    for _ in range(3):
        x = backbone.encoder_blocks[0](x, padding_mask=data["padding_mask"])
    assert_allclose(backbone(data)["sequence_output"], x, atol=1e-6)


def test_tied_masked_lm_pretrainer():
    backbone = AlbertBackbone(**TINY)
    data = dict(_inputs(), mask_positions=np.array([[1, 2, 3]] * 2, "int32"))
    labels = {"mlm_logits": np.array([[5, 6, 7]] * 2, "int32"), "sop_logits": np.array([0, 1], "int32")}
    model, _ = run_task_test(
        AlbertPretrainer, {"backbone": backbone}, (data, labels), {"mlm_logits": (2, 3, 50), "sop_logits": (2, 2)}
    )
    assert model.mlm_head.token_embedding is backbone.token_embedding


def test_bad_arguments():
    # An unknown preset: `run_preset_test` in test_presets.py.
    with pytest.raises(ValueError, match="divisible by `num_groups`, got num_layers=4 and num_groups=3"):
        AlbertBackbone(**TINY, num_groups=3)
    with pytest.raises(ValueError, match="`num_groups` must be an integer >= 1"):
        AlbertBackbone(**TINY, num_groups=0)
    with pytest.raises(ValueError, match="`num_inner_repetitions` must be an integer >= 1"):
        AlbertBackbone(**TINY, num_inner_repetitions=0)
    with pytest.raises(ValueError, match="`embedding_dim` must be an integer >= 1"):
        AlbertBackbone(**dict(TINY, embedding_dim=0))
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        AlbertBackbone(**dict(TINY, num_heads=3))
