"""BART's noising functions (Lewis et al. 2020, section 2.2), each ids in -> ids out.

They compose freely; BART's best setting is sentence permutation followed by
text infilling (fairseq's `DenoisingDataset` order: permute sentences, mask /
infill, rotate):

```python
ids = sentence_permutation(ids, seed=s1, sentence_end_id=dot_id, start_token_id=0, end_token_id=2)
ids = text_infilling(ids, mask_token_id=mask_id, seed=s2, start_token_id=0, end_token_id=2)
```

All take one example, int `[T]` (use them in `Dataset.map` before batching);
`token_masking` also takes a dense `[B, T]` or ragged `[B, None]` batch and
`token_deletion` a ragged batch. A leading `start_token_id` and a trailing `end_token_id`,
when given and present, stay in place and are never noised. Counts are exact
per example: `round(ratio * n)` of the `n` noisable tokens.
"""

import tensorflow as tf

from kerasnlp_lite.data.masking import random_selection
from kerasnlp_lite.data.seeds import as_token_ids, make_seed
from kerasnlp_lite.utils.validation import check_fraction, check_id, check_ids, check_positive_int, is_int, is_number


def _split_ends(token_ids, start_token_id, end_token_id):
    """Splits `[T]` ids into (head, body, tail): a leading BOS and a trailing EOS stay out of the noise."""
    size = tf.size(token_ids)
    start = tf.constant(0, tf.int32)
    end = size
    if start_token_id is not None:
        start = tf.cast(tf.reduce_any(tf.equal(token_ids[:1], tf.cast(start_token_id, token_ids.dtype))), tf.int32)
    if end_token_id is not None:
        has_eos = tf.reduce_any(tf.equal(token_ids[-1:], tf.cast(end_token_id, token_ids.dtype))) & (size > start)
        end = size - tf.cast(has_eos, tf.int32)
    return token_ids[:start], token_ids[start:end], token_ids[end:]


def _end_candidates(dense, real, start_token_id, end_token_id, unselectable_ids):
    """Noisable tokens of a `[B, T]` batch: real, not special, not a leading BOS / trailing EOS."""
    candidates = real
    for special in unselectable_ids:
        candidates = candidates & tf.not_equal(dense, tf.cast(special, dense.dtype))
    positions = tf.range(tf.shape(dense)[1])[None, :]
    if start_token_id is not None:
        candidates = candidates & ~((positions == 0) & tf.equal(dense, tf.cast(start_token_id, dense.dtype)))
    if end_token_id is not None:
        last = tf.reduce_sum(tf.cast(real, tf.int32), axis=1, keepdims=True) - 1
        candidates = candidates & ~((positions == last) & tf.equal(dense, tf.cast(end_token_id, dense.dtype)))
    return candidates


def _select_tokens(token_ids, seed, ratio, start_token_id, end_token_id, unselectable_ids):
    """Exact-count random token selection on `[T]`, `[B, T]` or ragged; returns (dense, selected, lengths)."""
    if isinstance(token_ids, tf.RaggedTensor):
        lengths = token_ids.row_lengths()
        dense = token_ids.to_tensor()
        real = tf.sequence_mask(lengths, tf.shape(dense)[1])
    else:
        lengths = None
        dense = token_ids if token_ids.shape.rank == 2 else token_ids[None]
        real = tf.ones_like(dense, tf.bool)
    candidates = _end_candidates(dense, real, start_token_id, end_token_id, unselectable_ids)
    selected = random_selection(candidates, seed, ratio, min_one=False)
    return dense, selected, lengths


