import keras_hub
import numpy as np
import pytest

from kerasnlp_lite.models import BertBackbone
from tests.reference_weights import copy_keras_hub_bert, copy_model_garden_bert
from tests.test_case import assert_allclose, run_backbone_test

rng = np.random.default_rng(0)
TINY = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12)


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
    run_backbone_test(BertBackbone, TINY, _inputs(), {"sequence_output": (2, 10, 16), "pooled_output": (2, 16)})


def test_matches_keras_hub_bert_backbone():
    ours = BertBackbone(**TINY, dropout=0.0)
    theirs = keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12,
        dropout=0.0,
    )
    copy_keras_hub_bert(ours, theirs)
    data = _inputs()
    expected, actual = theirs(data), ours(data)
    assert_allclose(actual["pooled_output"], expected["pooled_output"], atol=1e-5)
    for b, n in enumerate((10, 6)):  # real positions (KerasHub also masks nothing else)
        assert_allclose(
            np.asarray(actual["sequence_output"])[b, :n], np.asarray(expected["sequence_output"])[b, :n], atol=1e-5
        )


def test_matches_model_garden_bert_encoder_v2():
    from official.nlp.modeling.networks import BertEncoderV2

    theirs = BertEncoderV2(
        vocab_size=50, hidden_size=16, num_layers=2, num_attention_heads=2, max_sequence_length=12,
        type_vocab_size=2, inner_dim=32, output_dropout=0.0, attention_dropout=0.0,
    )
    data = _inputs()
    expected = theirs(
        {"input_word_ids": data["token_ids"], "input_mask": data["padding_mask"], "input_type_ids": data["segment_ids"]}
    )
    # Model Garden's default inner activation is the tanh-approximate GELU.
    ours = BertBackbone(**TINY, dropout=0.0, activation="gelu_tanh")
    copy_model_garden_bert(ours, theirs)
    actual = ours(data)
    assert_allclose(actual["pooled_output"], expected["pooled_output"].numpy(), atol=1e-5)
    for b, n in enumerate((10, 6)):
        assert_allclose(
            np.asarray(actual["sequence_output"])[b, :n], expected["sequence_output"].numpy()[b, :n], atol=1e-5
        )


def test_bad_arguments():
    # An unknown preset: `run_preset_test` in test_presets.py.
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        BertBackbone(**dict(TINY, num_heads=3))
