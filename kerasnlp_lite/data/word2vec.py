"""word2vec training examples: skip-gram pairs and CBOW windows with negative sampling.

Both follow Mikolov et al. 2013, "Distributed Representations of Words and
Phrases and their Compositionality" (https://arxiv.org/abs/1310.4546):

- Subsampling of frequent words (section 2.3): each occurrence of word w is
  discarded with probability `1 - sqrt(t / f(w))` (clipped at 0), where f(w)
  is the word's relative frequency and t a threshold (1e-5 in the paper).
  As in the reference C code, discarded words are removed *before* windows
  are formed, so the window reaches further in text full of frequent words.
- Negative sampling (section 2.2): K negatives per positive, drawn from the
  unigram distribution raised to the 3/4 power, `P(w) ~ count(w) ** 0.75`.
  They are drawn independently (a negative may equal the positive, as with
  TensorFlow's candidate samplers; at realistic vocabulary sizes this is rare).

All randomness is stateless (`tf.random.stateless_*`) keyed by `seed`, so a
`Dataset.map` gives the same examples in every run; fold the example index
into the seed (`kerasnlp_lite.data.example_seed`) for per-sentence draws.
The window is fixed (every word within `window_size` positions is a context);
the C code's random window shrinking is not applied.
"""

import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.seeds import as_token_ids, make_seed
from kerasnlp_lite.utils.validation import check_positive_int, is_int, is_number

# Mikolov et al. 2013, section 2.2: the 3/4 power "outperformed significantly"
# the unigram and uniform distributions.
NEGATIVE_SAMPLING_POWER = 0.75


