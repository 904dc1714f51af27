"""T5 span corruption (Raffel et al. 2020, section 3.1.4), one example at a time.

Reproduces T5's `random_spans_noise_mask`, `noise_span_to_unique_sentinel`
and `nonnoise_span_to_unique_sentinel` (google-research/text-to-text-transfer-
transformer, t5/data/preprocessors.py) op for op; the shuffle is seqio's
`stateless_shuffle` (argsort of stateless uniforms). Example, with sentinels
`<X> = vocabulary_size - 1`, `<Y> = vocabulary_size - 2`, ...:

    original: Thank you for inviting me to your party last week .
    inputs:   Thank you <X> me to your party <Y>
    targets:  <X> for inviting <Y> last week .

(T5's mask always ends with a noise span, so with T5's code the paper's
trailing `<Z>` appears only when a sequence is cut after masking.)

Inputs and targets together give back the original exactly (tested).
"""

import tensorflow as tf

from kerasnlp_lite.data.seeds import as_token_ids, make_seed
from kerasnlp_lite.utils.validation import (
    check_fraction, check_id, check_positive_int, checked_in_range, is_int, is_number,
)


def _stateless_shuffle(value, seed):
    # seqio.utils.stateless_shuffle: a permutation from argsort of uniforms.
    indices = tf.argsort(tf.random.stateless_uniform(tf.shape(value), seed=seed))
    return tf.gather(value, indices)


def random_spans_noise_mask(length, seed, noise_density=0.15, mean_noise_span_length=3.0):
    """T5's noise mask: alternating non-noise / noise spans, starting with non-noise.

    `num_noise_tokens = round(length * noise_density)` (clipped to
    `[1, length - 1]`) and `num_noise_spans = max(1, round(num_noise_tokens /
    mean_noise_span_length))`, then both token counts are split into that many
    non-empty spans uniformly at random (T5's `_random_segmentation`).

    Args:
        length: int or int32 scalar tensor.
        seed: int or int tensor `[2]`; split in two as T5 uses `seeds[0]` for
            the noise spans and `seeds[1]` for the non-noise spans.
        noise_density: fraction of noise tokens, in (0, 1).
        mean_noise_span_length: mean noise span length, > 0.

    Returns:
        bool `[length]`, True at noise tokens.
    """
    noise_density = check_fraction(noise_density, "noise_density", low_open=True, high_open=True)
    _check_positive_float(mean_noise_span_length, "mean_noise_span_length")
    seeds = tf.random.experimental.stateless_split(make_seed(seed), 2)
    return _random_spans_noise_mask(_checked_length(length), noise_density, seeds, mean_noise_span_length)


def _checked_length(length):
    # A negative length would silently give a 1-token mask (T5 pads short lengths to 2, then slices).
    if is_int(length):
        check_positive_int(length, "length", minimum=0)
    length = tf.convert_to_tensor(length)
    if not length.dtype.is_integer or length.shape.rank not in (0, None):
        raise TypeError(f"`length` must be an int scalar >= 0, got dtype {length.dtype.name} shape {length.shape}.")
    length = tf.cast(length, tf.int32)
    if tf.executing_eagerly():
        if int(length) < 0:
            raise ValueError(f"`length` must be an int >= 0, got {int(length)}.")
        return length
    with tf.control_dependencies([tf.debugging.assert_non_negative(length, message="`length` must be an int >= 0")]):
        return tf.identity(length)