def token_masking(token_ids, mask_token_id, seed, mask_ratio=0.15, start_token_id=None, end_token_id=None, unselectable_ids=()):
    """Replaces `round(mask_ratio * n)` random tokens by `mask_token_id`.

    BART's token masking "following BERT"; BART gives no rate, so the default
    is BERT's 15%.

    Args:
        token_ids: int `[T]`, `[B, T]` or ragged `[B, None]`.
        mask_token_id: int.
        seed: int or int tensor `[2]`.
        mask_ratio: fraction of noisable tokens to mask, in [0, 1].
        start_token_id, end_token_id: optional ids kept in place at the ends.
        unselectable_ids: ids never masked (e.g. padding in a dense batch).

    Returns:
        Ids of the same shape and type.
    """
    mask_token_id = check_id(mask_token_id, "mask_token_id")
    mask_ratio = check_fraction(mask_ratio, "mask_ratio")
    start_token_id, end_token_id, unselectable_ids = _check_specials(start_token_id, end_token_id, unselectable_ids)
    seed = make_seed(seed)
    token_ids = as_token_ids(token_ids, allow_ragged=True)
    dense, selected, lengths = _select_tokens(token_ids, seed, mask_ratio, start_token_id, end_token_id, unselectable_ids)
    masked = tf.where(selected, tf.cast(mask_token_id, dense.dtype), dense)
    if lengths is not None:
        return tf.RaggedTensor.from_tensor(masked, lengths=lengths)
    return masked if token_ids.shape.rank == 2 else masked[0]


def token_deletion(token_ids, seed, deletion_ratio=0.15, start_token_id=None, end_token_id=None, unselectable_ids=()):
    """Deletes `round(deletion_ratio * n)` random tokens (BART token deletion).

    Args:
        token_ids: int `[T]` or ragged `[B, None]` (rows shrink by different amounts).
        seed: int or int tensor `[2]`.
        deletion_ratio: fraction of noisable tokens to delete, in [0, 1].
        start_token_id, end_token_id, unselectable_ids: as `token_masking`; never deleted.

    Returns:
        int `[T - round(deletion_ratio * n)]`, or a ragged batch.
    """
    deletion_ratio = check_fraction(deletion_ratio, "deletion_ratio")
    start_token_id, end_token_id, unselectable_ids = _check_specials(start_token_id, end_token_id, unselectable_ids)
    seed = make_seed(seed)
    token_ids = as_token_ids(token_ids, ranks=(1, 2), allow_ragged=True)
    if token_ids.shape.rank == 2 and not isinstance(token_ids, tf.RaggedTensor):
        raise ValueError(
            f"`token_ids` must have shape [sequence_length] or be a ragged [batch, None] batch (rows lose "
            f"different numbers of tokens), got a dense {token_ids.shape}."
        )
    dense, selected, lengths = _select_tokens(token_ids, seed, deletion_ratio, start_token_id, end_token_id, unselectable_ids)
    if lengths is not None:
        keep = tf.RaggedTensor.from_tensor(tf.logical_not(selected), lengths=lengths)
        return tf.ragged.boolean_mask(token_ids, keep)
    return tf.boolean_mask(token_ids, tf.logical_not(selected[0]))


def _checked_count(value, name):
    """An int32 scalar >= 0 (a Python int or a tensor); negative fails naming `name`, in a graph too."""
    if is_int(value):
        check_positive_int(value, name, minimum=0)
    value = tf.convert_to_tensor(value)
    if not value.dtype.is_integer or value.shape.rank not in (0, None):
        raise TypeError(f"`{name}` must be an int scalar >= 0, got dtype {value.dtype.name} shape {value.shape}.")
    value = tf.cast(value, tf.int32)
    if tf.executing_eagerly():
        if int(value) < 0:
            raise ValueError(f"`{name}` must be an int >= 0, got {int(value)}.")
        return value
    with tf.control_dependencies([tf.debugging.assert_non_negative(value, message=f"`{name}` must be an int >= 0")]):
        return tf.identity(value)


