import keras
import keras_hub
import numpy as np
import pytest

from kerasnlp_lite.models import RobertaBackbone, RobertaPretrainer
from tests.reference_weights import copy_keras_hub_roberta
from tests.test_case import assert_allclose, run_backbone_test, run_task_test

rng = np.random.default_rng(0)
TINY = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12)
PAD = 1


def _inputs(batch=2, length=12, real=(12, 7)):
    # Right-padded, as RoBERTa's position offset assumes: real tokens first, then <pad> (id 1).
    mask = np.zeros((batch, length), "int32")
    for i, n in enumerate(real):
        mask[i, :n] = 1
    token_ids = rng.integers(3, 50, (batch, length)).astype("int32")
    return {"token_ids": np.where(mask == 1, token_ids, PAD).astype("int32"), "padding_mask": mask}


def hf_position_ids(token_ids, pad_token_id):
    """HF's create_position_ids_from_input_ids (fairseq's make_positions), in numpy."""
    mask = (token_ids != pad_token_id).astype("int32")
    return np.cumsum(mask, axis=1) * mask + pad_token_id


def test_backbone_basics():
    """Inputs, outputs, config, `.keras` round trip and mixed precision (see `run_backbone_test`)."""
    backbone, _ = run_backbone_test(
        RobertaBackbone, TINY, _inputs(), {"sequence_output": (2, 12, 16), "pooled_output": (2, 16)}
    )
    # max_sequence_length + pad_token_id + 1 rows: 12 + 2 here, 514 for roberta_base.
    assert backbone.embedding.position_embedding.embeddings.shape == (14, 16)
    assert backbone.embedding.segment_embedding is None
    assert backbone.get_config()["pad_token_id"] == PAD


def test_positions_match_hf_at_real_tokens():
    backbone = RobertaBackbone(**TINY, dropout=0.0)
    data = _inputs()
    token_table = np.asarray(backbone.token_embedding.embeddings)
    position_table = np.asarray(backbone.embedding.position_embedding.embeddings)
    gamma, beta = (np.asarray(w) for w in backbone.embedding.layer_norm.weights)
    # HF / fairseq: LayerNorm(token + position[create_position_ids_from_input_ids]).
    summed = token_table[data["token_ids"]] + position_table[hf_position_ids(data["token_ids"], PAD)]
    mean, var = summed.mean(-1, keepdims=True), summed.var(-1, keepdims=True)
    expected = (summed - mean) / np.sqrt(var + 1e-5) * gamma + beta
    # The embedding output inside the backbone's graph, where the backbone sets start_index.
    actual = np.asarray(keras.Model(backbone.input, backbone.embedding.output)(data))
    real = data["padding_mask"] == 1
    assert_allclose(actual[real], expected[real], atol=1e-5)


def test_matches_keras_hub_roberta_backbone():
    ours = RobertaBackbone(**TINY, dropout=0.0)
    theirs = keras_hub.models.RobertaBackbone(**TINY, dropout=0.0)
    copy_keras_hub_roberta(ours, theirs)
    data = _inputs()  # full length 12: every row of KerasHub's table is used
    expected, actual = theirs(data), ours(data)["sequence_output"]
    # KerasHub's RoBERTa has no pooler: compare the sequence output at real positions.
    for b, n in enumerate((12, 7)):
        assert_allclose(np.asarray(actual)[b, :n], np.asarray(expected)[b, :n], atol=1e-5)


def test_masked_lm_pretrainer():
    backbone = RobertaBackbone(**TINY)
    data = dict(_inputs(), mask_positions=np.array([[1, 2, 3]] * 2, "int32"))
    labels = {"mlm_logits": np.array([[5, 6, 7]] * 2, "int32")}
    # No sentence head: the pooler gets no gradient.
    model, _ = run_task_test(
        RobertaPretrainer, {"backbone": backbone}, (data, labels), {"mlm_logits": (2, 3, 50)}, frozen_weights_ok=("pooler",)
    )
    assert model.mlm_head.token_embedding is backbone.token_embedding


def test_bad_arguments_and_inputs():
    # An unknown preset: `run_preset_test` in test_presets.py.
    with pytest.raises(ValueError, match="`pad_token_id` must be a token id below vocabulary_size=50, got 50"):
        RobertaBackbone(**TINY, pad_token_id=50)
    with pytest.raises(ValueError, match="`pad_token_id` must be an integer >= 0"):
        RobertaBackbone(**TINY, pad_token_id=-1)
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        RobertaBackbone(**dict(TINY, num_heads=3))
    with pytest.raises(ValueError, match="padding_mask"):
        RobertaBackbone(**TINY)({"token_ids": _inputs()["token_ids"]})
    # 13 tokens read positions 2..14 of a 14-row table: refused, as HF refuses inputs past 512.
    long = _inputs(length=13, real=(13, 7))
    with pytest.raises(ValueError, match="exceed max_sequence_length=14"):
        RobertaBackbone(**TINY)(long)
