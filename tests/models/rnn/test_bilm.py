"""BiLanguageModel and ScalarMix: directions, padding, saving, mixed precision, training, contextual vectors, TFLite."""

import os
import tempfile

import keras
import numpy as np
import pytest

from kerasnlp_lite.data.corpora import stdlib_sentences
from kerasnlp_lite.models.rnn import BiLanguageModel, ScalarMix
from kerasnlp_lite.models.word2vec import Word2Vec, word_vocabulary
from tests.test_case import run_layer_test, run_tflite_parity_test

SMALL = dict(vocabulary_size=30, embedding_dim=8, units=12, num_layers=2)
IDS = np.array([[2, 3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12, 13]], "int32")


def _cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_scalar_mix_layer():
    representations = np.random.default_rng(0).standard_normal((2, 3, 5, 4)).astype("float32")
    out = run_layer_test(
        ScalarMix,
        init_kwargs={"layer_norm": False, "layer_norm_epsilon": 1e-6},
        input_data={"representations": representations},
        expected_output_shape=(2, 5, 4),
        expected_output_dtype="float32",
        expected_num_trainable_weights=2,
    )
    # w = 0, gamma = 1 at the start: the plain average of the layers.
    np.testing.assert_allclose(np.asarray(out), representations.mean(axis=1), atol=1e-6)
    run_layer_test(ScalarMix, {"layer_norm": True}, {"representations": representations},
                   expected_output_shape=(2, 5, 4), run_saving_check=False)


def test_scalar_mix_is_gamma_times_softmax_weighted_sum():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 6)).astype("float32")
    mix = ScalarMix()
    mix.build(x.shape)
    mix.layer_weights.assign([0.5, -1.0, 2.0])
    mix.scale.assign(0.7)
    s = np.exp([0.5, -1.0, 2.0]) / np.exp([0.5, -1.0, 2.0]).sum()
    np.testing.assert_allclose(np.asarray(mix(x)), 0.7 * np.einsum("bjtd,j->btd", x, s), atol=1e-5)
    with pytest.raises(ValueError, match="representations"):
        mix(x[:, 0, 0])
    with pytest.raises(TypeError, match="representations"):
        mix(x.astype("int32"))


def test_directions_padding_and_layer_representations():
    keras.utils.set_random_seed(0)
    model = BiLanguageModel(**SMALL)
    out = model({"token_ids": IDS})
    assert tuple(out["forward_logits"].shape) == (2, 7, 30) and out["forward_logits"].dtype == "float32"
    assert tuple(out["layer_representations"].shape) == (2, 3, 7, 16)
    changed = IDS.copy()
    changed[0, 3] = 20
    other = model({"token_ids": changed})
    # Forward position k sees tokens <= k; backward position k sees tokens >= k.
    np.testing.assert_array_equal(np.asarray(other["forward_logits"])[0, :3], np.asarray(out["forward_logits"])[0, :3])
    backward, backward_changed = np.asarray(out["backward_logits"]), np.asarray(other["backward_logits"])
    np.testing.assert_array_equal(backward_changed[0, 4:5], backward[0, 4:5])
    assert np.abs(backward_changed[0, :3] - backward[0, :3]).max() > 0
    # Layer 0 is the token embedding duplicated; padding changes nothing at real positions and is zeroed.
    embedding = model.token_embedding.embeddings.numpy()[IDS[1]]
    np.testing.assert_allclose(np.asarray(out["layer_representations"])[1, 0], np.concatenate([embedding] * 2, -1))
    alone = model({"token_ids": IDS[:1, :5]})["layer_representations"]
    np.testing.assert_allclose(np.asarray(alone)[0], np.asarray(out["layer_representations"])[0, :, :5], atol=1e-6)
    assert not np.any(np.asarray(out["layer_representations"])[0, :, 5:])