def _random_spans_noise_mask(length, noise_density, seeds, mean_noise_span_length):
    orig_length = length
    length = tf.maximum(length, 2)  # T5: avoid degeneracy
    num_noise_tokens = tf.cast(tf.round(tf.cast(length, tf.float32) * noise_density), tf.int32)
    num_noise_tokens = tf.minimum(tf.maximum(num_noise_tokens, 1), length - 1)
    num_noise_spans = tf.cast(tf.round(tf.cast(num_noise_tokens, tf.float32) / mean_noise_span_length), tf.int32)
    num_noise_spans = tf.maximum(num_noise_spans, 1)
    num_nonnoise_tokens = length - num_noise_tokens

    def random_segmentation(num_items, num_segments, seed):
        # Non-empty segments: shuffle (num_segments - 1) "segment starts" among num_items - 1 slots.
        first_in_segment = tf.pad(
            _stateless_shuffle(tf.cast(tf.range(num_items - 1) < num_segments - 1, tf.int32), seed), [[1, 0]]
        )
        segment_id = tf.cumsum(first_in_segment)
        return tf.math.segment_sum(tf.ones_like(segment_id), segment_id)

    noise_span_lengths = random_segmentation(num_noise_tokens, num_noise_spans, seeds[0])
    nonnoise_span_lengths = random_segmentation(num_nonnoise_tokens, num_noise_spans, seeds[1])
    interleaved = tf.reshape(tf.stack([nonnoise_span_lengths, noise_span_lengths], axis=1), [num_noise_spans * 2])
    span_starts = tf.cumsum(interleaved)[:-1]
    span_start_indicator = tf.math.unsorted_segment_sum(tf.ones_like(span_starts), span_starts, length)
    span_num = tf.cumsum(span_start_indicator)
    return tf.equal(span_num % 2, 1)[:orig_length]


def noise_span_to_unique_sentinel(token_ids, noise_mask, first_sentinel_id):
    """Replaces each run of noise tokens by one sentinel, counting down from `first_sentinel_id`.

    Args:
        token_ids: int `[T]`.
        noise_mask: bool `[T]`, True at noise tokens (as `random_spans_noise_mask` returns).
        first_sentinel_id: the id of the first sentinel.

    Returns:
        int `[None]`, the dtype of `token_ids`.
    """
    token_ids, noise_mask = _check_noise_mask(token_ids, noise_mask)
    previous_is_noise = tf.pad(noise_mask[:-1], [[1, 0]])
    first_noise = noise_mask & tf.logical_not(previous_is_noise)
    subsequent_noise = noise_mask & previous_is_noise
    sentinel = tf.cast(first_sentinel_id, token_ids.dtype) + 1 - tf.cumsum(tf.cast(first_noise, token_ids.dtype))
    token_ids = tf.where(first_noise, sentinel, token_ids)
    return tf.boolean_mask(token_ids, tf.logical_not(subsequent_noise))


def nonnoise_span_to_unique_sentinel(token_ids, noise_mask, first_sentinel_id):
    """Replaces each run of non-noise tokens by one sentinel (T5's targets); arguments as
    `noise_span_to_unique_sentinel`."""
    token_ids, noise_mask = _check_noise_mask(token_ids, noise_mask)
    return noise_span_to_unique_sentinel(token_ids, tf.logical_not(noise_mask), first_sentinel_id)


def _check_noise_mask(token_ids, noise_mask):
    # Bool only, as T5: an int mask is ambiguous (0/1 flags, or token ids passed by mistake), and
    # a mask of another length would fail deep inside tf.where.
    token_ids = tf.convert_to_tensor(token_ids)
    noise_mask = tf.convert_to_tensor(noise_mask)
    if noise_mask.dtype != tf.bool:
        raise TypeError(f"`noise_mask` must be a bool [sequence_length] mask, got dtype {noise_mask.dtype.name}.")
    if noise_mask.shape.rank not in (1, None) or not noise_mask.shape.is_compatible_with(token_ids.shape):
        raise ValueError(
            f"`noise_mask` must have the shape of `token_ids` {token_ids.shape} ([sequence_length]), "
            f"got {noise_mask.shape}."
        )
    return token_ids, noise_mask


