"""train_wordpiece_vocabulary: reserved tokens first, target size, few [UNK] on its corpus."""

import random

import pytest
import tensorflow as tf

from kerasnlp_lite.tokenizers.word_piece_tokenizer import WordPieceTokenizer
from kerasnlp_lite.tokenizers.word_piece_trainer import DEFAULT_RESERVED_TOKENS, train_wordpiece_vocabulary


def generated_corpus(num_sentences=1500, seed=0):
    rng = random.Random(seed)
    syllables = ["ka", "to", "mi", "ran", "sel", "bo", "qué", "lu", "dan", "fi", "Ž"]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(300)]
    return [
        " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + rng.choice([".", "!", "?", ", 42."])
        for _ in range(num_sentences)
    ]


@pytest.fixture(scope="module")
def corpus():
    return generated_corpus()


@pytest.mark.slow
def test_trained_vocabulary_tokenizes_its_corpus(corpus):
    vocabulary = train_wordpiece_vocabulary(corpus, 150)
    assert vocabulary[: len(DEFAULT_RESERVED_TOKENS)] == list(DEFAULT_RESERVED_TOKENS)
    assert len(set(vocabulary)) == len(vocabulary)
    # The learner lands within 5% below the target.
    assert 0.95 * 150 <= len(vocabulary) <= 150
    tokenizer = WordPieceTokenizer(vocabulary)
    ids = tokenizer.tokenize(corpus).flat_values.numpy()
    unknown_rate = (ids == tokenizer.unknown_token_id).mean()
    assert unknown_rate == 0.0, unknown_rate
    # Pieces, not characters: fewer tokens than characters.
    assert len(ids) < 0.6 * sum(len(t) for t in corpus)
    # Lower-cased and accent-stripped: "qué" -> "que", "Ž" -> "z".
    assert "Ž" not in vocabulary and "é" not in "".join(vocabulary)
    # A tf.data.Dataset (scalars or batches) gives the same vocabulary.
    dataset = tf.data.Dataset.from_tensor_slices(corpus)
    assert train_wordpiece_vocabulary(dataset, 150) == vocabulary
    assert train_wordpiece_vocabulary(dataset.batch(64), 150) == vocabulary


def test_custom_reserved_tokens_and_case(corpus):
    vocabulary = train_wordpiece_vocabulary(
        corpus[:200], 60, reserved_tokens=["<pad>", "[UNK]"], lowercase=False, strip_accents=False
    )
    assert vocabulary[:2] == ["<pad>", "[UNK]"] and len(vocabulary) <= 60
    assert "Ž" in vocabulary


def test_bad_inputs():
    with pytest.raises(ValueError, match="reserved tokens"):
        train_wordpiece_vocabulary(["a b"], 5)
    with pytest.raises(ValueError, match="duplicates"):
        train_wordpiece_vocabulary(["a b"], 50, reserved_tokens=["[UNK]", "[UNK]"])
    with pytest.raises(TypeError, match="vocabulary_size"):
        train_wordpiece_vocabulary(["a b"], 50.0)
    with pytest.raises(TypeError, match="strings"):
        train_wordpiece_vocabulary(["a", 3], 50)
    with pytest.raises(TypeError, match="list of strings"):
        train_wordpiece_vocabulary("just one string", 50)
    with pytest.raises(ValueError, match="no words"):
        train_wordpiece_vocabulary(["", "  \t"], 50)
    with pytest.raises(ValueError, match="UTF-8"):
        train_wordpiece_vocabulary([b"ok", b"\xff"], 50)
    with pytest.raises(TypeError, match="element_spec"):
        train_wordpiece_vocabulary(tf.data.Dataset.range(3), 50)
