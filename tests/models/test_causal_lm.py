import keras
import numpy as np
import pytest

from kerasnlp_lite.models import CausalLM, GPTBackbone, Perplexity
from kerasnlp_lite.tokenizers import WordPieceTokenizer
from tests.test_case import check_keras_round_trip

TINY = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)


def _lm(**overrides):
    keras.utils.set_random_seed(0)
    return CausalLM(GPTBackbone(**dict(TINY, dropout=0.0, **overrides)))


def _batch():
    rng = np.random.default_rng(0)
    mask = (np.arange(8)[None] < np.array([[8], [5]])).astype("int32")
    ids = rng.integers(1, 40, (2, 8)).astype("int32") * mask
    labels = np.roll(ids, -1, axis=1) * mask
    return {"token_ids": ids, "padding_mask": mask}, labels


def test_logits_are_tied_float32():
    lm = _lm()
    x, _ = _batch()
    logits = lm(x)
    assert logits.shape == (2, 8, 40) and keras.backend.standardize_dtype(logits.dtype) == "float32"
    hidden = lm.backbone(x)["sequence_output"]
    table = lm.backbone.token_embedding.embeddings.numpy()
    np.testing.assert_allclose(np.asarray(logits), np.asarray(hidden) @ table.T, atol=1e-5)
    assert len(lm.weights) == len(lm.backbone.weights)  # the head adds no weights


def test_loss_ignores_padding_and_perplexity_is_exp_loss():
    lm = _lm()
    lm.compile()
    x, labels = _batch()
    base = lm.evaluate(x, labels, return_dict=True, verbose=0)
    # Changing tokens and labels at padded positions changes nothing.
    x2, labels2 = {k: v.copy() for k, v in x.items()}, labels.copy()
    x2["token_ids"][1, 5:], labels2[1, 5:] = 7, 9
    other = lm.evaluate(x2, labels2, return_dict=True, verbose=0)
    assert other["loss"] == pytest.approx(base["loss"], rel=1e-6)
    assert base["perplexity"] == pytest.approx(np.exp(base["loss"]), rel=1e-5)
    # Mean over the 13 real tokens, computed by hand.
    logits = np.asarray(lm(x), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    assert base["loss"] == pytest.approx(float((nll * x["padding_mask"]).sum() / 13), rel=1e-5)


def test_fit_lowers_the_loss_and_saves():
    lm = _lm()
    lm.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, labels = _batch()
    history = lm.fit(x, labels, epochs=5, verbose=0).history["loss"]
    assert history[-1] < history[0]
    loaded = check_keras_round_trip(lm, lambda model: model(x), lm(x), cls=CausalLM, warnings_as_errors=True)
    assert loaded.lm_head.token_embedding is loaded.backbone.token_embedding
    # compile() is restored: same loss (masked mean), perplexity metric and optimizer state.
    assert loaded.compiled and loaded.optimizer.iterations.numpy() == lm.optimizer.iterations.numpy()
    assert loaded.evaluate(x, labels, return_dict=True, verbose=0) == pytest.approx(
        lm.evaluate(x, labels, return_dict=True, verbose=0), rel=1e-6
    )
    for restored, original in zip(loaded.optimizer.variables, lm.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(restored), np.asarray(original))


def test_perplexity_metric_weights():
    metric = Perplexity()
    logits = np.zeros((1, 2, 4), "float32")  # uniform: perplexity 4 wherever counted
    metric.update_state(np.array([[1, 2]]), logits, sample_weight=np.array([[1, 0]]))
    assert float(metric.result()) == pytest.approx(4.0, rel=1e-5)


def test_generate_from_strings_with_a_tokenizer():
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(35)]
    tokenizer = WordPieceTokenizer(vocabulary)
    lm = CausalLM(GPTBackbone(**dict(TINY, dropout=0.0)), preprocessor=tokenizer)
    texts = lm.generate(["w1 w2 w3", "w4"], max_length=8)
    assert isinstance(texts, list) and len(texts) == 2
    assert texts[0].startswith("w1 w2 w3") and texts[1].startswith("w4")
    ids = lm.generate([[6, 7, 8], [9]], max_length=8)["token_ids"]
    assert texts[0] == " ".join(vocabulary[i] for i in ids[0])
    assert isinstance(lm.generate("w5", max_length=4), str)
    with pytest.raises(ValueError, match="preprocessor"):
        _lm().generate("w1", max_length=4)
