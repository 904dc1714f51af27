import keras
import numpy as np
import pytest

from kerasnlp_lite.data import first_token_repeats_task
from kerasnlp_lite.models import (
    AlbertPretrainer,
    BertBackbone,
    BertPretrainer,
    RobertaPretrainer,
    TextClassifier,
    TextEmbedder,
    TokenClassifier,
    freeze,
)
from tests.test_case import run_task_test

TINY = dict(vocabulary_size=24, num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=64, max_sequence_length=16)


def _features(data):
    return {
        "token_ids": data["token_ids"],
        "segment_ids": np.zeros_like(data["token_ids"]),
        "padding_mask": data["padding_mask"],
    }


def test_pretrainer_outputs_tied_head_and_round_trip():
    backbone = BertBackbone(**TINY)
    data = _features(first_token_repeats_task(4, 16))
    data["mask_positions"] = np.array([[1, 2]] * 4, "int32")
    labels = {"mlm_logits": np.array([[5, 6]] * 4, "int32"), "nsp_logits": np.array([0, 1, 0, 1], "int32")}
    model, _ = run_task_test(
        BertPretrainer, {"backbone": backbone}, (data, labels), {"mlm_logits": (4, 2, 24), "nsp_logits": (4, 2)}
    )
    assert model(data)["mlm_logits"].dtype == "float32"
    # The MLM decoder is the token table itself (tied), not a copy.
    assert model.mlm_head.token_embedding is backbone.token_embedding
    assert set(AlbertPretrainer(BertBackbone(**TINY))(data)) == {"mlm_logits", "sop_logits"}
    assert set(RobertaPretrainer(BertBackbone(**TINY))(data)) == {"mlm_logits"}
    with pytest.raises(ValueError, match="no next-sentence objective"):
        RobertaPretrainer(BertBackbone(**TINY), next_sentence=True)


def test_unknown_input_keys_are_refused():
    model = TextEmbedder(BertBackbone(**TINY))
    data = _features(first_token_repeats_task(2, 16))
    data["mask_positions"] = np.zeros((2, 1), "int32")
    with pytest.raises(ValueError, match=r"unknown: \['mask_positions'\]"):
        model(data)


def test_embedder_mean_pools_real_tokens_only():
    backbone = BertBackbone(**TINY, dropout=0.0)
    embedder = TextEmbedder(backbone, normalize=False)
    data = _features(first_token_repeats_task(3, 16))
    sequence = np.asarray(backbone(data)["sequence_output"])
    mask = data["padding_mask"][..., None]
    expected = (sequence * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(np.asarray(embedder(data)), expected, atol=1e-5)
    normalized = np.asarray(TextEmbedder(backbone)(data))
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=-1), 1.0, atol=1e-5)


def _keyword_task(num_examples, seed):
    """Sentiment-like labels: 1 if any "positive" token (3, 4 or 5) occurs among the real tokens."""
    data = first_token_repeats_task(num_examples, 16, seed=seed)
    rng = np.random.default_rng(seed)
    ids = np.where(np.isin(data["token_ids"], (3, 4, 5)), 6, data["token_ids"])
    positive = rng.random(num_examples) < 0.5
    lengths = data["padding_mask"].sum(1)
    for i in np.flatnonzero(positive):
        ids[i, rng.integers(0, lengths[i])] = rng.integers(3, 6)
    return {"token_ids": ids.astype("int32"), "padding_mask": data["padding_mask"], "labels": positive.astype("int32")}


@pytest.mark.slow
def test_text_classifier_learns_synthetic_task():
    keras.utils.set_random_seed(0)
    train, test = _keyword_task(2000, seed=0), _keyword_task(400, seed=1)
    classifier = TextClassifier(BertBackbone(**TINY, dropout=0.0), num_classes=2, dropout=0.0)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
    classifier.fit(_features(train), train["labels"], batch_size=32, epochs=4, verbose=0)
    accuracy = np.mean(np.argmax(classifier.predict(_features(test), verbose=0), -1) == test["labels"])
    assert accuracy >= 0.95, accuracy


def test_token_classifier_shapes():
    model = TokenClassifier(BertBackbone(**TINY), num_classes=5)
    assert model(_features(first_token_repeats_task(2, 16))).shape == (2, 16, 5)


@pytest.mark.parametrize("up_to", [None, 1, "encoder_block_0"])
def test_frozen_weights_do_not_move_during_fit(up_to):
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(BertBackbone(**TINY), num_classes=2)
    frozen_names = freeze(classifier, up_to=up_to)
    assert "embeddings" in frozen_names
    classifier.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = first_token_repeats_task(64, 16)
    before = {w.path: w.numpy().copy() for w in classifier.weights}
    classifier.fit(_features(data), data["labels"], batch_size=32, epochs=1, verbose=0)
    frozen_layers = [classifier.backbone.get_layer(name) for name in frozen_names]
    frozen = {w.path for layer in frozen_layers for w in layer.weights}
    for weight in classifier.weights:
        moved = not np.array_equal(before[weight.path], weight.numpy())
        if weight.path in frozen:
            assert not moved, f"frozen {weight.path} moved"
    head_moved = [not np.array_equal(before[w.path], w.numpy()) for w in classifier.get_layer("classifier_head").weights]
    assert all(head_moved)
    if up_to is not None:  # the unfrozen top block still trains
        top = classifier.backbone.get_layer("encoder_block_1")
        assert any(not np.array_equal(before[w.path], w.numpy()) for w in top.weights)


def test_freeze_bad_arguments():
    classifier = TextClassifier(BertBackbone(**TINY), num_classes=2)
    with pytest.raises(ValueError, match=r"`up_to` must be in \[0, 2\]"):
        freeze(classifier, up_to=5)
    with pytest.raises(ValueError, match="is not a layer with weights"):
        freeze(classifier, up_to="nope")
    with pytest.raises(TypeError, match="`up_to` must be None, an int or a layer name"):
        freeze(classifier, up_to=1.5)


def test_predict_on_strings_without_preprocessor_is_a_clear_error():
    classifier = TextClassifier(BertBackbone(**TINY), num_classes=2)
    with pytest.raises(ValueError, match="has no `preprocessor`"):
        classifier.predict(["some text"])
