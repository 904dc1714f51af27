"""word2vec examples: window membership, the 3/4-power negative distribution, subsampling rates, seeds."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from kerasnlp_lite.data.word2vec import (
    cbow_examples,
    negative_sampling_distribution,
    skipgram_pairs,
    subsampling_keep_probabilities,
)

V = 50
# Zipf-like counts: id 0 most frequent.
COUNTS = 1000.0 / np.arange(1, V + 1)


def test_skipgram_pairs_are_exactly_the_window():
    # Distinct ids equal to their positions, so each pair reveals its positions.
    ids = np.arange(23, dtype=np.int32)
    for window in (1, 3, 5):
        out = skipgram_pairs(ids, window, 0, 23, seed=0)
        pairs = list(zip(out["target_ids"].numpy().tolist(), out["candidate_ids"].numpy()[:, 0].tolist()))
        expected = [(i, j) for i in range(23) for j in range(i - window, i + window + 1) if j != i and 0 <= j < 23]
        assert pairs == expected
        assert np.all(out["labels"].numpy() == 1.0)


def test_cbow_contexts_are_exactly_the_window():
    ids = np.arange(1, 12, dtype=np.int32)
    out = cbow_examples(ids, 2, 3, 12, seed=0, unigram_counts=np.ones(12), pad_value=0)
    assert out["candidate_ids"].numpy()[:, 0].tolist() == ids.tolist()
    for i, (context, mask) in enumerate(zip(out["context_ids"].numpy(), out["context_mask"].numpy())):
        offsets = [-2, -1, 1, 2]
        expected = [int(ids[i + d]) if 0 <= i + d < len(ids) else 0 for d in offsets]
        assert context.tolist() == expected
        assert mask.tolist() == [int(0 <= i + d < len(ids)) for d in offsets]
    assert out["labels"].numpy().tolist()[0] == [1.0, 0.0, 0.0, 0.0]


def test_negatives_follow_unigram_to_the_three_quarters():
    ids = np.random.default_rng(0).integers(0, V, size=2000).astype(np.int32)
    out = skipgram_pairs(ids, 5, 10, V, seed=1, unigram_counts=COUNTS)
    negatives = out["candidate_ids"].numpy()[:, 1:].ravel()
    assert negatives.size > 100_000
    observed = np.bincount(negatives, minlength=V)
    expected = negative_sampling_distribution(COUNTS) * negatives.size
    np.testing.assert_allclose(expected / negatives.size, COUNTS**0.75 / np.sum(COUNTS**0.75))
    chi2, p_value = stats.chisquare(observed, expected)
    assert p_value > 1e-3, (chi2, p_value)
    # The test has power: the plain unigram distribution is rejected outright.
    _, p_unigram = stats.chisquare(observed, COUNTS / COUNTS.sum() * negatives.size)
    assert p_unigram < 1e-12
    assert np.max(np.abs(observed / negatives.size - expected / negatives.size)) < 0.005


def test_frequent_words_are_subsampled_at_the_expected_rate():
    # Id 0 has frequency 0.25, id 1 0.05, the others share the rest evenly.
    rng = np.random.default_rng(2)
    frequency = np.array([0.25, 0.05] + [0.70 / (V - 2)] * (V - 2))
    ids = rng.choice(V, size=400_000, p=frequency).astype(np.int32)
    counts = np.bincount(ids, minlength=V).astype(np.float64)
    t = 0.02  # above the rare words' frequency (0.0146): they are never discarded
    keep = subsampling_keep_probabilities(counts, t)
    f = counts / counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1.0, np.sqrt(t / f)), rtol=1e-6)
    # Survivors: CBOW gives one example per kept word (its center is candidate 0).
    out = cbow_examples(ids, 1, 0, V, seed=3, unigram_counts=counts, subsample_threshold=t)
    kept = np.bincount(out["candidate_ids"].numpy()[:, 0], minlength=V)
    for word in (0, 1):
        rate = kept[word] / counts[word]
        assert abs(rate - keep[word]) < 0.01, (word, rate, keep[word])  # sqrt(0.02 / 0.25) = 0.283 and sqrt(0.02 / 0.05) = 0.632
    rare = np.arange(2, V)
    assert np.all(keep[rare] == 1.0) and np.array_equal(kept[rare], counts[rare])
    # The same rate through an explicit sampling table.
    table_out = cbow_examples(ids, 1, 0, V, seed=3, sampling_table=keep)
    np.testing.assert_array_equal(table_out["candidate_ids"], out["candidate_ids"])


def test_seeded_and_usable_in_tf_data():
    ids = np.random.default_rng(4).integers(0, V, size=300).astype(np.int32)
    kwargs = dict(window_size=3, num_negative=4, vocabulary_size=V, unigram_counts=COUNTS, subsample_threshold=1e-2)
    a = skipgram_pairs(ids, seed=7, **kwargs)
    b = skipgram_pairs(ids, seed=7, **kwargs)
    c = skipgram_pairs(ids, seed=8, **kwargs)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["target_ids"].shape != c["target_ids"].shape or not np.array_equal(a["candidate_ids"], c["candidate_ids"])
    mapped = tf.data.Dataset.from_tensors(ids).map(lambda x: skipgram_pairs(x, seed=7, **kwargs))
    graph = next(iter(mapped))
    for key in a:
        np.testing.assert_array_equal(graph[key], a[key])
    cbow = tf.function(lambda x: cbow_examples(x, seed=7, **kwargs))(tf.constant(ids))
    eager = cbow_examples(ids, seed=7, **kwargs)
    for key in eager:
        np.testing.assert_array_equal(cbow[key], eager[key])


def test_bad_arguments():
    ids = [1, 2, 3]
    with pytest.raises(ValueError, match="unigram_counts"):
        skipgram_pairs(ids, 2, 5, V, seed=0)
    with pytest.raises(ValueError, match="unigram_counts"):
        skipgram_pairs(ids, 2, 0, V, seed=0, subsample_threshold=1e-3)
    with pytest.raises(ValueError, match=r"unigram_counts.*\[vocabulary_size\]"):
        skipgram_pairs(ids, 2, 1, V, seed=0, unigram_counts=np.ones(V - 1))
    with pytest.raises(ValueError, match="not both"):
        skipgram_pairs(ids, 2, 0, V, seed=0, unigram_counts=COUNTS, sampling_table=np.ones(V),
                       subsample_threshold=1e-3)
    with pytest.raises(ValueError, match="sampling_table"):
        cbow_examples(ids, 2, 0, V, seed=0, sampling_table=np.full(V, 2.0))
    with pytest.raises(ValueError, match="window_size"):
        skipgram_pairs(ids, 0, 0, V, seed=0)
    with pytest.raises(ValueError, match="num_negative"):
        skipgram_pairs(ids, 1, -1, V, seed=0)
    with pytest.raises(ValueError, match=r"token_ids.*vocabulary_size"):
        skipgram_pairs([1, V], 1, 0, V, seed=0)
    with pytest.raises(ValueError, match="token_ids"):
        cbow_examples([[1, 2]], 1, 0, V, seed=0)
    with pytest.raises(TypeError, match="token_ids"):
        cbow_examples([1.0, 2.0], 1, 0, V, seed=0)
    with pytest.raises(TypeError, match="seed"):
        skipgram_pairs(ids, 1, 0, V, seed=None)
    with pytest.raises(ValueError, match="subsample_threshold"):
        subsampling_keep_probabilities(COUNTS, 0.0)
