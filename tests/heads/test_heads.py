import numpy as np
import pytest

from kerasnlp_lite.heads import ClassificationHead, MaskedLMHead, NextSentenceHead, TokenClassificationHead
from kerasnlp_lite.layers import TokenEmbedding
from tests.test_case import assert_allclose, run_layer_test

rng = np.random.default_rng(0)
SEQUENCE = rng.standard_normal((2, 6, 8)).astype("float32")
POSITIONS = np.array([[1, 4], [0, 5]], "int32")


def test_masked_lm_head_untied_basics():
    run_layer_test(
        MaskedLMHead,
        init_kwargs={"vocabulary_size": 11, "activation": "gelu"},
        input_data={"inputs": SEQUENCE, "mask_positions": POSITIONS},
        expected_output_shape=(2, 2, 11),
        expected_output_dtype="float32",
        mixed_precision_output_dtype="float32",
        config_excludes=("token_embedding",),
    )


def test_masked_lm_head_tied_matches_numpy():
    embedding = TokenEmbedding(11, 4)
    embedding.build()
    head = MaskedLMHead(11, token_embedding=embedding, activation="relu", layer_norm_epsilon=1e-5)
    logits = np.asarray(head(SEQUENCE, POSITIONS))
    assert not hasattr(head, "decoder_kernel")  # the table is shared, not copied
    gathered = np.take_along_axis(SEQUENCE, POSITIONS[..., None], axis=1)
    w, b = head.transform.get_weights()
    h = np.maximum(gathered @ w + b, 0)
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)
    gamma, beta = head.layer_norm.get_weights()
    expected = (h * gamma + beta) @ embedding.embeddings.numpy().T + head.output_bias.numpy()
    assert_allclose(logits, expected, atol=1e-5)


@pytest.mark.parametrize("cls,shape", [(ClassificationHead, (2, 3)), (NextSentenceHead, (2, 2))])
def test_sequence_heads(cls, shape):
    kwargs = {"num_classes": 3, "dropout": 0.1} if cls is ClassificationHead else {"dropout": 0.1}
    run_layer_test(
        cls,
        init_kwargs=kwargs,
        input_data={"inputs": SEQUENCE[:, 0]},
        expected_output_shape=shape,
        mixed_precision_output_dtype="float32",
    )


def test_token_classification_head():
    run_layer_test(
        TokenClassificationHead,
        init_kwargs={"num_classes": 5},
        input_data={"inputs": SEQUENCE},
        expected_output_shape=(2, 6, 5),
        mixed_precision_output_dtype="float32",
    )


def test_bad_inputs():
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
        ClassificationHead(0)
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        ClassificationHead(2)(SEQUENCE)
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        TokenClassificationHead(2)(SEQUENCE[:, 0])
    with pytest.raises(TypeError, match="`mask_positions` must have an integer dtype"):
        MaskedLMHead(11)(SEQUENCE, POSITIONS.astype("float32"))
    with pytest.raises(ValueError, match="differs from the tied token embedding"):
        MaskedLMHead(12, token_embedding=TokenEmbedding(11, 4))