@pytest.mark.parametrize("tie_weights", [True, False])
def test_config_saving_mixed_precision_and_bad_inputs(tie_weights):
    vocabulary = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(28)]
    model = BiLanguageModel(**SMALL, tie_weights=tie_weights, vocabulary=vocabulary)
    config = model.get_config()
    for key in ("vocabulary_size", "embedding_dim", "units", "num_layers", "tie_weights", "dropout", "vocabulary",
                "unroll", "name", "dtype"):
        assert key in config and hasattr(model, key)
    assert BiLanguageModel.from_config(config).get_config() == config
    assert keras.saving.get_registered_object("kerasnlp_lite>BiLanguageModel") is BiLanguageModel
    model.scalar_mix.layer_weights.assign([0.1, 0.2, 0.3])
    reference = model.contextual_embeddings(IDS)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bilm.keras")
        model.save(path)
        revived = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(revived.contextual_embeddings(IDS)), np.asarray(reference))
    # Text input: lowercase words, unknown words -> [UNK] = 1, right padding.
    np.testing.assert_array_equal(model.tokenize(["W3 w4 zzz", "w5"]), [[5, 6, 1], [7, 0, 0]])
    assert tuple(model.contextual_embeddings("w3 w4").shape) == (1, 2, 16)

    mixed = BiLanguageModel(**SMALL, tie_weights=tie_weights, dtype="mixed_bfloat16")
    mixed.set_weights(model.get_weights())
    assert all(w.dtype == "float32" for w in mixed.weights)
    out = mixed({"token_ids": IDS})
    assert out["forward_logits"].dtype == "float32"
    assert keras.backend.standardize_dtype(out["layer_representations"].dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(keras.ops.cast(mixed.contextual_embeddings(IDS), "float32")),
                               np.asarray(reference), atol=0.05)

    with pytest.raises(TypeError, match="token_ids"):
        model({"token_ids": IDS.astype("float32")})
    with pytest.raises(ValueError, match=r"token_ids.*\[batch, sequence_length\]"):
        model({"token_ids": IDS[0]})
    with pytest.raises(ValueError, match="vocabulary"):
        BiLanguageModel(**SMALL).contextual_embeddings("some text")
    with pytest.raises(TypeError, match="unroll"):
        BiLanguageModel(**SMALL, unroll="yes")
    with pytest.raises(ValueError, match="unigram_counts"):
        BiLanguageModel(**SMALL).initialize_output_bias(np.ones(3))


# --- Measured: short training on the built-in corpus. ---

VOCABULARY_SIZE, LENGTH, TRAIN = 1000, 12, 4000


