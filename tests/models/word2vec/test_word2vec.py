"""Word2Vec: config, saving, mixed precision, the loss formula, queries, export, and measured training."""

import os
import tempfile

import keras
import numpy as np
import pytest

from kerasnlp_lite.data.corpora import stdlib_sentences
from kerasnlp_lite.models.word2vec import NegativeSamplingLoss, Word2Vec, split_words, word_vocabulary

WORDS = [f"w{i}" for i in range(20)]


def _inputs(mode, batch=4, num_negative=5, seed=0):
    rng = np.random.default_rng(seed)
    candidates = rng.integers(0, 20, (batch, 1 + num_negative)).astype("int32")
    if mode == "skipgram":
        return {"target_ids": rng.integers(0, 20, (batch,)).astype("int32"), "candidate_ids": candidates}
    mask = (rng.random((batch, 4)) < 0.7).astype("int32")
    mask[:, 0] = 1
    return {"context_ids": rng.integers(0, 20, (batch, 4)).astype("int32") * mask, "context_mask": mask,
            "candidate_ids": candidates}


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for table in (model.word_embedding, model.context_embedding):
        table.embeddings.assign(rng.standard_normal(table.embeddings.shape).astype("float32") * 0.3)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_config_saving_and_mixed_precision(mode):
    model = Word2Vec(vocabulary_size=20, embedding_dim=8, mode=mode, num_negative=5, vocabulary=WORDS)
    config = model.get_config()
    for key in ("vocabulary_size", "embedding_dim", "mode", "num_negative", "vocabulary", "name", "dtype"):
        assert key in config and hasattr(model, key)
    assert Word2Vec.from_config(config).get_config() == config
    assert keras.saving.get_registered_object("kerasnlp_lite>Word2Vec") is Word2Vec
    _randomize(model)
    data = _inputs(mode)
    logits = model(data)
    assert tuple(logits.shape) == (4, 6) and logits.dtype == "float32"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w2v.keras")
        model.save(path)
        revived = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(revived(data)), np.asarray(logits))
    assert revived.most_similar("w3", 3) == model.most_similar("w3", 3)

    mixed = Word2Vec(vocabulary_size=20, embedding_dim=8, mode=mode, dtype="mixed_bfloat16")
    mixed.set_weights(model.get_weights())
    assert all(w.dtype == "float32" for w in mixed.weights)
    out = mixed(data)
    assert out.dtype == "float32"  # logits stay float32 for the loss
    np.testing.assert_allclose(np.asarray(out), np.asarray(logits), atol=0.05)
    assert keras.backend.standardize_dtype(mixed.embed(data["candidate_ids"]).dtype) == "bfloat16"


def test_cbow_averages_only_the_real_context_words():
    model = Word2Vec(vocabulary_size=20, embedding_dim=8, mode="cbow", num_negative=1)
    _randomize(model)
    v, u = model.word_embedding.embeddings.numpy(), model.context_embedding.embeddings.numpy()
    data = {"context_ids": np.array([[3, 5, 0, 0]], "int32"), "context_mask": np.array([[1, 1, 0, 0]], "int32"),
            "candidate_ids": np.array([[7, 2]], "int32")}
    expected = u[[7, 2]] @ ((v[3] + v[5]) / 2)
    np.testing.assert_allclose(np.asarray(model(data))[0], expected, atol=1e-5)


def test_negative_sampling_loss_is_the_paper_formula():
    logits = np.array([[2.0, -1.0, 0.5, 3.0], [-0.5, 0.1, -2.0, 0.0]], "float32")
    labels = np.array([[1, 0, 0, 0], [1, 0, 0, 0]], "float32")
    log_sigmoid = lambda x: -np.log1p(np.exp(-x))  # noqa: E731
    # -log sigma(u_o . v) - sum_k log sigma(-u_k . v), averaged over the batch.
    expected = np.mean(-log_sigmoid(logits[:, 0]) - np.sum(log_sigmoid(-logits[:, 1:]), axis=1))
    np.testing.assert_allclose(float(NegativeSamplingLoss()(labels, logits)), expected, rtol=1e-6)


def test_queries_and_embedding_export():
    vocabulary = ["king", "queen", "man", "woman", "apple", "pear"]
    model = Word2Vec(vocabulary_size=6, embedding_dim=3, vocabulary=vocabulary)
    # royalty, gender and fruit axes: king - man + woman = queen exactly.
    matrix = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0, 0, 1], [0.1, 0, 1]], "float32")
    model.word_embedding.embeddings.assign(matrix)
    assert model.analogy("man", "king", "woman")[0][0] == "queen"
    neighbours = model.most_similar("apple", k=2)
    assert neighbours[0][0] == "pear" and len(neighbours) == 2 and "apple" not in dict(neighbours)
    assert model.most_similar(4, k=1)[0][0] == "pear"
    np.testing.assert_array_equal(model.embedding_matrix(), matrix)
    with tempfile.TemporaryDirectory() as tmp:
        npy, tsv = os.path.join(tmp, "vectors.npy"), os.path.join(tmp, "vectors.tsv")
        model.save_embeddings(npy)
        np.testing.assert_array_equal(np.load(npy), matrix)
        written = model.save_embeddings(tsv)
        np.testing.assert_allclose(np.loadtxt(tsv, delimiter="\t"), matrix, atol=1e-6)
        with open(written[1], encoding="utf-8") as f:
            assert f.read().split("\n")[:6] == vocabulary


