"""BART noise functions: Poisson spans, exact mask fraction, multisets preserved, seeds, tf.data."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.data.bart_noise import (
    document_rotation,
    poisson_span_lengths,
    sentence_permutation,
    text_infilling,
    token_deletion,
    token_masking,
)
from kerasnlp_lite.data.seeds import example_seed, make_seed

BOS, EOS, MASK, DOT = 0, 2, 3, 4


def _doc(n, seed):
    """BOS, n body tokens (ids >= 10, so never special), EOS."""
    body = np.random.default_rng(seed).integers(10, 50000, size=n).astype(np.int32)
    return np.concatenate([[BOS], body, [EOS]]).astype(np.int32)


def test_poisson_draws_have_mean_3():
    _, draws = poisson_span_lengths(100_000, make_seed(1))
    draws = draws.numpy()
    assert draws.size > 100_000
    assert abs(draws.mean() - 3.0) < 0.1, draws.mean()
    assert abs(np.mean(draws == 0) - np.exp(-3.0)) < 0.005


def test_text_infilling_mask_fraction_spans_and_order():
    total = masked = 0
    lengths_all = []
    for i in range(200):
        doc = np.concatenate([[BOS], np.arange(10, 522, dtype=np.int32), [EOS]])  # distinct ids: track positions
        out, lengths = text_infilling(doc, MASK, example_seed(3, i), start_token_id=BOS, end_token_id=EOS, return_span_lengths=True)
        out, lengths = out.numpy(), lengths.numpy()
        assert out[0] == BOS and out[-1] == EOS
        body = out[1:-1]
        kept = body[body != MASK]
        n = len(doc) - 2
        assert np.all(np.diff(kept) > 0)  # kept tokens stay in order
        assert np.sum(body == MASK) == len(lengths)  # one mask per span, zero-length spans included
        assert n - len(kept) == lengths.sum() == np.round(0.3 * n)  # exact masked count
        # Between consecutive kept tokens, skipped originals appear only where there is a mask.
        positions = np.flatnonzero(body != MASK)
        originals = np.concatenate([[9], kept, [10 + n]])
        marks = np.concatenate([[-1], positions, [len(body)]])
        for a in range(len(originals) - 1):
            skipped = originals[a + 1] - originals[a] - 1
            masks_between = marks[a + 1] - marks[a] - 1
            assert (skipped > 0) <= (masks_between > 0)
        total += n
        masked += lengths.sum()
        lengths_all.append(lengths)
    lengths_all = np.concatenate(lengths_all)
    assert total >= 100_000
    assert abs(masked / total - 0.3) < 0.002
    # Used lengths: Poisson(3) except the trimmed last span of each example.
    assert abs(lengths_all.mean() - 3.0) < 0.15, lengths_all.mean()
    assert np.sum(lengths_all == 0) > 0  # some insertions happen


def test_token_masking_exact_count_and_ends_kept():
    batch = np.stack([_doc(126, s) for s in range(800)])  # 800 x 128 = 102k tokens
    out = token_masking(batch, MASK, seed=5, start_token_id=BOS, end_token_id=EOS).numpy()
    assert batch.size > 100_000
    np.testing.assert_array_equal((out == MASK).sum(1), np.round(0.15 * 126))
    np.testing.assert_array_equal(out[:, [0, -1]], batch[:, [0, -1]])
    np.testing.assert_array_equal(out[out != MASK], batch[out != MASK])
    ragged = tf.ragged.constant([_doc(20, 0).tolist(), _doc(7, 1).tolist()])
    r = token_masking(ragged, MASK, seed=5, mask_ratio=0.5, start_token_id=BOS, end_token_id=EOS)
    assert r.row_lengths().numpy().tolist() == [22, 9]
    assert (r.to_tensor(-1).numpy() == MASK).sum(1).tolist() == [10, round(0.5 * 7)]


def test_token_deletion_keeps_an_ordered_sub_multiset():
    doc = _doc(1000, 1)
    out = token_deletion(doc, seed=2, start_token_id=BOS, end_token_id=EOS).numpy()
    assert len(out) == len(doc) - 150 and out[0] == BOS and out[-1] == EOS
    it = iter(doc.tolist())
    assert all(t in it for t in out.tolist())  # subsequence, in order
    assert not collections.Counter(out.tolist()) - collections.Counter(doc.tolist())
    ragged = token_deletion(tf.ragged.constant([[5, 6, 7, 8], [9, 10]]), seed=1, deletion_ratio=0.5)
    assert ragged.row_lengths().numpy().tolist() == [2, 1]


def test_sentence_permutation_preserves_sentences():
    rng = np.random.default_rng(4)
    sentences = [rng.integers(10, 1000, size=rng.integers(3, 12)).tolist() + [DOT] for _ in range(30)]
    doc = np.array([BOS] + sum(sentences, []) + [EOS], np.int32)
    changed = 0
    for i in range(20):
        out = sentence_permutation(doc, seed=i, sentence_end_id=DOT, start_token_id=BOS, end_token_id=EOS).numpy().tolist()
        assert out[0] == BOS and out[-1] == EOS and sorted(out) == sorted(doc.tolist())
        got, current = [], []
        for t in out[1:-1]:
            current.append(t)
            if t == DOT:
                got.append(tuple(current))
                current = []
        assert sorted(got) == sorted(map(tuple, sentences))
        changed += got != list(map(tuple, sentences))
    assert changed == 20
    # Boundary positions instead of an end id; trailing text without an end is a sentence too.
    ids = np.array([11, 12, 13, 14, 15, 16, 17], np.int32)
    ends = np.array([0, 1, 0, 0, 1, 0, 0], bool)
    outs = {tuple(sentence_permutation(ids, seed=s, sentence_ends=ends).numpy()) for s in range(30)}
    assert len(outs) == 6 and (11, 12, 13, 14, 15, 16, 17) in outs and (16, 17, 13, 14, 15, 11, 12) in outs


def test_document_rotation_is_a_uniform_rotation():
    doc = np.array([BOS, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, EOS], np.int32)
    starts = []
    for i in range(1000):
        out = document_rotation(doc, seed=i, start_token_id=BOS, end_token_id=EOS).numpy()
        assert out[0] == BOS and out[-1] == EOS
        k = out[1] - 10
        np.testing.assert_array_equal(out[1:-1], np.roll(doc[1:-1], -k))
        starts.append(k)
    counts = np.bincount(starts, minlength=10)
    assert counts.min() > 60 and counts.max() < 140, counts  # 100 +/- 4 sigma


def test_composed_in_parallel_dataset_map_equals_eager_and_is_deterministic():
    docs = [np.concatenate([[BOS], np.tile([21, 22, DOT, 23, DOT], 4 + i), [EOS]]).astype(np.int32) for i in range(12)]

    def noise(index, ids):
        s = tf.random.experimental.stateless_split(example_seed(7, index), 3)
        ids = sentence_permutation(ids, s[0], sentence_end_id=DOT, start_token_id=BOS, end_token_id=EOS)
        ids = text_infilling(ids, MASK, s[1], start_token_id=BOS, end_token_id=EOS)
        return document_rotation(ids, s[2], start_token_id=BOS, end_token_id=EOS)

    ds = tf.data.Dataset.from_generator(lambda: iter(docs), output_signature=tf.TensorSpec([None], tf.int32))
    got = [x for x in ds.enumerate().map(noise, num_parallel_calls=4).as_numpy_iterator()]
    again = [x for x in ds.enumerate().map(noise, num_parallel_calls=4).as_numpy_iterator()]
    for i, doc in enumerate(docs):
        want = noise(tf.constant(i, tf.int64), doc).numpy()
        np.testing.assert_array_equal(got[i], want)
        np.testing.assert_array_equal(again[i], want)


def test_empty_and_tiny_inputs():
    empty = np.zeros([0], np.int32)
    assert text_infilling(empty, MASK, 0).shape == (0,)
    assert document_rotation(empty, 0).shape == (0,)
    assert sentence_permutation(empty, 0, sentence_end_id=DOT).shape == (0,)
    np.testing.assert_array_equal(text_infilling([BOS, EOS], MASK, 0, start_token_id=BOS, end_token_id=EOS), [BOS, EOS])


@pytest.mark.parametrize(
    "fn, kwargs, error, name",
    [
        (text_infilling, dict(mask_token_id=None), ValueError, "mask_token_id"),
        (text_infilling, dict(mask_ratio=1.5), ValueError, "mask_ratio"),
        (text_infilling, dict(poisson_lambda=0), ValueError, "poisson_lambda"),
        (text_infilling, dict(token_ids=np.ones((2, 3), np.int32)), ValueError, "token_ids"),
        (text_infilling, dict(token_ids=np.ones(3, np.float32)), TypeError, "token_ids"),
        (token_masking, dict(mask_token_id=3.0), TypeError, "mask_token_id"),
        (token_masking, dict(mask_ratio=-0.5), ValueError, "mask_ratio"),
        (token_deletion, dict(deletion_ratio=2), ValueError, "deletion_ratio"),
        (token_deletion, dict(token_ids=np.ones((2, 3), np.int32)), ValueError, "token_ids"),
        (sentence_permutation, dict(), ValueError, "sentence_end_id"),
        (sentence_permutation, dict(sentence_end_id=DOT, sentence_ends=[True]), ValueError, "sentence_ends"),
        (document_rotation, dict(start_token_id=0.0), TypeError, "start_token_id"),
        (document_rotation, dict(seed=None), TypeError, "seed"),
    ],
)
def test_bad_inputs_name_the_argument(fn, kwargs, error, name):
    args = dict(token_ids=np.arange(10, 20, dtype=np.int32), seed=0)
    if fn in (text_infilling, token_masking):
        args["mask_token_id"] = MASK
    args.update(kwargs)
    with pytest.raises(error, match=name):
        fn(**args)
