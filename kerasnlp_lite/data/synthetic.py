"""Built-in synthetic tasks: generated, seeded, no download."""

import numpy as np

PAD_ID = 0


def first_token_repeats_task(num_examples, sequence_length=16, vocabulary_size=24, min_length=4, seed=0):
    """Classification data that needs attention across positions.

    Each sequence holds random tokens in `1..vocabulary_size-1` with a random
    real length in `[min_length, sequence_length]`, padded with `PAD_ID` = 0.
    The label is 1 when the first token appears again later in the real part,
    else 0. Half the examples are made positive by copying the first token to
    a random later position, so the classes are balanced.

    Returns:
        dict with `token_ids` int32 `[num_examples, sequence_length]`,
        `padding_mask` int32 (1 at real tokens) and `labels` int32 `[num_examples]`.
    """
    if vocabulary_size < 4:
        raise ValueError(f"`vocabulary_size` must be >= 4, got {vocabulary_size}.")
    if not 2 <= min_length <= sequence_length:
        raise ValueError(
            f"`min_length` must be in [2, sequence_length={sequence_length}], got {min_length}."
        )
    rng = np.random.default_rng(seed)
    token_ids = np.zeros((num_examples, sequence_length), np.int32)
    padding_mask = np.zeros((num_examples, sequence_length), np.int32)
    labels = np.zeros((num_examples,), np.int32)
    for i in range(num_examples):
        length = int(rng.integers(min_length, sequence_length + 1))
        first = int(rng.integers(1, vocabulary_size))
        # Later tokens avoid `first`, then a positive example copies it back in.
        others = rng.integers(1, vocabulary_size - 1, size=length - 1)
        others = np.where(others >= first, others + 1, others)
        if rng.random() < 0.5:
            others[int(rng.integers(0, length - 1))] = first
        token_ids[i, 0] = first
        token_ids[i, 1:length] = others
        padding_mask[i, :length] = 1
        labels[i] = int(np.any(others == first))
    return {"token_ids": token_ids, "padding_mask": padding_mask, "labels": labels}
