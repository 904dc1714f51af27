import keras
import numpy as np
import pytest

from kerasnlp_lite.models import AlbertBackbone, BertBackbone, RobertaBackbone, TextClassifier
from tests.test_case import run_tflite_parity_test

SMALL = dict(vocabulary_size=60, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)


@pytest.mark.slow
@pytest.mark.tflite
def test_encoder_backbones_and_classifier_convert_with_builtins_and_match():
    """One conversion for BERT, ALBERT, RoBERTa and a classifier task: builtin ops only, <= 1e-5."""
    keras.utils.set_random_seed(0)
    token_ids = keras.Input((16,), batch_size=1, dtype="int32", name="token_ids")
    segment_ids = keras.Input((16,), batch_size=1, dtype="int32", name="segment_ids")
    padding_mask = keras.Input((16,), batch_size=1, dtype="int32", name="padding_mask")
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    bert = BertBackbone(**SMALL)
    albert = AlbertBackbone(**SMALL, embedding_dim=8)
    roberta = RobertaBackbone(**SMALL)
    classifier = TextClassifier(BertBackbone(**SMALL), num_classes=3)
    outputs = {
        "bert": bert(inputs)["sequence_output"],
        "bert_pooled": bert(inputs)["pooled_output"],
        "albert": albert(inputs)["sequence_output"],
        "roberta": roberta({"token_ids": token_ids, "padding_mask": padding_mask})["sequence_output"],
        "classifier": classifier(inputs),
    }
    model = keras.Model(inputs, outputs)
    mask = np.zeros((1, 16), "int32")
    mask[0, :11] = 1
    data = {
        "token_ids": np.random.default_rng(0).integers(2, 60, (1, 16)).astype("int32") * mask,
        "segment_ids": (np.arange(16)[None] >= 6).astype("int32") * mask,
        "padding_mask": mask,
    }
    worst, op_names = run_tflite_parity_test(model, data)
    assert worst <= 1e-5
    assert "FULLY_CONNECTED" in op_names or "BATCH_MATMUL" in op_names
