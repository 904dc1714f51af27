"""Masked language modelling (BERT), static or dynamic, optionally whole-word.

Shape legend: B = batch, T = sequence length, M = `max_selections`.

Selection follows BERT's `create_pretraining_data.py` (Devlin et al. 2019,
section 3.1 and appendix A.1): in each sequence exactly
`num_to_select = min(max(1, round(selection_rate * n)), max_selections)`
tokens are chosen uniformly at random among its `n` selectable tokens
(BERT rounds the same way and also selects at least one). Every selected
token is then replaced by `[MASK]` with probability `mask_rate` (0.8), by a
token drawn uniformly from `[0, vocabulary_size)` with probability
`random_rate` (0.1, BERT draws from the whole vocabulary too), and left
unchanged otherwise (0.1).

`max_selections` caps the count (BERT's `max_predictions_per_seq`, 20 at
T = 128): the cap is applied *before* choosing, so no selected token is ever
dropped from the labels; when it binds, fewer than `selection_rate` of the
tokens of that sequence are selected. Pick `max_selections >=
round(selection_rate * T)` to keep the rate exact.

Static masking (BERT) uses one seed per example for all epochs; dynamic
masking (RoBERTa, Liu et al. 2019, section 4.1) folds the epoch into the
seed, see `masked_lm_dataset` and `kerasnlp_lite.data.seeds.example_seed`.
"""

import tensorflow as tf

from kerasnlp_lite.data.seeds import as_token_ids, example_seed, make_seed
from kerasnlp_lite.utils.validation import (
    check_fraction, check_id, check_ids, check_positive_int, checked_in_range, is_int,
)


def random_selection(candidates, seed, rate, max_selections=None, group_starts=None, min_one=True):
    """Chooses `min(max(1, round(rate * n)), max_selections)` candidate tokens per row.

    Args:
        candidates: bool `[B, T]`, True where a token may be selected.
        seed: int64 `[2]` seed.
        rate: Python float, the fraction of candidates to select.
        max_selections: optional int cap on the count per row.
        group_starts: optional bool `[B, T]`, True at the first piece of each
            word; a word is selected whole or not at all. Words are taken in
            a random order while the running count of pieces stays
            <= `num_to_select`, so a row never gets more than its count (it
            can get fewer when the next word would overshoot).
        min_one: select at least one token in a row that has candidates.

    Returns:
        bool `[B, T]`, the selected tokens.
    """
    candidates = tf.cast(candidates, tf.bool)
    shape = tf.shape(candidates)
    batch, length = shape[0], shape[1]
    n = tf.reduce_sum(tf.cast(candidates, tf.int32), axis=1)  # [B]
    count = tf.cast(tf.round(tf.cast(n, tf.float32) * rate), tf.int32)
    if min_one:
        count = tf.where(n > 0, tf.maximum(count, 1), 0)
    if max_selections is not None:
        count = tf.minimum(count, max_selections)

    # Groups: a whole word of candidate pieces, or one non-candidate token.
    # A new group starts at each word start, at each non-candidate token and
    # right after one, so a word never reaches across [CLS]/[SEP]/padding.
    previous_is_candidate = tf.pad(candidates[:, :-1], [[0, 0], [1, 0]])
    starts = tf.logical_not(candidates) | tf.logical_not(previous_is_candidate)
    if group_starts is None:
        starts = tf.ones_like(candidates)  # every token is its own group
    else:
        starts = starts | tf.cast(group_starts, tf.bool)
    group_id = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1  # [B, T], values in [0, T)
    flat_group = group_id + tf.range(batch)[:, None] * length
    group_size = tf.reshape(
        tf.math.unsorted_segment_sum(tf.cast(candidates, tf.int32), flat_group, batch * length),
        [batch, length],
    )  # [B, T]: candidate pieces per group (0 for non-candidate or unused groups)

    # A random order of the groups: uniform priorities, non-candidates last.
    priority = tf.random.stateless_uniform([batch, length], seed=seed)
    priority = tf.where(group_size > 0, priority, 2.0)
    order = tf.argsort(priority, axis=1, stable=True)  # [B, T]
    sorted_size = tf.gather(group_size, order, batch_dims=1)
    take_sorted = (tf.cumsum(sorted_size, axis=1) <= count[:, None]) & (sorted_size > 0)
    rank = tf.argsort(order, axis=1, stable=True)  # inverse permutation
    take_group = tf.gather(take_sorted, rank, batch_dims=1)  # [B, T] per group id
    return tf.gather(take_group, group_id, batch_dims=1) & candidates