def poisson_span_lengths(num_to_mask, seed, poisson_lambda=3.0, max_spans=None):
    """Span lengths ~ Poisson(`poisson_lambda`) until they cover `num_to_mask` tokens.

    As fairseq's `add_whole_word_mask`: draw lengths while their sum is below
    `num_to_mask`, then trim the last one so the sum is exactly
    `num_to_mask`. Zero lengths are kept (each becomes an inserted mask).

    Args:
        num_to_mask: int32 scalar.
        seed: int64 `[2]`.
        poisson_lambda: the Poisson mean, 3 in BART.
        max_spans: number of draws (default `num_to_mask + 1`). If they all
            sum below `num_to_mask` (probability `< exp(-lambda)^max_spans`),
            fewer tokens are masked.

    Returns:
        int32 `[num_spans]` and the untrimmed draws `[max_spans]`.
    """
    if not is_number(poisson_lambda) or poisson_lambda <= 0:
        raise ValueError(f"`poisson_lambda` must be a float > 0, got {poisson_lambda!r}.")
    num_to_mask = _checked_count(num_to_mask, "num_to_mask")
    if max_spans is None:
        max_spans = num_to_mask + 1
    draws = tf.random.stateless_poisson([max_spans], seed=seed, lam=poisson_lambda, dtype=tf.int32)
    previous = tf.cumsum(draws, exclusive=True)
    num_spans = tf.reduce_sum(tf.cast(previous < num_to_mask, tf.int32))
    lengths = tf.minimum(draws, tf.maximum(num_to_mask - previous, 0))[:num_spans]
    return lengths, draws


def text_infilling(
    token_ids,
    mask_token_id,
    seed,
    mask_ratio=0.3,
    poisson_lambda=3.0,
    start_token_id=None,
    end_token_id=None,
    return_span_lengths=False,
):
    """BART text infilling: spans of Poisson(3) length, each replaced by ONE mask.

    `round(mask_ratio * n)` tokens are masked in total (BART masks 30%).
    Span lengths come from `poisson_span_lengths`; a zero-length span inserts
    a mask. The spans are placed uniformly at random without overlap: each
    span picks one of the `U + 1` gaps around the `U` kept tokens (several
    spans in one gap follow each other), so every masked token belongs to
    exactly one span and the masked fraction is exact.

    Args:
        token_ids: int `[T]`.
        mask_token_id: int.
        seed: int or int tensor `[2]`.
        mask_ratio: fraction of tokens to mask, in [0, 1].
        poisson_lambda: mean span length, > 0 (3 in BART).
        start_token_id, end_token_id: optional ids kept at the ends.
        return_span_lengths: also return the span lengths, int32 `[num_spans]`.

    Returns:
        int `[U + num_spans]` ids (plus the span lengths if asked).

    Reference: Lewis et al. 2020, "BART", section 2.2; SpanBERT (Joshi et al.
    2020) for Poisson span lengths.
    """
    mask_token_id = check_id(mask_token_id, "mask_token_id")
    mask_ratio = check_fraction(mask_ratio, "mask_ratio")
    if not is_number(poisson_lambda) or poisson_lambda <= 0:
        raise ValueError(f"`poisson_lambda` must be a float > 0, got {poisson_lambda!r}.")
    start_token_id, end_token_id, _ = _check_specials(start_token_id, end_token_id, ())
    length_seed, gap_seed = tf.unstack(tf.random.experimental.stateless_split(make_seed(seed), 2))
    token_ids = as_token_ids(token_ids, ranks=(1,))
    head, body, tail = _split_ends(token_ids, start_token_id, end_token_id)

    n = tf.size(body)
    num_to_mask = tf.cast(tf.round(tf.cast(n, tf.float32) * mask_ratio), tf.int32)
    lengths, _ = poisson_span_lengths(num_to_mask, length_seed, float(poisson_lambda))
    num_spans = tf.size(lengths)
    kept = n - tf.reduce_sum(lengths)  # U
    # Each span goes into one of the U + 1 gaps; sort spans by gap (stable keeps draw order).
    gaps = tf.random.stateless_uniform([num_spans], seed=gap_seed, minval=0, maxval=kept + 1, dtype=tf.int32)
    order = tf.argsort(gaps, stable=True)
    gaps = tf.gather(gaps, order)
    sorted_lengths = tf.gather(lengths, order)
    masked_before = tf.concat([[0], tf.cumsum(sorted_lengths)], 0)  # [num_spans + 1]

    k = tf.range(kept)  # kept token k
    spans_before = tf.searchsorted(gaps, k, side="right")  # spans in gaps 0..k
    source = k + tf.gather(masked_before, spans_before)  # its index in `body`
    kept_out = k + spans_before  # its index in the output
    span_out = gaps + tf.range(num_spans)  # output index of each span's mask
    out_length = kept + num_spans
    infilled = tf.scatter_nd(
        tf.concat([kept_out, span_out], 0)[:, None],
        tf.concat([tf.gather(body, source), tf.fill([num_spans], tf.cast(mask_token_id, body.dtype))], 0),
        [out_length],
    )
    result = tf.concat([head, infilled, tail], 0)
    if return_span_lengths:
        return result, lengths
    return result