@pytest.mark.slow
def test_lm_loss_falls_and_the_same_word_gets_different_contextual_vectors():
    sentences = stdlib_sentences()
    vocabulary, _ = word_vocabulary(sentences, VOCABULARY_SIZE, reserved_tokens=("[PAD]", "[UNK]"))
    keras.utils.set_random_seed(0)
    model = BiLanguageModel(VOCABULARY_SIZE, embedding_dim=32, units=32, num_layers=2, vocabulary=vocabulary)
    ids = model.tokenize(sentences[: TRAIN + 256], sequence_length=LENGTH)
    train, held_out = ids[:TRAIN], ids[TRAIN:]
    untrained = model.evaluate_lm(held_out)
    model.initialize_output_bias(np.bincount(train[train > 0], minlength=VOCABULARY_SIZE))
    unigram = model.evaluate_lm(held_out)  # the loss of the unigram distribution alone
    model.compile(optimizer=keras.optimizers.Adam(0.003))
    # Fixed-length batches: the LSTMs are unrolled (unroll=None), faster than the loop on CPU here.
    history = model.fit({"token_ids": train}, batch_size=32, epochs=3, verbose=0)
    after = model.evaluate_lm(held_out)
    print(f"held-out LM loss (forward, backward) nats/token: untrained {untrained[0]:.3f}, {untrained[1]:.3f}; "
          f"unigram bias {unigram[0]:.3f}, {unigram[1]:.3f}; trained {after[0]:.3f}, {after[1]:.3f}; "
          f"training loss (sum) {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}")
    assert abs(untrained[0] - np.log(VOCABULARY_SIZE)) < 0.05
    # Below the unigram loss: the LSTMs use the context.
    assert after[0] < unigram[0] - 0.15 and after[1] < unigram[1] - 0.15
    assert history.history["loss"][-1] < history.history["loss"][0]

    first, second = "returns the file name of the module", "open a file object for reading"
    texts = [first, second]
    positions = [first.split().index("file"), second.split().index("file")]
    elmo = np.asarray(model.contextual_embeddings(texts))
    layers = np.asarray(model({"token_ids": model.tokenize(texts)})["layer_representations"])
    contextual = _cosine(elmo[0, positions[0]], elmo[1, positions[1]])
    top = _cosine(layers[0, -1, positions[0]], layers[1, -1, positions[1]])
    static = Word2Vec(VOCABULARY_SIZE, 32, vocabulary=vocabulary)
    word_vectors = np.asarray(static.embed(model.tokenize(texts)))
    print(f"'file' in two sentences: ELMo cosine {contextual:.3f}, top biLSTM layer cosine {top:.3f}, "
          f"word2vec cosine {_cosine(word_vectors[0, positions[0]], word_vectors[1, positions[1]]):.3f}")
    assert contextual < 0.95 and top < 0.9

    # Over the held-out sentences: the mean cosine between the contextual vectors of two occurrences of the
    # same word (words seen 5+ times), against 1.0 for any static lookup.
    elmo = np.asarray(model.contextual_embeddings(held_out))
    same_word = []
    for word in np.unique(held_out[held_out > 1]):
        rows, cols = np.nonzero(held_out == word)
        if len(rows) >= 5:
            vectors = elmo[rows, cols] / np.linalg.norm(elmo[rows, cols], axis=1, keepdims=True)
            cosines = vectors @ vectors.T
            same_word.append(cosines[np.triu_indices(len(rows), 1)].mean())
    print(f"held-out: mean same-word contextual cosine {np.mean(same_word):.3f} over {len(same_word)} words")
    assert len(same_word) >= 20 and np.mean(same_word) < 0.9
    np.testing.assert_array_equal(word_vectors[0, positions[0]], word_vectors[1, positions[1]])
    np.testing.assert_array_equal(layers[0, 0, positions[0]], layers[1, 0, positions[1]])  # layer 0 is static


@pytest.mark.slow
@pytest.mark.tflite
def test_word_vectors_and_contextual_embeddings_convert_with_builtins_and_match():
    """One conversion: Word2Vec's lookup and the biLM's scalar-mixed layers (LSTMs included), <= 1e-5."""
    keras.utils.set_random_seed(0)
    word2vec = Word2Vec(vocabulary_size=30, embedding_dim=8)
    word2vec.word_embedding.embeddings.assign(np.random.default_rng(0).standard_normal((30, 8)).astype("float32"))
    bilm = BiLanguageModel(**SMALL)
    bilm.scalar_mix.layer_weights.assign([0.3, -0.2, 0.5])
    bilm.scalar_mix.scale.assign(1.3)
    token_ids = keras.Input((12,), batch_size=1, dtype="int32", name="token_ids")
    model = keras.Model(
        {"token_ids": token_ids},
        {"word_vectors": word2vec.embed(token_ids), "contextual_embeddings": bilm.contextual_embeddings(token_ids)},
    )
    data = {"token_ids": np.array([[2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0]], "int32")}
    worst, op_names = run_tflite_parity_test(model, data)
    print(f"TFLite max abs diff {worst:.2e}; ops {op_names}")
    assert worst <= 1e-5
    assert "FULLY_CONNECTED" in op_names and "GATHER" in op_names
