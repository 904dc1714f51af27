"""Byte-level BPE helpers: GPT-2's pre-split regex on RE2, the byte table, file readers."""

import json
import os

import tensorflow as tf
import tensorflow_text as tf_text

from kerasnlp_lite.utils.validation import is_int

# Unicode White_Space, which is what `\s` means to the `tokenizers` package's
# regex engine (Oniguruma). RE2's `\s` is ASCII only, so the class is spelled
# out. Measured: exactly these code points split like whitespace there.
_WHITESPACE = r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"

# Step 1 of `split_words`: every non-whitespace run, and every whitespace
# character on its own.
_PIECE_PATTERN = rf"[^{_WHITESPACE}]+|[{_WHITESPACE}]"

# GPT-2's pattern with `\s+(?!\S)|\s+` replaced by `\s+`; exact on the
# segments `split_words` feeds it (see there).
_WORD_PATTERN = (
    r"'s|'t|'re|'ve|'m|'ll|'d"
    rf"| ?\p{{L}}+| ?\p{{N}}+| ?[^{_WHITESPACE}\p{{L}}\p{{N}}]+|[{_WHITESPACE}]+"
)


def bytes_to_unicode():
    """GPT-2's byte -> printable character table, as a list of 256 strings.

    Printable Latin-1 bytes map to themselves; the other 68 (control
    characters, space, soft hyphen, ...) map to U+0100 onwards in byte order,
    so BPE symbols never contain whitespace (openai/gpt-2 `encoder.py`).
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table = [None] * 256
    for byte in printable:
        table[byte] = chr(byte)
    shifted = 0
    for byte in range(256):
        if table[byte] is None:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


def split_words(inputs):
    """Splits a 1-D string tensor with GPT-2's regex; returns ragged [batch, words].

    GPT-2's `\\s+(?!\\S)|\\s+` makes a whitespace run followed by a
    non-space character give up its last character, which then starts the
    next word (" world" keeps its space). No GPT-2 word crosses these cuts:
    between a non-space and a space character, and before the last character
    of a whitespace run that precedes a non-space character. So the text is
    cut there into segments (whitespace runs without their last character;
    an optional whitespace character plus a non-space run; a final whitespace
    run), and inside a segment a whitespace run is either the whole segment
    or one leading character, where plain `\\s+` matches what the lookahead
    form would.
    """
    pieces = tf_text.regex_split(inputs, _PIECE_PATTERN, _PIECE_PATTERN)  # [B, P]
    values = pieces.values
    is_space = tf.strings.regex_full_match(values, f"[{_WHITESPACE}]")
    rows = pieces.value_rowids()
    row_starts = rows != tf.concat([[-1], rows[:-1]], axis=0)
    row_ends = tf.concat([row_starts[1:], [True]], axis=0)
    previous_space = tf.concat([[False], is_space[:-1]], axis=0) & ~row_starts
    next_non_space = tf.concat([~is_space[1:], [False]], axis=0) & ~row_ends
    # A segment starts at a row start, at a space after a non-space, and at
    # the last space of a run that precedes a non-space.
    starts = row_starts | (is_space & (~previous_space | next_non_space))
    segment_ids = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    num_segments = tf.reduce_sum(tf.cast(starts, tf.int64))
    segments = tf.strings.unsorted_segment_join(values, segment_ids, num_segments)
    segments_per_row = tf.math.unsorted_segment_sum(tf.cast(starts, tf.int64), pieces.value_rowids(), pieces.nrows())
    words = tf_text.regex_split(segments, _WORD_PATTERN, _WORD_PATTERN)  # [S, W]
    words = tf.RaggedTensor.from_row_lengths(words, segments_per_row)  # [B, S, W]
    return words.merge_dims(1, 2)


def read_vocabulary(vocabulary):
    if isinstance(vocabulary, (str, os.PathLike)):
        if not os.path.isfile(vocabulary):
            raise ValueError(f"`vocabulary` file {str(vocabulary)!r} does not exist.")
        with open(vocabulary, encoding="utf-8") as f:
            vocabulary = json.load(f)
    if not isinstance(vocabulary, dict):
        raise TypeError(
            f"`vocabulary` must be a dict token -> id or the path of a vocab.json, got {type(vocabulary).__name__}."
        )
    if not vocabulary:
        raise ValueError("`vocabulary` is empty.")
    for token, index in vocabulary.items():
        if not isinstance(token, str) or not is_int(index):
            raise TypeError(f"`vocabulary` must map strings to integer ids, got {token!r}: {index!r}.")
    if sorted(vocabulary.values()) != list(range(len(vocabulary))):
        raise ValueError(
            f"`vocabulary` ids must be exactly 0..{len(vocabulary) - 1}, each once "
            f"(got ids from {min(vocabulary.values())} to {max(vocabulary.values())})."
        )
    return {token: int(index) for token, index in vocabulary.items()}


def read_merges(merges):
    if isinstance(merges, (str, os.PathLike)):
        if not os.path.isfile(merges):
            raise ValueError(f"`merges` file {str(merges)!r} does not exist.")
        with open(merges, encoding="utf-8") as f:
            merges = [line.rstrip("\r") for line in f.read().split("\n")]
    if not isinstance(merges, (list, tuple)):
        raise TypeError(
            f"`merges` must be a list of 'a b' rules or the path of a merges.txt, got {type(merges).__name__}."
        )
    rules = []
    for line_number, rule in enumerate(merges):
        if isinstance(rule, (list, tuple)) and len(rule) == 2:
            rule = f"{rule[0]} {rule[1]}"
        if not isinstance(rule, str):
            raise TypeError(f"`merges`[{line_number}] must be a string 'a b', got {rule!r}.")
        if line_number == 0 and rule.startswith("#version"):
            continue
        if rule.strip() == "":
            continue  # blank lines (a trailing newline) carry no rule
        parts = rule.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"`merges`[{line_number}] must be two tokens separated by one space, got {rule!r}.")
        rules.append(rule)
    return rules
