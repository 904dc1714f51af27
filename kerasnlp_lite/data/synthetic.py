"""Built-in synthetic tasks: generated, seeded, no download."""

import numpy as np

from kerasnlp_lite.utils.validation import is_int

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


# ---------------------------------------------------------------- seq2seq tasks
#
# Copy, reverse, sort and addition: the toy sequence-to-sequence problems used
# to check that an encoder-decoder learns at all (copy and reverse since
# Sutskever et al. 2014; addition of digit strings since Zaremba & Sutskever
# 2014, "Learning to Execute"). One fixed vocabulary layout:
#
#   0 [PAD]   1 [BOS] (decoder start)   2 [EOS]   3.. content tokens
#
# Content tokens are "t0", "t1", ... for copy/reverse/sort, and the digits
# "0".."9" then "+" for addition.

BOS_ID = 1
EOS_ID = 2
FIRST_CONTENT_ID = 3
SPECIAL_TOKENS = ("[PAD]", "[BOS]", "[EOS]")
ADDITION_TOKENS = tuple("0123456789") + ("+",)
PLUS_ID = FIRST_CONTENT_ID + 10


def synthetic_vocabulary(task, vocabulary_size=16):
    """The token strings of a seq2seq task's ids (list index = id).

    Args:
        task: "copy", "reverse", "sort" or "addition".
        vocabulary_size: the size for copy/reverse/sort (ignored for
            addition, whose vocabulary is always the 14 tokens
            `[PAD] [BOS] [EOS] 0..9 +`).
    """
    if task == "addition":
        return list(SPECIAL_TOKENS + ADDITION_TOKENS)
    if task not in ("copy", "reverse", "sort"):
        raise ValueError(f"`task` must be 'copy', 'reverse', 'sort' or 'addition', got {task!r}.")
    _check_vocabulary_size(vocabulary_size)
    return list(SPECIAL_TOKENS) + [f"t{i}" for i in range(vocabulary_size - FIRST_CONTENT_ID)]


def _check_int(value, name, minimum):
    if not is_int(value):
        raise TypeError(f"`{name}` must be an int >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")


def _check_vocabulary_size(vocabulary_size):
    # At least two content tokens, or sorting and reversing are trivial.
    _check_int(vocabulary_size, "vocabulary_size", FIRST_CONTENT_ID + 2)


def _check_lengths(min_length, max_length, low=1, min_name="min_length", max_name="max_length"):
    _check_int(min_length, min_name, low)
    _check_int(max_length, max_name, low)
    if min_length > max_length:
        raise ValueError(f"`{min_name}`={min_length} must be <= `{max_name}`={max_length}.")


def _pack_pairs(sources, targets, source_length, target_length):
    """Pads each source and target (content ids) with EOS then PAD; builds decoder inputs and masks.

    Returns a dict of int32 arrays:
        source_ids `[N, source_length]`: content, EOS, PAD...
        source_padding_mask: 1 on content and EOS.
        decoder_input_ids `[N, target_length]`: BOS, content, PAD... (teacher forcing)
        target_ids `[N, target_length]`: content, EOS, PAD... (the labels)
        target_padding_mask: 1 on content and EOS.
    """
    n = len(sources)
    out = {
        "source_ids": np.full((n, source_length), PAD_ID, np.int32),
        "source_padding_mask": np.zeros((n, source_length), np.int32),
        "decoder_input_ids": np.full((n, target_length), PAD_ID, np.int32),
        "target_ids": np.full((n, target_length), PAD_ID, np.int32),
        "target_padding_mask": np.zeros((n, target_length), np.int32),
    }
    for i, (source, target) in enumerate(zip(sources, targets)):
        out["source_ids"][i, : len(source) + 1] = list(source) + [EOS_ID]
        out["source_padding_mask"][i, : len(source) + 1] = 1
        out["target_ids"][i, : len(target) + 1] = list(target) + [EOS_ID]
        out["target_padding_mask"][i, : len(target) + 1] = 1
        out["decoder_input_ids"][i, : len(target) + 1] = [BOS_ID] + list(target)
    return out