def sentence_permutation(token_ids, seed, sentence_end_id=None, sentence_ends=None, start_token_id=None, end_token_id=None):
    """Shuffles the sentences of a document (BART sentence permutation).

    Sentence boundaries come from `sentence_end_id` (a token that ends a
    sentence, e.g. the id of ".", kept with its sentence) or from
    `sentence_ends` (bool `[T]`, True at the last token of each sentence).
    Tokens after the last end form a final sentence. Each sentence keeps
    its tokens in order; the multiset of sentences is preserved.

    Args:
        token_ids: int `[T]`.
        seed: int or int tensor `[2]`.
        sentence_end_id, sentence_ends: exactly one of them.
        start_token_id, end_token_id: optional ids kept at the ends.

    Returns:
        int `[T]`.
    """
    if (sentence_end_id is None) == (sentence_ends is None):
        raise ValueError("Give exactly one of `sentence_end_id` and `sentence_ends` (the sentence boundaries).")
    sentence_end_id = check_id(sentence_end_id, "sentence_end_id", allow_none=True)
    start_token_id, end_token_id, _ = _check_specials(start_token_id, end_token_id, ())
    seed = make_seed(seed)
    token_ids = as_token_ids(token_ids, ranks=(1,))
    head, body, tail = _split_ends(token_ids, start_token_id, end_token_id)
    if sentence_end_id is not None:
        ends = tf.equal(body, tf.cast(sentence_end_id, body.dtype))
    else:
        sentence_ends = tf.convert_to_tensor(sentence_ends)
        if sentence_ends.shape.rank != 1:
            raise ValueError(f"`sentence_ends` must have shape [sequence_length], got {sentence_ends.shape}.")
        ends = tf.cast(sentence_ends, tf.bool)[tf.size(head) : tf.size(head) + tf.size(body)]
    n = tf.size(body)
    sentence = tf.cumsum(tf.cast(ends, tf.int32), exclusive=True)  # [n] sentence of each token
    num_sentences = tf.reduce_max(tf.concat([sentence, [-1]], 0)) + 1
    new_rank = tf.argsort(tf.argsort(tf.random.stateless_uniform([num_sentences], seed=seed)))
    key = tf.cast(tf.gather(new_rank, sentence), tf.int64) * tf.cast(n, tf.int64) + tf.range(n, dtype=tf.int64)
    return tf.concat([head, tf.gather(body, tf.argsort(key)), tail], 0)


def document_rotation(token_ids, seed, start_token_id=None, end_token_id=None):
    """Rotates the document to start at a uniformly chosen token (BART document rotation).

    Args:
        token_ids: int `[T]`.
        seed: int or int tensor `[2]`.
        start_token_id: if given and first, stays first. end_token_id: if given and last, stays last.

    Returns:
        int `[T]`.
    """
    start_token_id, end_token_id, _ = _check_specials(start_token_id, end_token_id, ())
    seed = make_seed(seed)
    token_ids = as_token_ids(token_ids, ranks=(1,))
    head, body, tail = _split_ends(token_ids, start_token_id, end_token_id)
    start = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=tf.maximum(tf.size(body), 1), dtype=tf.int32)
    return tf.concat([head, body[start:], body[:start], tail], 0)


def _check_specials(start_token_id, end_token_id, unselectable_ids):
    return (
        check_id(start_token_id, "start_token_id", allow_none=True),
        check_id(end_token_id, "end_token_id", allow_none=True),
        check_ids(unselectable_ids, "unselectable_ids"),
    )
