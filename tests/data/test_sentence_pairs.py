"""NSP and SOP pairs: BERT's label convention, 50% rates, seeds, generators, tf.data."""

import numpy as np
import pytest

from kerasnlp_lite.data.sentence_pairs import next_sentence_pairs, sentence_order_pairs, sentence_pairs_dataset


def _documents(num=300, seed=0):
    rng = np.random.default_rng(seed)
    return [[f"d{d} s{s}" for s in range(int(rng.integers(1, 30)))] for d in range(num)]


def _where(sentence):
    d, s = sentence.split()
    return int(d[1:]), int(s[1:])


def test_next_sentence_pairs_follow_berts_convention():
    docs = _documents()
    pairs = next_sentence_pairs(iter(docs), seed=1)  # a generator works: read once
    assert len(pairs) == sum(len(d) - 1 for d in docs) > 3000
    labels = np.array([p["label"] for p in pairs])
    assert abs(labels.mean() - 0.5) < 0.03
    for p in pairs:
        (da, sa), (db, sb) = _where(p["first"]), _where(p["second"])
        if p["label"] == 0:  # IsNext
            assert (db, sb) == (da, sa + 1)
        else:  # random next from another document (is_random_next = True)
            assert db != da
    assert next_sentence_pairs(docs, seed=1) == pairs
    assert next_sentence_pairs(docs, seed=2) != pairs


def test_sentence_order_pairs_swap_half():
    docs = _documents()
    pairs = sentence_order_pairs(docs, seed=3)
    labels = np.array([p["label"] for p in pairs])
    assert abs(labels.mean() - 0.5) < 0.03
    for p in pairs:
        (da, sa), (db, sb) = _where(p["first"]), _where(p["second"])
        assert da == db and sb - sa == (-1 if p["label"] else 1)
    assert sentence_order_pairs(docs, seed=3) == pairs


def test_token_id_sentences_and_dataset():
    docs = [[[5, 6], [7], [8, 9, 10]], [[11, 12], [13]]]
    pairs = next_sentence_pairs(docs, seed=0)
    ds = list(sentence_pairs_dataset(pairs).as_numpy_iterator())
    assert len(ds) == 3
    for got, want in zip(ds, pairs):
        np.testing.assert_array_equal(got["first"], want["first"])
        np.testing.assert_array_equal(got["second"], want["second"])
        assert got["label"] == want["label"]
    text = list(sentence_pairs_dataset(sentence_order_pairs(_documents(5), seed=0)).as_numpy_iterator())
    assert isinstance(text[0]["first"], bytes)


@pytest.mark.parametrize(
    "fn, kwargs, error, name",
    [
        (next_sentence_pairs, dict(documents=[["a", "b"]]), ValueError, "documents"),
        (next_sentence_pairs, dict(documents="a b"), TypeError, "documents"),
        (next_sentence_pairs, dict(documents=["ab", "cd"]), TypeError, "documents"),
        (next_sentence_pairs, dict(random_next_probability=1.5), ValueError, "random_next_probability"),
        (next_sentence_pairs, dict(seed=None), TypeError, "seed"),
        (sentence_order_pairs, dict(documents=[[1.5, 2.5]]), TypeError, "documents"),
        (sentence_order_pairs, dict(documents=[["a", [1]]]), TypeError, "documents"),
        (sentence_order_pairs, dict(swap_probability=-0.1), ValueError, "swap_probability"),
    ],
)
def test_bad_inputs_name_the_argument(fn, kwargs, error, name):
    args = dict(documents=[["a", "b"], ["c", "d"]], seed=0)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        fn(**args)