def _sequence_task(transform, num_examples, min_length, max_length, vocabulary_size, seed):
    _check_int(num_examples, "num_examples", 1)
    _check_lengths(min_length, max_length)
    _check_vocabulary_size(vocabulary_size)
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for _ in range(num_examples):
        length = int(rng.integers(min_length, max_length + 1))
        source = rng.integers(FIRST_CONTENT_ID, vocabulary_size, size=length).tolist()
        sources.append(source)
        targets.append(transform(source))
    return _pack_pairs(sources, targets, max_length + 1, max_length + 1)


_TASK_DOC = """{summary}

    Each source is {{min_length..max_length}} uniform random content ids in
    `[3, vocabulary_size)`; ids 0/1/2 are `[PAD]`/`[BOS]`/`[EOS]` (see
    `synthetic_vocabulary("{task}", vocabulary_size)`).

    Args:
        num_examples: int >= 1.
        min_length, max_length: the range of source lengths (inclusive).
        vocabulary_size: int >= 5, ids in `[0, vocabulary_size)`.
        seed: numpy seed; the same seed gives the same examples.

    Returns:
        dict of int32 arrays: `source_ids` and `source_padding_mask`
        `[N, max_length + 1]` (content, `[EOS]`, `[PAD]`...), `target_ids`
        and `target_padding_mask` `[N, max_length + 1]` (the labels: content,
        `[EOS]`, `[PAD]`...) and `decoder_input_ids` (`[BOS]` then the target
        content: `target_ids` shifted right, for teacher forcing).
    """


def copy_task(num_examples, min_length=1, max_length=10, vocabulary_size=16, seed=0):
    return _sequence_task(list, num_examples, min_length, max_length, vocabulary_size, seed)


def reverse_task(num_examples, min_length=1, max_length=10, vocabulary_size=16, seed=0):
    return _sequence_task(lambda s: s[::-1], num_examples, min_length, max_length, vocabulary_size, seed)


def sort_task(num_examples, min_length=1, max_length=10, vocabulary_size=16, seed=0):
    return _sequence_task(sorted, num_examples, min_length, max_length, vocabulary_size, seed)


copy_task.__doc__ = _TASK_DOC.format(summary="Seq2seq copy: the target is the source.", task="copy")
reverse_task.__doc__ = _TASK_DOC.format(summary="Seq2seq reversal: the target is the source reversed.", task="reverse")
sort_task.__doc__ = _TASK_DOC.format(
    summary="Seq2seq sorting: the target is the source's ids in ascending order (duplicates kept).", task="sort"
)


def _digits(number):
    return [FIRST_CONTENT_ID + int(d) for d in str(number)]


def addition_task(num_examples, min_digits=1, max_digits=3, seed=0):
    """Seq2seq addition of decimal numbers written as digit tokens: "123+45" -> "168".

    Each operand gets a digit count uniform in `[min_digits, max_digits]`,
    then a value uniform among the numbers with that many digits (no leading
    zeros; one-digit operands include 0). Tokens: `[PAD]=0 [BOS]=1 [EOS]=2`,
    digit d = 3 + d, "+" = 13 (`synthetic_vocabulary("addition")`).

    Args:
        num_examples: int >= 1.
        min_digits, max_digits: the range of operand digit counts (inclusive).
        seed: numpy seed.

    Returns:
        the dict of `copy_task`, with `source_ids` `[N, 2 * max_digits + 2]`
        and targets `[N, max_digits + 2]` (the sum has at most
        `max_digits + 1` digits, plus `[EOS]`).
    """
    _check_int(num_examples, "num_examples", 1)
    _check_lengths(min_digits, max_digits, min_name="min_digits", max_name="max_digits")
    if max_digits > 18:
        raise ValueError(f"`max_digits` must be <= 18 (int64 operands), got {max_digits}.")
    rng = np.random.default_rng(seed)

    def operand():
        digits = int(rng.integers(min_digits, max_digits + 1))
        low = 0 if digits == 1 else 10 ** (digits - 1)
        return int(rng.integers(low, 10**digits))

    sources, targets = [], []
    for _ in range(num_examples):
        a, b = operand(), operand()
        sources.append(_digits(a) + [PLUS_ID] + _digits(b))
        targets.append(_digits(a + b))
    return _pack_pairs(sources, targets, 2 * max_digits + 2, max_digits + 2)