def test_bad_arguments_and_inputs_are_named():
    with pytest.raises(ValueError, match="mode"):
        Word2Vec(20, 8, mode="glove")
    with pytest.raises(ValueError, match="vocabulary"):
        Word2Vec(20, 8, vocabulary=["a", "b"])
    with pytest.raises(TypeError, match="num_negative"):
        Word2Vec(20, 8, num_negative=2.0)
    model = Word2Vec(20, 8, num_negative=5, vocabulary=WORDS)
    data = _inputs("skipgram")
    with pytest.raises(ValueError, match=r"candidate_ids.*\(None, 6\)"):
        model({"target_ids": data["target_ids"], "candidate_ids": data["candidate_ids"][:, :3]})
    with pytest.raises(TypeError, match="target_ids"):
        model({"target_ids": data["target_ids"].astype("float32"), "candidate_ids": data["candidate_ids"]})
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.most_similar("w99")
    with pytest.raises(ValueError, match="vocabulary_size"):
        model.most_similar(20)
    with pytest.raises(ValueError, match="vocabulary"):
        Word2Vec(20, 8).most_similar("w1")
    with pytest.raises(ValueError, match=r"\.npy or \.tsv"):
        model.save_embeddings("vectors.txt")


# --- Measured: on the built-in corpus, words that share contexts end up nearer than random pairs. ---

VOCABULARY_SIZE, WINDOW = 2000, 2


@pytest.fixture(scope="module")
def corpus():
    sentences = stdlib_sentences()
    vocabulary, counts = word_vocabulary(sentences, VOCABULARY_SIZE)
    index = {word: i for i, word in enumerate(vocabulary)}
    sequences = [[index[w] for w in split_words(s) if w in index] for s in sentences]
    sequences = [s for s in sequences if len(s) >= 2]
    # Co-occurrence counts within the window, then PPMI rows: a word's context profile.
    cooccurrence = np.zeros((VOCABULARY_SIZE, VOCABULARY_SIZE))
    for s in sequences:
        s = np.asarray(s)
        for offset in range(1, WINDOW + 1):
            np.add.at(cooccurrence, (s[:-offset], s[offset:]), 1)
            np.add.at(cooccurrence, (s[offset:], s[:-offset]), 1)
    total = cooccurrence.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        ppmi = np.log(cooccurrence * total / np.outer(cooccurrence.sum(1), cooccurrence.sum(0)))
    ppmi = np.maximum(np.nan_to_num(ppmi, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    # Words seen >= 30 times, the 50 most frequent (function words) left out.
    words = np.where(counts >= 30)[0][50:]
    profile = ppmi[words] / np.maximum(np.linalg.norm(ppmi[words], axis=1, keepdims=True), 1e-12)
    context_similarity = profile @ profile.T
    np.fill_diagonal(context_similarity, -np.inf)
    return dict(vocabulary=vocabulary, counts=counts, sequences=sequences, words=words,
                context_similarity=context_similarity)


def similarity_statistics(matrix, corpus, k=10):
    """(mean cosine of each word and its nearest neighbour by shared contexts, mean cosine of random pairs,
    mean overlap of the k nearest neighbours by embedding and by shared contexts, its chance level)."""
    words, context_similarity = corpus["words"], corpus["context_similarity"]
    unit = matrix[words] / np.maximum(np.linalg.norm(matrix[words], axis=1, keepdims=True), 1e-12)
    cosine = unit @ unit.T
    shared = float(np.mean(cosine[np.arange(len(words)), context_similarity.argmax(1)]))
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(words), (2, 5000))
    random_pairs = float(np.mean(cosine[a[a != b], b[a != b]]))
    np.fill_diagonal(cosine, -np.inf)
    by_embedding = np.argsort(-cosine, axis=1)[:, :k]
    by_context = np.argsort(-context_similarity, axis=1)[:, :k]
    overlap = float(np.mean([len(set(e) & set(c)) / k for e, c in zip(by_embedding, by_context)]))
    return shared, random_pairs, overlap, k / (len(words) - 1)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_words_sharing_contexts_end_up_nearer_than_random_pairs(corpus, mode):
    keras.utils.set_random_seed(0)
    model = Word2Vec(VOCABULARY_SIZE, 32, mode=mode, num_negative=5, vocabulary=corpus["vocabulary"])
    untrained = similarity_statistics(model.embedding_matrix(), corpus)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    dataset = model.examples_dataset(corpus["sequences"], WINDOW, corpus["counts"], batch_size=1024, seed=0,
                                     subsample_threshold=1e-3)
    history = model.fit(dataset, epochs=2, verbose=0)
    shared, random_pairs, overlap, chance = similarity_statistics(model.embedding_matrix(), corpus)
    print(f"{mode}: loss {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}; "
          f"cosine with shared-context neighbour {shared:.3f} vs random pairs {random_pairs:.3f} "
          f"(untrained {untrained[0]:.3f} vs {untrained[1]:.3f}); neighbour overlap@10 {overlap:.3f} "
          f"(chance {chance:.3f})")
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert shared - random_pairs >= 0.12, (shared, random_pairs)
    assert abs(untrained[0] - untrained[1]) < 0.05  # the gap is learned, not an artefact of the statistic
    assert overlap >= 4 * chance, (overlap, chance)
