"""T5 span corruption: structure of the noise mask, sentinels against a numpy version, exact reconstruction."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.data.span_corruption import (
    noise_span_to_unique_sentinel,
    nonnoise_span_to_unique_sentinel,
    random_spans_noise_mask,
    span_corruption,
)
from kerasnlp_lite.data.seeds import example_seed

VOCAB = 32100  # T5: 32000 pieces + 100 sentinels, <extra_id_0> = 32099
EOS = 1


def _spans(mask):
    """Run-length encoding: list of (is_noise, length)."""
    runs, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            runs.append((bool(mask[start]), i - start))
            start = i
    return runs


def _np_unique_sentinel(tokens, mask, first):
    """Independent numpy/python version of T5's noise_span_to_unique_sentinel."""
    out, sentinel = [], first
    for i, (t, m) in enumerate(zip(tokens, mask)):
        if not m:
            out.append(int(t))
        elif i == 0 or not mask[i - 1]:
            out.append(sentinel)
            sentinel -= 1
    return out


def _reconstruct(inputs, targets, first=VOCAB - 1, num_sentinels=100):
    """Rebuilds the original tokens from T5 inputs and targets (no EOS)."""
    is_sentinel = lambda t: first - num_sentinels < t <= first  # noqa: E731
    fills, current = {}, None
    for t in targets:
        if is_sentinel(t):
            current = t
            fills[current] = []
        else:
            fills[current].append(t)
    out = []
    for t in inputs:
        out.extend(fills[t] if is_sentinel(t) else [t])
    # A trailing non-noise span of the targets has its sentinel last with nothing after it.
    return out


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    lengths = rng.integers(100, 700, size=260)
    return [rng.integers(2, 32000, size=n).astype(np.int32) for n in lengths]


def test_noise_mask_structure_matches_t5_rules(corpus):
    for i, doc in enumerate(corpus[:60]):
        n = len(doc)
        mask = random_spans_noise_mask(n, seed=i).numpy()
        # T5 computes in float32 (to_float), which decides the rounding of e.g. 670 * 0.15.
        num_noise = min(max(int(np.round(np.float32(n) * np.float32(0.15))), 1), n - 1)
        num_spans = max(1, int(np.round(np.float32(num_noise) / np.float32(3.0))))
        runs = _spans(mask)
        assert mask.sum() == num_noise
        assert [r[0] for r in runs] == [False, True] * num_spans  # alternating, non-noise first, noise last
        assert all(length > 0 for _, length in runs)


def test_density_span_length_and_exact_reconstruction(corpus):
    total = noise = spans = 0
    for i, doc in enumerate(corpus):
        out = span_corruption(doc, seed=example_seed(5, i), vocabulary_size=VOCAB)
        inputs, targets = out["inputs"].numpy().tolist(), out["targets"].numpy().tolist()
        assert _reconstruct(inputs, targets) == doc.tolist()
        sentinels = [t for t in inputs if t >= VOCAB - 100]
        assert sentinels == list(range(VOCAB - 1, VOCAB - 1 - len(sentinels), -1))
        total += len(doc)
        noise += len(targets) - len(sentinels)
        spans += len(sentinels)
    assert total >= 100_000
    assert abs(noise / total - 0.15) < 0.01, noise / total
    assert abs(noise / spans - 3.0) < 0.1, noise / spans


def test_sentinel_functions_match_numpy_version():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 40))
        tokens = rng.integers(2, 1000, size=n).astype(np.int32)
        mask = rng.random(n) < 0.3
        np.testing.assert_array_equal(noise_span_to_unique_sentinel(tokens, mask, 999), _np_unique_sentinel(tokens, mask, 999))
        np.testing.assert_array_equal(
            nonnoise_span_to_unique_sentinel(tokens, mask, 999), _np_unique_sentinel(tokens, ~mask, 999)
        )


def test_eos_kept_out_of_noise_and_appended():
    doc = np.arange(10, 110, dtype=np.int32)
    plain = span_corruption(doc, seed=4, vocabulary_size=VOCAB)
    with_eos = span_corruption(np.append(doc, EOS), seed=4, vocabulary_size=VOCAB, end_token_id=EOS)
    no_eos_in = span_corruption(doc, seed=4, vocabulary_size=VOCAB, end_token_id=EOS)
    for key in ("inputs", "targets"):
        np.testing.assert_array_equal(with_eos[key], np.append(plain[key], EOS))
        np.testing.assert_array_equal(no_eos_in[key], with_eos[key])


def test_sentinel_argument_and_seed_determinism():
    doc = np.arange(10, 210, dtype=np.int32)
    a = span_corruption(doc, seed=1, first_sentinel_id=5000, num_sentinels=50)
    b = span_corruption(doc, seed=1, first_sentinel_id=5000, num_sentinels=50)
    c = span_corruption(doc, seed=2, first_sentinel_id=5000, num_sentinels=50)
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
    assert a["inputs"].numpy().tolist() != c["inputs"].numpy().tolist()
    assert 5000 in a["inputs"].numpy() and 4999 in a["inputs"].numpy()


def test_too_many_spans_for_the_sentinels_fails_loudly():
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_sentinels"):
        span_corruption(np.arange(10, 1010, dtype=np.int32), seed=0, vocabulary_size=VOCAB, num_sentinels=10)


def test_dataset_map_parallel_equals_eager(corpus):
    docs = corpus[:20]
    ds = tf.data.Dataset.from_generator(lambda: iter(docs), output_signature=tf.TensorSpec([None], tf.int32))
    mapped = ds.enumerate().map(
        lambda i, x: span_corruption(x, example_seed(8, i), vocabulary_size=VOCAB, end_token_id=EOS),
        num_parallel_calls=4,
    )
    for i, got in enumerate(mapped):
        want = span_corruption(docs[i], example_seed(8, i), vocabulary_size=VOCAB, end_token_id=EOS)
        np.testing.assert_array_equal(got["inputs"], want["inputs"])
        np.testing.assert_array_equal(got["targets"], want["targets"])


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(vocabulary_size=None), ValueError, "vocabulary_size"),
        (dict(noise_density=0.0), ValueError, "noise_density"),
        (dict(noise_density=1.2), ValueError, "noise_density"),
        (dict(mean_noise_span_length=0), ValueError, "mean_noise_span_length"),
        (dict(first_sentinel_id=2.5), TypeError, "first_sentinel_id"),
        (dict(end_token_id=VOCAB), ValueError, "end_token_id"),
        (dict(token_ids=np.ones((2, 5), np.int32)), ValueError, "token_ids"),
        (dict(token_ids=np.ones((5,), np.float32)), TypeError, "token_ids"),
        (dict(seed=None), TypeError, "seed"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, name):
    args = dict(token_ids=np.arange(5, 25, dtype=np.int32), seed=0, vocabulary_size=VOCAB)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        span_corruption(**args)
