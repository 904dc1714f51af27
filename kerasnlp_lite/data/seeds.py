"""Seeds for the pretraining objectives: stateless, so `Dataset.map` is deterministic.

Every objective in `kerasnlp_lite.data` draws its randomness from
`tf.random.stateless_*` ops keyed by an explicit seed. A stateless op returns
the same numbers for the same seed whatever the thread, the order in which a
parallel `map` runs its calls, or the process, so a pipeline gives identical
examples run after run.

The seed of one call is an `int` or a shape-`[2]` integer tensor. For
per-example randomness (a different mask for each example and, in dynamic
masking, for each epoch) fold the example index and the epoch into a base seed:

```python
ds = dataset.enumerate().map(
    lambda i, ids: mask_language_model(
        ids, ..., seed=example_seed(1234, i, epoch=epoch)),
    num_parallel_calls=tf.data.AUTOTUNE)
```

This module also holds the small input checks shared by the objectives.
"""

import tensorflow as tf


def make_seed(seed, name="seed"):
    """Returns `seed` as an int64 tensor of shape `[2]` for `tf.random.stateless_*`.

    Args:
        seed: a Python `int` (mapped to `[seed, 0]`), or an integer tensor or
            array of shape `[2]` (used as is).
        name: the argument's name, for error messages.

    Raises:
        TypeError: `seed` is None, a float, a bool or a non-integer tensor.
        ValueError: a tensor seed whose shape is not `[2]`.
    """
    if seed is None:
        raise TypeError(f"`{name}` is required (an int or an int tensor of shape [2]); got None.")
    if isinstance(seed, bool) or isinstance(seed, float):
        raise TypeError(f"`{name}` must be an int or an int tensor of shape [2], got {seed!r}.")
    if isinstance(seed, int):
        return tf.constant([seed, 0], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"`{name}` must be an int or an int tensor of shape [2], got dtype {seed.dtype.name}.")
    if seed.shape.rank is not None and seed.shape.as_list() != [2]:
        raise ValueError(f"`{name}` must have shape [2], got shape {seed.shape}.")
    return tf.cast(seed, tf.int64)


def example_seed(seed, index, epoch=0):
    """The seed of one example: `seed` with the epoch, then the index, folded in.

    Stateless (`tf.random.experimental.stateless_fold_in`), so it runs inside
    `Dataset.map` and gives the same seed for the same `(seed, index, epoch)`
    in any order and any process.

    Args:
        seed: the base seed (int or int tensor of shape `[2]`).
        index: the example's index, an int or integer scalar tensor (e.g. from
            `dataset.enumerate()`).
        epoch: the epoch, an int or integer scalar tensor. A fixed epoch (0)
            gives static masking (BERT); a new epoch gives a new mask
            (RoBERTa's dynamic masking, Liu et al. 2019, section 4.1).

    Returns:
        An int64 tensor of shape `[2]`.
    """
    seed = make_seed(seed)
    for value, name in ((epoch, "epoch"), (index, "index")):
        if isinstance(value, (bool, float)):
            raise TypeError(f"`{name}` must be an integer, got {value!r}.")
        value = tf.convert_to_tensor(value)
        if not value.dtype.is_integer:
            raise TypeError(f"`{name}` must be an integer, got dtype {value.dtype.name}.")
        if value.shape.rank not in (None, 0):
            raise ValueError(f"`{name}` must be a scalar, got shape {value.shape}.")
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(value, tf.int64))
    return seed


# ----------------------------------------------------------------- checks


def as_token_ids(token_ids, name="token_ids", ranks=(1, 2), allow_ragged=False):
    """Converts to an integer tensor (or RaggedTensor) and checks dtype and rank.

    Python lists become int32 tensors (ragged lists need `allow_ragged`).
    """
    if isinstance(token_ids, tf.RaggedTensor):
        if not allow_ragged:
            raise TypeError(f"`{name}` must be a dense tensor here, got a RaggedTensor.")
        tensor = token_ids
    elif isinstance(token_ids, (list, tuple)):
        try:
            tensor = tf.constant(token_ids)
        except (ValueError, TypeError):
            if not allow_ragged:
                raise ValueError(f"`{name}` must be a rectangular list of ints, got a ragged list.") from None
            tensor = tf.ragged.constant(token_ids)
        if tensor.dtype in (tf.int64,) and not isinstance(tensor, tf.RaggedTensor):
            tensor = tf.cast(tensor, tf.int32)
        if tensor.dtype == tf.float32 and tf.size(tensor) == 0:
            tensor = tf.cast(tensor, tf.int32)
    else:
        tensor = tf.convert_to_tensor(token_ids)
    if not tensor.dtype.is_integer:
        raise TypeError(f"`{name}` must hold integer token ids, got dtype {tensor.dtype.name}.")
    rank = tensor.shape.rank
    if rank is None or rank not in ranks:
        expected = " or ".join({1: "[sequence_length]", 2: "[batch, sequence_length]"}[r] for r in ranks)
        raise ValueError(f"`{name}` must have shape {expected}, got shape {tensor.shape}.")
    return tensor