def _to_dense(token_ids, padding_mask, word_starts):
    """Ragged `[B, None]` -> dense `[B, T]` plus a padding mask; returns row lengths."""
    row_lengths = token_ids.row_lengths()
    dense = token_ids.to_tensor()
    real = tf.sequence_mask(row_lengths, tf.shape(dense)[1])
    if padding_mask is not None:
        if isinstance(padding_mask, tf.RaggedTensor):
            padding_mask = tf.cast(padding_mask, tf.bool).to_tensor(False)
        real = real & tf.cast(padding_mask, tf.bool)
    if isinstance(word_starts, tf.RaggedTensor):
        word_starts = tf.cast(word_starts, tf.bool).to_tensor(False)
    return dense, real, word_starts, row_lengths


def mask_language_model(
    token_ids,
    vocabulary_size,
    mask_token_id,
    seed,
    selection_rate=0.15,
    mask_rate=0.8,
    random_rate=0.1,
    unselectable_ids=(),
    padding_mask=None,
    max_selections=None,
    word_starts=None,
    output="positions",
):
    """BERT's masked-LM corruption of token ids (TF ops only, runs in `Dataset.map`).

    Args:
        token_ids: int `[T]`, `[B, T]` or a ragged `[B, None]` batch.
        vocabulary_size: int, random replacements are drawn from `[0, vocabulary_size)`.
        mask_token_id: int, the `[MASK]` id.
        seed: int or int tensor `[2]` (see `example_seed` for per-example
            and per-epoch seeds). A batch is masked with one seed, so the
            mask of a row depends on the batch it is in; map over single
            examples for masks that do not depend on batching.
        selection_rate: fraction of selectable tokens to predict, in (0, 1].
        mask_rate: fraction of selected tokens replaced by `[MASK]`.
        random_rate: fraction replaced by a random id; the rest,
            `1 - mask_rate - random_rate`, stay unchanged.
        unselectable_ids: ids never selected, e.g. `[CLS]`, `[SEP]`, `[PAD]`.
            Nothing is excluded by default: pass your special ids.
        padding_mask: optional bool/int, same shape as `token_ids`, nonzero
            at real tokens; padding is never selected.
        max_selections: int cap on selections per sequence (see the module
            docstring). With `output="positions"` it is the padded length of
            the outputs `M`, default: the static `T`.
        word_starts: optional bool, same shape as `token_ids`, True at the
            first piece of each word (e.g. tokens not starting with `##`):
            whole-word masking selects every piece of a word or none.
        output: `"positions"` or `"dense"`.

    Returns:
        A dict. Always `token_ids`: the corrupted ids, same shape and type as
        the input. With `output="positions"`: `mask_positions` int32
        `[B, M]` (ascending, padded with 0), `mask_ids` (the original ids at
        those positions, 0 in padding) and `mask_weights` float32 `[B, M]`
        (1.0 for a real prediction). With `output="dense"`: `labels` (the
        original ids, same shape as `token_ids`) and `sample_weights`
        float32 (1.0 at selected tokens, else 0). A 1-D input gives 1-D
        `[M]` / `[T]` outputs; a ragged input gives ragged `token_ids`,
        `labels`, `sample_weights` and dense positions.

    Example:
    ```python
    out = mask_language_model(ids, vocabulary_size=30522, mask_token_id=103,
                              seed=0, unselectable_ids=(0, 101, 102),
                              max_selections=20)
    ```

    Reference: Devlin et al. 2019, "BERT", section 3.1 (15%, 80/10/10).
    """
    vocabulary_size = _check_vocabulary_size(vocabulary_size)
    mask_token_id = check_id(mask_token_id, "mask_token_id", vocabulary_size)
    unselectable_ids = check_ids(unselectable_ids, "unselectable_ids")
    selection_rate = check_fraction(selection_rate, "selection_rate", low_open=True)
    mask_rate = check_fraction(mask_rate, "mask_rate")
    random_rate = check_fraction(random_rate, "random_rate")
    if mask_rate + random_rate > 1.0 + 1e-9:
        raise ValueError(f"`mask_rate + random_rate` must be <= 1, got {mask_rate} + {random_rate}.")
    if output not in ("positions", "dense"):
        raise ValueError(f'`output` must be "positions" or "dense", got {output!r}.')
    check_positive_int(max_selections, "max_selections", allow_none=True)
    seed = make_seed(seed)
    token_ids = as_token_ids(token_ids, allow_ragged=True)
    # An id past the vocabulary would be kept as a label and fail (or read garbage) only in training.
    token_ids = checked_in_range(token_ids, vocabulary_size, "token_ids", "token ids", "vocabulary_size")

    ragged = isinstance(token_ids, tf.RaggedTensor)
    if ragged:
        if token_ids.ragged_rank != 1 or token_ids.shape.rank != 2:
            raise ValueError(f"A ragged `token_ids` must have shape [batch, None], got {token_ids.shape}.")
        if output == "positions" and max_selections is None:
            raise ValueError('`max_selections` is required for a ragged `token_ids` with output="positions".')
        ids, real, word_starts, row_lengths = _to_dense(token_ids, padding_mask, word_starts)
    else:
        ids = token_ids
        real = None if padding_mask is None else tf.cast(padding_mask, tf.bool)
        for value, name in ((padding_mask, "padding_mask"), (word_starts, "word_starts")):
            shape = None if value is None else tf.convert_to_tensor(value).shape
            if shape is not None and (shape.rank != ids.shape.rank or not shape.is_compatible_with(ids.shape)):
                raise ValueError(f"`{name}` must have the shape of `token_ids` {ids.shape}, got {shape}.")
    squeeze = ids.shape.rank == 1
    if squeeze:
        ids = ids[None]
        real = None if real is None else real[None]
        word_starts = None if word_starts is None else tf.convert_to_tensor(word_starts)[None]
    if output == "positions" and max_selections is None:
        max_selections = ids.shape[1]
        if max_selections is None or max_selections == 0:
            raise ValueError('`max_selections` is required with output="positions" when the sequence length is not static.')

    candidates = tf.ones_like(ids, tf.bool) if real is None else real
    for special in unselectable_ids:
        candidates = candidates & tf.not_equal(ids, tf.cast(special, ids.dtype))
    select_seed, action_seed, random_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    selected = random_selection(candidates, select_seed, selection_rate, max_selections, word_starts)

    # 80% [MASK] / 10% random / 10% unchanged, drawn per selected token as in BERT.
    action = tf.random.stateless_uniform(tf.shape(ids), seed=action_seed)
    use_mask = selected & (action < mask_rate)
    use_random = selected & (action >= mask_rate) & (action < mask_rate + random_rate)
    random_ids = tf.random.stateless_uniform(
        tf.shape(ids), seed=random_seed, minval=0, maxval=vocabulary_size, dtype=tf.int64
    )
    corrupted = tf.where(use_mask, tf.cast(mask_token_id, ids.dtype), ids)
    corrupted = tf.where(use_random, tf.cast(random_ids, ids.dtype), corrupted)
    weights = tf.cast(selected, tf.float32)

    if output == "dense":
        outputs = {"token_ids": corrupted, "labels": ids, "sample_weights": weights}
    else:
        length = tf.shape(ids)[1]
        positions = tf.range(length)[None, :] + tf.zeros_like(selected, tf.int32)
        # Selected positions sort first (ascending), the rest after 2T; pad by M so T < M works.
        key = tf.where(selected, positions, positions + 2 * length)
        key = tf.pad(key, [[0, 0], [0, max_selections]], constant_values=3 * length + 1)
        key = tf.sort(key, axis=1)[:, :max_selections]  # [B, M]
        is_real = key < length
        mask_positions = tf.where(is_real, key, 0)
        mask_ids = tf.where(is_real, tf.gather(ids, mask_positions, batch_dims=1), tf.zeros_like(key, ids.dtype))
        outputs = {
            "token_ids": corrupted,
            "mask_positions": mask_positions,
            "mask_ids": mask_ids,
            "mask_weights": tf.cast(is_real, tf.float32),
        }
    if squeeze:
        outputs = {key: value[0] for key, value in outputs.items()}
    if ragged:
        for key in ("token_ids", "labels", "sample_weights"):
            if key in outputs:
                outputs[key] = tf.RaggedTensor.from_tensor(outputs[key], lengths=row_lengths)
    return outputs