def _counts_array(unigram_counts, vocabulary_size):
    counts = np.asarray(unigram_counts, dtype=np.float64)
    if counts.shape != (vocabulary_size,):
        raise ValueError(
            f"`unigram_counts` must have shape [vocabulary_size]=[{vocabulary_size}], got shape {counts.shape}."
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError("`unigram_counts` must be finite, >= 0 and not all zero.")
    return counts


def subsampling_keep_probabilities(unigram_counts, threshold=1e-5):
    """Per-id probability of keeping an occurrence: `min(1, sqrt(t / f(w)))`.

    Mikolov et al. 2013, section 2.3: discard with probability
    `1 - sqrt(t / f(w))`. Ids with count 0 get probability 1.

    Args:
        unigram_counts: `[V]` counts (or frequencies) of each id.
        threshold: t > 0.

    Returns:
        float32 numpy array `[V]`, usable as `sampling_table`.
    """
    counts = np.asarray(unigram_counts, dtype=np.float64)
    _counts_array(counts, counts.shape[0] if counts.ndim == 1 else -1)
    if not is_number(threshold) or not threshold > 0:
        raise ValueError(f"`subsample_threshold` must be a float > 0, got {threshold!r}.")
    frequency = counts / counts.sum()
    with np.errstate(divide="ignore"):
        keep = np.where(frequency > 0, np.sqrt(threshold / np.maximum(frequency, 1e-300)), 1.0)
    return np.minimum(keep, 1.0).astype(np.float32)


def negative_sampling_distribution(unigram_counts, power=NEGATIVE_SAMPLING_POWER):
    """`count ** power`, normalized (float64 numpy `[V]`).

    Args:
        unigram_counts: `[V]` counts, >= 0 and finite, at least one > 0.
        power: the smoothing exponent (0.75 in word2vec).
    """
    counts = np.asarray(unigram_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"`unigram_counts` must have shape [vocabulary_size], got shape {counts.shape}.")
    if not np.all(np.isfinite(counts)) or counts.min() < 0 or counts.max() <= 0:
        # A negative or all-zero table would give NaN probabilities.
        raise ValueError(
            "`unigram_counts` must be finite counts >= 0 with at least one > 0, "
            f"got values in [{counts.min()}, {counts.max()}]."
        )
    weights = counts**power
    return weights / weights.sum()


def _prepare(token_ids, window_size, num_negative, vocabulary_size, unigram_counts, sampling_table,
             subsample_threshold, seed):
    """Checks the arguments; returns (kept ids [n], negative-sampling CDF or None, seeds)."""
    check_positive_int(window_size, "window_size")
    check_positive_int(num_negative, "num_negative", minimum=0)
    check_positive_int(vocabulary_size, "vocabulary_size")
    token_ids = as_token_ids(token_ids, ranks=(1,))
    token_ids = tf.cast(token_ids, tf.int32)
    if tf.executing_eagerly() and tf.size(token_ids) > 0:
        low, high = int(tf.reduce_min(token_ids)), int(tf.reduce_max(token_ids))
        if low < 0 or high >= vocabulary_size:
            raise ValueError(f"`token_ids` must be in [0, vocabulary_size={vocabulary_size}), got ids in [{low}, {high}].")
    if sampling_table is not None and subsample_threshold is not None:
        raise ValueError("Pass `sampling_table` or `subsample_threshold`, not both.")
    counts = None
    if unigram_counts is not None:
        counts = _counts_array(unigram_counts, vocabulary_size)
    elif num_negative > 0 or subsample_threshold is not None:
        needs = "num_negative > 0" if num_negative > 0 else "`subsample_threshold`"
        raise ValueError(f"{needs} needs `unigram_counts` (shape [vocabulary_size]).")
    subsample_seed, negative_seed = tf.unstack(tf.random.experimental.stateless_split(make_seed(seed), 2))

    if subsample_threshold is not None:
        sampling_table = subsampling_keep_probabilities(counts, subsample_threshold)
    if sampling_table is not None:
        table = np.asarray(sampling_table, dtype=np.float32)
        if table.shape != (vocabulary_size,) or np.any(table < 0) or np.any(table > 1):
            raise ValueError(
                f"`sampling_table` must hold keep probabilities in [0, 1] of shape [{vocabulary_size}], "
                f"got shape {table.shape}."
            )
        keep = tf.gather(tf.constant(table), token_ids)
        draws = tf.random.stateless_uniform(tf.shape(token_ids), seed=subsample_seed)
        token_ids = tf.boolean_mask(token_ids, draws < keep)

    cdf = None
    if num_negative > 0:
        cdf = np.cumsum(negative_sampling_distribution(counts))
        cdf = tf.constant(cdf / cdf[-1], tf.float64)
    return token_ids, cdf, negative_seed


def _negatives(cdf, count, num_negative, seed):
    """`[count, num_negative]` ids drawn from the CDF by inverse transform sampling."""
    uniform = tf.random.stateless_uniform([count * num_negative], seed=seed, dtype=tf.float64)
    ids = tf.searchsorted(cdf, uniform, side="right")
    ids = tf.minimum(ids, tf.size(cdf) - 1)  # guards u rounding up to the last CDF value
    return tf.reshape(tf.cast(ids, tf.int32), [count, num_negative])


def _with_negatives(positive, cdf, num_negative, seed):
    """candidate_ids `[P, 1 + K]` (positive first) and labels `[P, 1 + K]` (1 then 0s)."""
    count = tf.shape(positive)[0]
    if num_negative == 0:
        candidates = positive[:, None]
    else:
        candidates = tf.concat([positive[:, None], _negatives(cdf, count, num_negative, seed)], axis=1)
    labels = tf.concat(
        [tf.ones([count, 1], tf.float32), tf.zeros([count, num_negative], tf.float32)], axis=1
    )
    return candidates, labels


def _window(n, window_size):
    """Positions `[n, 2W]` of each center's neighbours (offsets -W..-1, 1..W) and their validity."""
    offsets = tf.concat([tf.range(-window_size, 0), tf.range(1, window_size + 1)], axis=0)  # [2W]
    positions = tf.range(n)[:, None] + offsets[None, :]  # [n, 2W]
    valid = (positions >= 0) & (positions < n)
    return positions, valid


def skipgram_pairs(
    token_ids,
    window_size,
    num_negative,
    vocabulary_size,
    seed,
    unigram_counts=None,
    sampling_table=None,
    subsample_threshold=None,
):
    """Skip-gram examples of one sequence: (center word, context word + negatives).

    Shape legend: T = input length, n = length after subsampling, P = number
    of (center, context) pairs, K = `num_negative`.

    Args:
        token_ids: 1-D integer ids `[T]` (one sentence or document, no padding).
        window_size: W >= 1; every word at distance 1..W from a center is one
            of its contexts.
        num_negative: K >= 0 negatives per pair, drawn from
            `unigram_counts ** 0.75` (Mikolov et al. 2013, section 2.2).
        vocabulary_size: V; ids must be in `[0, V)`.
        seed: int or int tensor `[2]` (stateless).
        unigram_counts: `[V]` counts of each id in the training corpus;
            needed for negatives and for `subsample_threshold`.
        sampling_table: optional `[V]` keep probabilities (e.g. from
            `subsampling_keep_probabilities`).
        subsample_threshold: optional t: keep each occurrence with
            probability `min(1, sqrt(t / f(w)))` (section 2.3).

    Returns:
        dict: `target_ids` int32 `[P]` (centers), `candidate_ids` int32
        `[P, 1 + K]` (the true context first, then the negatives), `labels`
        float32 `[P, 1 + K]` (1 then K zeros). Pairs are ordered by center,
        then by offset -W..-1, 1..W.
    """
    ids, cdf, negative_seed = _prepare(
        token_ids, window_size, num_negative, vocabulary_size, unigram_counts, sampling_table,
        subsample_threshold, seed,
    )
    n = tf.size(ids)
    positions, valid = _window(n, window_size)
    centers = tf.boolean_mask(tf.broadcast_to(ids[:, None], tf.shape(positions)), valid)  # [P]
    contexts = tf.gather(ids, tf.boolean_mask(positions, valid))  # [P]
    candidates, labels = _with_negatives(contexts, cdf, num_negative, negative_seed)
    return {"target_ids": centers, "candidate_ids": candidates, "labels": labels}


def cbow_examples(
    token_ids,
    window_size,
    num_negative,
    vocabulary_size,
    seed,
    unigram_counts=None,
    sampling_table=None,
    subsample_threshold=None,
    pad_value=0,
):
    """CBOW examples of one sequence: (surrounding words, center word + negatives).

    One example per center word that has at least one context word (every
    center once the subsampled sequence has 2 or more words).

    Args:
        token_ids, window_size, num_negative, vocabulary_size, seed,
        unigram_counts, sampling_table, subsample_threshold: as in
            `skipgram_pairs`.
        pad_value: the id written at context slots beyond the sequence's
            ends (always flagged 0 in `context_mask`).

    Returns:
        dict: `context_ids` int32 `[n, 2W]` (offsets -W..-1, 1..W),
        `context_mask` int32 `[n, 2W]` (1 at real context words),
        `candidate_ids` int32 `[n, 1 + K]` (the center first, then the
        negatives) and `labels` float32 `[n, 1 + K]`.
    """
    if not is_int(pad_value):
        raise TypeError(f"`pad_value` must be an int, got {pad_value!r}.")
    ids, cdf, negative_seed = _prepare(
        token_ids, window_size, num_negative, vocabulary_size, unigram_counts, sampling_table,
        subsample_threshold, seed,
    )
    n = tf.size(ids)
    positions, valid = _window(n, window_size)
    padded = tf.concat([ids, [pad_value]], axis=0)  # out-of-sequence positions read the pad
    context = tf.gather(padded, tf.where(valid, positions, n))
    has_context = tf.reduce_any(valid, axis=1)  # False only when n == 1
    context = tf.boolean_mask(context, has_context)
    mask = tf.cast(tf.boolean_mask(valid, has_context), tf.int32)
    centers = tf.boolean_mask(ids, has_context)
    candidates, labels = _with_negatives(centers, cdf, num_negative, negative_seed)
    return {"context_ids": context, "context_mask": mask, "candidate_ids": candidates, "labels": labels}