def span_corruption(
    token_ids,
    seed,
    vocabulary_size=None,
    first_sentinel_id=None,
    num_sentinels=100,
    noise_density=0.15,
    mean_noise_span_length=3.0,
    end_token_id=None,
):
    """T5's span-corruption objective on one sequence.

    Args:
        token_ids: int `[T]`, one example (map over a dataset of examples;
            output lengths differ per example).
        seed: int or int tensor `[2]`.
        vocabulary_size: int; T5's default sentinel `<extra_id_0>` is
            `vocabulary_size - 1`.
        first_sentinel_id: the id of `<extra_id_0>` (overrides the default);
            span k gets `first_sentinel_id - k`.
        num_sentinels: number of sentinel ids (T5: 100 extra ids). An
            example with more noise spans fails (InvalidArgumentError)
            rather than using real tokens as sentinels.
        noise_density: 0.15 in T5.
        mean_noise_span_length: 3.0 in T5.
        end_token_id: optional; if given, a trailing `end_token_id` of the input is kept
            out of the noise and `end_token_id` is appended to both inputs and
            targets (as seqio appends EOS after the preprocessors).

    Returns:
        dict with `inputs` and `targets`, int `[None]`, the dtype of `token_ids`.
    """
    if vocabulary_size is None and first_sentinel_id is None:
        raise ValueError("Give `vocabulary_size` (T5 sentinels count down from `vocabulary_size - 1`) or `first_sentinel_id`.")
    if vocabulary_size is not None:
        check_positive_int(vocabulary_size, "vocabulary_size")
    if first_sentinel_id is None:
        first_sentinel_id = vocabulary_size - 1
    check_id(first_sentinel_id, "first_sentinel_id", vocabulary_size)
    check_positive_int(num_sentinels, "num_sentinels")
    if num_sentinels > first_sentinel_id + 1:
        raise ValueError(f"`num_sentinels`={num_sentinels} exceeds the ids below `first_sentinel_id`={first_sentinel_id}.")
    end_token_id = check_id(end_token_id, "end_token_id", vocabulary_size, allow_none=True)
    noise_density = check_fraction(noise_density, "noise_density", low_open=True, high_open=True)
    _check_positive_float(mean_noise_span_length, "mean_noise_span_length")
    seeds = tf.random.experimental.stateless_split(make_seed(seed), 2)
    token_ids = as_token_ids(token_ids, ranks=(1,))
    if vocabulary_size is not None:
        # An id past the vocabulary (or among the sentinels' range above it) would pass into the targets.
        token_ids = checked_in_range(token_ids, vocabulary_size, "token_ids", "token ids", "vocabulary_size")

    if end_token_id is not None:
        ends_with_eos = tf.reduce_any(tf.equal(token_ids[-1:], tf.cast(end_token_id, token_ids.dtype)))
        token_ids = token_ids[: tf.size(token_ids) - tf.cast(ends_with_eos, tf.int32)]
    noise_mask = _random_spans_noise_mask(tf.size(token_ids), noise_density, seeds, mean_noise_span_length)
    # Sentinels used: one per noise span (inputs), one per non-noise span (targets).
    starts = tf.not_equal(noise_mask, tf.pad(noise_mask[:-1], [[1, 0]], constant_values=False))
    starts = starts | tf.equal(tf.range(tf.size(noise_mask)), 0)
    num_spans = tf.reduce_sum(tf.cast(starts & noise_mask, tf.int32))
    num_other = tf.reduce_sum(tf.cast(starts & tf.logical_not(noise_mask), tf.int32))
    check = tf.debugging.assert_less_equal(
        tf.maximum(num_spans, num_other), num_sentinels, message="span_corruption: more spans than `num_sentinels`"
    )
    with tf.control_dependencies([check]):
        inputs = noise_span_to_unique_sentinel(token_ids, noise_mask, first_sentinel_id)
        targets = nonnoise_span_to_unique_sentinel(token_ids, noise_mask, first_sentinel_id)
    if end_token_id is not None:
        eos = tf.constant([end_token_id], token_ids.dtype)
        inputs = tf.concat([inputs, eos], 0)
        targets = tf.concat([targets, eos], 0)
    return {"inputs": inputs, "targets": targets}


def _check_positive_float(value, name):
    if not is_number(value):
        raise TypeError(f"`{name}` must be a positive float, got {value!r}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0, got {value}.")