def masked_lm_dataset(
    dataset,
    vocabulary_size,
    mask_token_id,
    seed,
    dynamic=True,
    num_epochs=1,
    first_epoch=0,
    num_parallel_calls=tf.data.AUTOTUNE,
    **mask_kwargs,
):
    """Masks every element of `dataset`, with a new mask each epoch if `dynamic`.

    The returned dataset runs `num_epochs` passes over `dataset` (do not
    `repeat()` it again). Example `i` of epoch `e` is masked with
    `example_seed(seed, i, e)` when `dynamic` (RoBERTa's dynamic masking) and
    with `example_seed(seed, i, 0)` in every epoch otherwise (BERT's static
    masking, the same mask each pass). Masks depend only on `(seed, i, e)`, so
    the order of a parallel map and a restart from `first_epoch` (e.g. the
    epoch restored by `BackupAndRestore`) give identical examples.

    Args:
        dataset: elements are token ids (`[T]` or a batch `[B, T]`) or dicts
            with `token_ids` and optional `padding_mask` and `word_starts`;
            other keys are passed through unchanged.
        vocabulary_size, mask_token_id: as `mask_language_model`.
        seed: the base seed, an int.
        dynamic: re-mask every epoch (True) or mask once (False).
        num_epochs: passes to produce; None repeats forever.
        first_epoch: epoch number of the first pass.
        num_parallel_calls: for `Dataset.map` (results do not depend on it).
        **mask_kwargs: the other arguments of `mask_language_model`.

    Returns:
        A `tf.data.Dataset` of dicts: the outputs of `mask_language_model`
        plus the passed-through keys.
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"`dataset` must be a tf.data.Dataset, got {type(dataset).__name__}.")
    check_positive_int(num_epochs, "num_epochs", allow_none=True)
    check_positive_int(first_epoch, "first_epoch", minimum=0)
    if not is_int(seed):
        raise TypeError(f"`seed` must be an int, got {seed!r}.")
    for reserved in ("token_ids", "padding_mask", "word_starts"):
        if reserved in mask_kwargs:
            raise TypeError(f"`{reserved}` comes from the dataset elements, not from keyword arguments.")
    # Check the arguments once, eagerly, so a mistake fails here and not inside the map.
    spec = dataset.element_spec
    ids_spec = spec["token_ids"] if isinstance(spec, dict) else spec
    if not isinstance(ids_spec, tf.TensorSpec) or not ids_spec.dtype.is_integer:
        raise TypeError(f"`dataset` elements must be integer token ids or dicts with `token_ids`, got {spec}.")
    mask_language_model(
        tf.zeros([1] * ids_spec.shape.rank, ids_spec.dtype), vocabulary_size, mask_token_id, seed,
        **{**mask_kwargs, "max_selections": mask_kwargs.get("max_selections") or 1},
    )

    def mask_one(epoch, index, element):
        features = dict(element) if isinstance(element, dict) else {"token_ids": element}
        ids = features.pop("token_ids")
        word_starts = features.pop("word_starts", None)
        out = mask_language_model(
            ids,
            vocabulary_size,
            mask_token_id,
            example_seed(seed, index, epoch if dynamic else 0),
            padding_mask=features.get("padding_mask"),
            word_starts=word_starts,
            **mask_kwargs,
        )
        return {**features, **out}

    last = 2**62 if num_epochs is None else first_epoch + num_epochs
    epochs = tf.data.Dataset.range(first_epoch, last)
    passes = epochs.flat_map(lambda epoch: dataset.enumerate().map(lambda index, x: (epoch, index, x)))
    return passes.map(mask_one, num_parallel_calls=num_parallel_calls, deterministic=True)


def _check_vocabulary_size(vocabulary_size):
    check_positive_int(vocabulary_size, "vocabulary_size")
    return vocabulary_size
