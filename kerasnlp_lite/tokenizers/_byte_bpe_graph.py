"""Byte-level BPE (GPT-2 / RoBERTa / BART) as one TF graph that also converts to TFLite.

`ByteBPETokenizer` runs this graph eagerly, in `tf.data`, in `tf.function`,
and in TFLite with builtin ops plus two tf-text kernels from
`tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS` (`TFText>ByteSplitWithOffsets`
to read the bytes of a string, `TFText>NgramsStringJoin` to write strings).
No regex, no hash table, no Flex op: every lookup is a GATHER on a constant
table, every string match is arithmetic on bytes.

Tokenize, for a [B] batch of strings with n bytes in all (shape legend:
n = bytes, C = characters, W = words):

1. Bytes (ByteSplitter), flattened over the batch: [n] int32, with the row
   of each byte.
2. UTF-8 decoding by arithmetic: a byte starts a character unless it
   continues a valid 2-4 byte sequence (strict UTF-8: no overlong forms, no
   surrogates, nothing past U+10FFFF). A byte that is not part of a valid
   sequence is a character of its own in the class of punctuation (GPT-2's
   `[^\\s\\p{L}\\p{N}]`), so invalid UTF-8 is tokenized byte by byte and
   detokenize gives the input bytes back. NUL and control characters are
   ordinary characters (Unicode category Cc: punctuation class, except the
   whitespace ones); nothing is dropped.
3. Character class: a two-level constant table (code point // 256 -> block,
   block * 256 + code point % 256 -> class): letter (\\p{L}), number
   (\\p{N}), space (U+0020), other whitespace (Unicode White_Space, what
   `\\s` means to Oniguruma, the `tokenizers` package's regex engine), or
   other. Built from Python's `unicodedata`.
4. GPT-2's pre-split, `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+|
   ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`, as a rule on neighbouring
   characters (`_word_starts` derives it): a word starts at a class change,
   except that a space followed by a non-space starts the word of that
   character; a whitespace run followed by a non-space character gives up
   its last character; an apostrophe that no punctuation or space precedes
   starts a contraction when the next letters are s, t, re, ve, m, ll or d
   (case-sensitive, as GPT-2's pattern), and the contraction ends a word.
5. Each byte becomes the id of its byte-level character (GPT-2's
   `bytes_to_unicode`); symbols live on the byte positions (a merged symbol
   on its first byte; `next`/`previous` links skip the merged-away bytes).
6. Merges: each WHILE iteration, in every word, the adjacent pair with the
   lowest merge rank is merged, at every place it occurs (leftmost first
   where occurrences overlap, as in "a a a"). That equals one merge at a
   time, lowest rank and leftmost first (the `tokenizers` package's order),
   when no rule ranks before a rule that produces one of its tokens, which
   holds for trained merges and is checked at build time; otherwise one
   merge per word per iteration. Ranks come from a sorted constant array
   of int64 keys `left_id * V + right_id` searched by a vectorized binary
   search (ceil(log2(merges)) = 16 GATHER + compare steps for GPT-2's 50000
   merges); the segment minimum per word is UNSORTED_SEGMENT_MIN. The first
   iteration searches every pair, later ones only the pairs next to a merge.
7. Ids: the symbols still alive, as a flat [N] int32 vector plus [B] row
   lengths (ragged tensors do not convert to TFLite).

Cost per input byte: steps 1-5 and 7 are a fixed number of elementwise ops
and gathers per byte (about 150 ops per call, independent of the text).
The merge loop runs as many iterations as the word with the most merges needs
(about 2-10 for English words, up to about 2 per byte for long runs of one
script without spaces, e.g. Chinese), and each iteration costs a few
elementwise ops per byte plus a 16-step search per word. So the cost is
O(bytes x merges in the longest word): linear in the text for ordinary
prose, quadratic in the length of a single space-free word.

Detokenize: GATHER of each id's bytes from a constant string table (the
byte-level characters mapped back to bytes; characters outside the byte map,
e.g. in added tokens, as their UTF-8), then a join of each row by a fixed
number of levels of `NgramsStringJoin` over groups of `_JOIN_WIDTH` strings
(rows of up to `_JOIN_WIDTH ** _JOIN_LEVELS` = 16.7 million tokens; a longer
row would come back as its first 16.7 million tokens' text).
"""

import functools
import unicodedata

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops.ngrams_op import gen_ngrams_op

# Character classes (step 3).
OTHER, LETTER, NUMBER, WHITESPACE, SPACE = 0, 1, 2, 3, 4

# Unicode White_Space: what `\s` matches in Oniguruma (the `tokenizers`
# package's regex engine); the same set as `_byte_level._WHITESPACE`.
_WHITESPACE_CODE_POINTS = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
_WHITESPACE_CODE_POINTS += list(range(0x2000, 0x200B))

# GPT-2's contractions (step 4): after the apostrophe, one of these letters...
_CONTRACTION_1 = [ord(c) for c in "stmd"]
# ...or one of these pairs.
_CONTRACTION_2 = [(ord(a), ord(b)) for a, b in ("re", "ve", "ll")]

# Detokenize joins rows in levels of groups of this many strings.
_JOIN_WIDTH = 64
_JOIN_LEVELS = 4

_NO_MERGE = np.iinfo(np.int32).max


@functools.lru_cache(maxsize=None)
def char_class_tables():
    """(block_of, classes): code point c has class `classes[block_of[c // 256] * 256 + c % 256]`.

    Returns int32 [0x1100] and int8 [blocks * 256] numpy arrays (about 80 KB).
    """
    classes = np.full(0x110000, OTHER, np.int8)
    for code_point in range(0x110000):
        major = unicodedata.category(chr(code_point))[0]
        if major == "L":
            classes[code_point] = LETTER
        elif major == "N":
            classes[code_point] = NUMBER
    classes[_WHITESPACE_CODE_POINTS] = WHITESPACE
    classes[0x20] = SPACE
    blocks, block_of = np.unique(classes.reshape(-1, 256), axis=0, return_inverse=True)
    return block_of.reshape(-1).astype(np.int32), blocks.reshape(-1).astype(np.int8)


class ByteBPEGraph:
    """The tables and TF functions of one byte-level BPE model.

    Args:
        vocabulary: dict token -> id (ids 0..V-1).
        merges: list of "a b" rules, highest priority first (validated by
            the caller: both tokens and their concatenation are in
            `vocabulary`). A repeated rule keeps its last rank.
        byte_to_char: GPT-2's byte -> character table (256 strings).
    """

    def __init__(self, vocabulary, merges, byte_to_char):
        self.vocabulary_size = size = len(vocabulary)
        # Step 5: byte -> id of its byte-level character; a byte missing from
        # the vocabulary gets -(byte + 1), so the caller can name it.
        self.byte_ids = np.array(
            [vocabulary.get(byte_to_char[b], -(b + 1)) for b in range(256)], np.int32
        )
        # Step 6: merge rules as sorted int64 keys left * V + right.
        ranks = {}
        for rank, rule in enumerate(merges):
            left, right = rule.split(" ")
            ranks[(vocabulary[left], vocabulary[right])] = (rank, vocabulary[left + right])
        # Merging every occurrence of a word's best pair in one step is exact
        # when no rule using a token ranks before a rule producing it (true of
        # trained merges: a token is learnt before it is used); else one
        # merge per word per step.
        produced_at = {}
        for (left, right), (rank, token) in ranks.items():
            produced_at[token] = max(produced_at.get(token, -1), rank)
        self.merge_all_occurrences = all(
            produced_at.get(left, -1) < rank and produced_at.get(right, -1) < rank
            for (left, right), (rank, _) in ranks.items()
        )
        keys = np.array([left * size + right for left, right in ranks], np.int64)
        order = np.argsort(keys, kind="stable")
        self.num_merges = len(keys)
        # Padded with int64 max to a power of two, so that the binary search
        # is a fixed number of halving steps with no bounds checks.
        self.search_steps = max(int(np.ceil(np.log2(len(keys) + 1))), 1)
        padded = np.full(2**self.search_steps, np.iinfo(np.int64).max, np.int64)
        padded[: len(keys)] = keys[order]
        self.merge_keys = padded
        values = np.array(list(ranks.values()), np.int32).reshape(-1, 2)[order]
        self.merge_ranks = np.concatenate([values[:, 0], np.full(len(padded) - len(keys) + 1, _NO_MERGE, np.int32)])
        self.merge_ids = np.concatenate([values[:, 1], np.zeros(len(padded) - len(keys) + 1, np.int32)])
        # Detokenize: id -> bytes, and one more entry, the empty string.
        char_to_byte = {char: bytes([b]) for b, char in enumerate(byte_to_char)}
        tokens = [None] * size
        for token, index in vocabulary.items():
            tokens[index] = b"".join(char_to_byte.get(c, c.encode("utf-8")) for c in token)
        self.token_bytes = np.array(tokens + [b""], dtype=object)
        self.block_of, self.classes = char_class_tables()

    # --- tokenize ---------------------------------------------------------
    # Plain TF code with Python-level loops over constants only: AutoGraph
    # (tf.data's map, tf.function) has nothing to convert, only slower tracing.
    @tf.autograph.experimental.do_not_convert
    def tokenize(self, texts, add_prefix_space=False):
        """[B] strings -> (symbols [N] int32, row_lengths [B] int32).

        A symbol is a token id, or -(byte + 1) for a byte whose character is
        not in the vocabulary (never merged). `add_prefix_space`: a space
        byte goes before each non-empty row that does not start with one.
        """
        pieces = tf_text.ByteSplitter().split(texts)
        data = tf.cast(pieces.values, tf.int32)  # [n]
        splits = tf.cast(pieces.row_splits, tf.int32)  # [B + 1]
        num_rows = tf.shape(texts)[0]
        if add_prefix_space:
            data, splits = _prefix_space(data, splits)
        n = tf.shape(data)[0]
        row = _row_ids(splits, n)  # [n]
        char_start, code_point = self._decode_utf8(data, row, splits)
        word_start = self._word_starts(char_start, code_point, row)  # [n] bool
        word = tf.cumsum(tf.cast(word_start, tf.int32)) - 1  # [n]
        num_words = tf.reduce_sum(tf.cast(word_start, tf.int32))
        symbols, alive = self._merge(tf.gather(self.byte_ids, data), word, num_words)
        alive_positions = tf.reshape(tf.where(alive), [-1])
        ids = tf.gather(symbols, alive_positions)
        row_lengths = tf.math.unsorted_segment_sum(tf.cast(alive, tf.int32), row, num_rows)
        return ids, row_lengths

    def _decode_utf8(self, data, row, splits):
        """(char_start [n] bool, code_point [n] int32, -1 for an invalid byte)."""
        n = tf.shape(data)[0]
        position = tf.range(n)
        row_end = tf.gather(splits, row + 1)

        def following(k):
            # Byte k after each position, or 0 past the end of its row.
            return tf.where(position + k < row_end, tf.gather(data, tf.minimum(position + k, n - 1)), 0)

        def is_continuation(b):
            return (b >= 0x80) & (b < 0xC0)

        b1, b2, b3 = following(1), following(2), following(3)
        c1, c2, c3 = (b1 - 0x80), (b2 - 0x80), (b3 - 0x80)  # payload bits of continuation bytes
        cont1, cont2, cont3 = is_continuation(b1), is_continuation(b2), is_continuation(b3)
        # Lead byte ranges of strict UTF-8 (C0, C1, F5-FF never occur).
        point2 = (data - 0xC0) * 64 + c1
        valid2 = (data >= 0xC2) & (data < 0xE0) & cont1
        point3 = (data - 0xE0) * 4096 + c1 * 64 + c2
        valid3 = (data >= 0xE0) & (data < 0xF0) & cont1 & cont2 & (point3 >= 0x800)
        valid3 &= (point3 < 0xD800) | (point3 > 0xDFFF)
        point4 = (data - 0xF0) * 262144 + c1 * 4096 + c2 * 64 + c3
        valid4 = (data >= 0xF0) & (data < 0xF5) & cont1 & cont2 & cont3 & (point4 >= 0x10000) & (point4 <= 0x10FFFF)
        length = tf.where(valid4, 4, tf.where(valid3, 3, tf.where(valid2, 2, 1)))
        code_point = tf.where(
            data < 0x80, data, tf.where(valid2, point2, tf.where(valid3, point3, tf.where(valid4, point4, -1)))
        )
        # A byte continues a character if a valid sequence 1-3 bytes before
        # covers it (lead bytes are never covered, so this is exact).
        covered = tf.zeros([n], tf.bool)
        for k in (1, 2, 3):
            before = tf.gather(length, tf.maximum(position - k, 0))
            covered |= (position - k >= 0) & (before > k)
        # Continuation bytes covered by a lead byte of an earlier row cannot
        # happen: following() stops at the row end, so a sequence never
        # crosses a row boundary.
        return ~covered, code_point

    def _classes(self, code_point):
        point = tf.maximum(code_point, 0)
        block = tf.gather(self.block_of, point // 256)
        classes = tf.cast(tf.gather(self.classes, block * 256 + point % 256), tf.int32)
        return tf.where(code_point < 0, OTHER, classes)

    def _word_starts(self, char_start, code_point, row):
        """GPT-2's pre-split as a rule on neighbouring characters: [n] bool word starts.

        Derivation (regex alternatives tried in order at a word start):
        - A whitespace run at the end of a row is one word (`\\s+(?!\\S)`
          matches to the end). A run followed by a non-space character: the
          run but its last character is one word, and the last character is
          a word of its own, except a space, which starts the next word
          (` ?\\p{L}+` etc.). So a whitespace character starts a word if the
          character before it is not whitespace, or if the one after it is
          not whitespace.
        - A non-space character starts a word after a whitespace character
          other than a space, or when its class (letter, number, other)
          differs from the previous character's, or right after a
          contraction; never after a space.
        - An apostrophe is at a word start (where the contraction
          alternatives are tried) exactly when the previous character is not
          in the `other` class (whose run would have swallowed it) and is not
          a space (which takes it into ` ?[^\\s\\p{L}\\p{N}]+`). There, 's 't
          'm 'd 're 've 'll are a word, and the letters inside it do not
          start one.
        """
        # Characters (compacted): index of each character's first byte.
        first_byte = tf.cast(tf.reshape(tf.where(char_start), [-1]), tf.int32)  # [C]
        num_chars = tf.shape(first_byte)[0]
        point = tf.gather(code_point, first_byte)
        char_row = tf.gather(row, first_byte)
        klass = self._classes(point)
        index = tf.range(num_chars)

        def neighbour(values, k, fill):
            # values[c + k] if that character is in the same row, else fill.
            other = tf.clip_by_value(index + k, 0, tf.maximum(num_chars - 1, 0))
            same = (index + k >= 0) & (index + k < num_chars) & (tf.gather(char_row, other) == char_row)
            return tf.where(same, tf.gather(values, other), fill)

        is_space = klass >= WHITESPACE
        previous = neighbour(klass, -1, -1)  # -1: no previous character in the row
        following = neighbour(klass, 1, -1)
        previous_space = previous >= WHITESPACE
        following_non_space = (following >= 0) & (following < WHITESPACE)
        # Contractions: length 2 or 3 at an apostrophe at a word start, else 0.
        next1, next2 = neighbour(point, 1, -1), neighbour(point, 2, -1)
        eligible = (point == ord("'")) & (previous != OTHER) & (previous != SPACE)
        one = tf.zeros_like(eligible)
        for letter in _CONTRACTION_1:
            one |= next1 == letter
        two = tf.zeros_like(eligible)
        for a, b in _CONTRACTION_2:
            two |= (next1 == a) & (next2 == b)
        contraction = tf.where(eligible & one, 2, tf.where(eligible & two, 3, 0))
        back1, back2, back3 = (neighbour(contraction, -k, 0) for k in (1, 2, 3))
        inside = (back1 > 0) | (back2 == 3)
        after = (back2 == 2) | (back3 == 3)

        space_start = is_space & (~previous_space | following_non_space)
        word_class_change = (previous < WHITESPACE) & (previous != klass) & ~inside
        other_start = ~is_space & (
            (previous == -1) | (previous == WHITESPACE) | (previous >= 0) & word_class_change | after
        )
        start = space_start | other_start | (previous == -1)
        # Back to bytes: a byte starts a word if it starts a character that does.
        char_index = tf.cumsum(tf.cast(char_start, tf.int32)) - 1
        return char_start & tf.gather(start, tf.maximum(char_index, 0))

    def _lookup(self, left, right):
        """Vectorized binary search: (rank, merged id) of pairs; rank `_NO_MERGE` if none."""
        key = tf.cast(left, tf.int64) * self.vocabulary_size + tf.cast(right, tf.int64)
        keys = tf.constant(self.merge_keys)
        position = tf.zeros_like(left)
        step = 2 ** (self.search_steps - 1)
        while step >= 1:
            # Lower bound: the first key >= the query (keys are padded with int64 max).
            probe = tf.gather(keys, position + step - 1)
            position = tf.where(probe < key, position + step, position)
            step //= 2
        position = tf.minimum(position, self.num_merges)  # num_merges: the "no merge" entry
        found = (left >= 0) & (right >= 0) & (tf.gather(keys, tf.minimum(position, len(self.merge_keys) - 1)) == key)
        position = tf.where(found, position, self.num_merges)
        return tf.gather(self.merge_ranks, position), tf.gather(self.merge_ids, position)

    def _merge(self, symbols, word, num_words):
        """BPE merges. symbols, word: [n]. Returns (symbols [n], alive [n] bool)."""
        n = tf.shape(symbols)[0]
        # One sentinel slot at n: word -1, so that no pair crosses it.
        symbols = tf.concat([symbols, [-1]], 0)
        word = tf.concat([word, [-1]], 0)
        position = tf.range(n + 1)
        following = tf.minimum(position + 1, n)
        preceding = tf.maximum(position - 1, 0)
        alive = position < n
        segment = tf.where(word >= 0, word, num_words)  # the sentinel in a segment of its own
        no_merge = tf.fill([n + 1], _NO_MERGE)

        def body(symbols, alive, following, preceding, rank, merged, dirty):
            # (Re)compute the pairs starting at `dirty` positions: all at
            # first, then only the pairs next to a merge.
            dirty_positions = tf.cast(tf.reshape(tf.where(dirty), [-1]), tf.int32)
            right = tf.gather(following, dirty_positions)
            new_rank, new_merged = self._lookup(tf.gather(symbols, dirty_positions), tf.gather(symbols, right))
            new_rank = tf.where(tf.gather(word, right) == tf.gather(word, dirty_positions), new_rank, _NO_MERGE)
            # Scatter back with segment sums (TFLite's builtin scatter).
            rank = tf.where(dirty, tf.math.unsorted_segment_sum(new_rank, dirty_positions, n + 1), rank)
            merged = tf.where(dirty, tf.math.unsorted_segment_sum(new_merged, dirty_positions, n + 1), merged)
            # In each word, the pair of lowest rank, leftmost among equals.
            best = tf.math.unsorted_segment_min(rank, segment, num_words + 1)
            is_best = (rank == tf.gather(best, segment)) & (rank < _NO_MERGE)
            if self.merge_all_occurrences:
                # Every occurrence of the word's best pair at once; in a chain
                # of overlapping ones ("a a a"), every other from the left.
                order = tf.cumsum(tf.cast(alive, tf.int32))  # index among living symbols
                head = is_best & ~(tf.gather(is_best, preceding) & (position > 0))
                chain = tf.cumsum(tf.cast(head, tf.int32))
                head_order = tf.math.unsorted_segment_min(tf.where(head, order, n + 1), chain, n + 2)
                selected = is_best & ((order - tf.gather(head_order, chain)) % 2 == 0)
            else:
                leftmost = tf.math.unsorted_segment_min(tf.where(is_best, position, n + 1), segment, num_words + 1)
                selected = is_best & (position == tf.gather(leftmost, segment))  # [n + 1]
            # Merge: the left symbol takes the merged id, the right one dies.
            symbols = tf.where(selected, merged, symbols)
            removed = tf.gather(selected, preceding) & alive & (position > 0)
            alive &= ~removed
            rank = tf.where(alive, rank, no_merge)
            following = tf.where(selected, tf.gather(following, following), following)
            preceding = tf.where(tf.gather(removed, preceding), tf.gather(preceding, preceding), preceding)
            # The pairs that changed: the merged symbol with its neighbours
            # on both sides. None when nothing merged: the loop ends.
            dirty = alive & (selected | tf.gather(selected, following)) & (position < n)
            return symbols, alive, following, preceding, rank, merged, dirty

        def condition(*state):
            return tf.reduce_any(state[-1])

        state = (symbols, alive, following, preceding, no_merge, tf.zeros([n + 1], tf.int32), alive)
        symbols, alive, *_ = tf.while_loop(condition, body, state)
        return symbols[:n], alive[:n]

    # --- detokenize -------------------------------------------------------
    @tf.autograph.experimental.do_not_convert
    def detokenize(self, ids, row_lengths):
        """ids [N] int32 (in [0, V)), row_lengths [B] int32 -> [B] strings."""
        table = tf.constant(self.token_bytes.tolist(), tf.string)  # [V + 1], last: b""
        return join_rows(table, ids, row_lengths)


def _row_ids(splits, n):
    """Row of each of n values, from row splits [B + 1] (empty rows allowed)."""
    # Scatter a 1 at each row start (empty rows stack on the same position),
    # then a running sum; segment sums are TFLite's builtin scatter.
    starts = splits[:-1]
    marks = tf.math.unsorted_segment_sum(tf.ones_like(starts), starts, n + 1)[:n]
    return tf.cumsum(marks) - 1


def _prefix_space(data, splits):
    """Inserts byte 0x20 at the start of each non-empty row not starting with it."""
    lengths = splits[1:] - splits[:-1]
    first = tf.gather(tf.concat([data, [0]], 0), splits[:-1])
    needs = tf.cast((lengths > 0) & (first != 0x20), tf.int32)
    new_splits = tf.concat([[0], tf.cumsum(lengths + needs)], 0)
    total = new_splits[-1]
    row = _row_ids(new_splits, total)
    offset = tf.range(total) - tf.gather(new_splits, row)
    prefix = tf.gather(needs, row)
    source = tf.gather(splits, row) + offset - prefix
    inserted = (prefix > 0) & (offset == 0)
    data = tf.where(inserted, 0x20, tf.gather(data, tf.maximum(source, 0)))
    return data, new_splits


def join_rows(table, indices, row_lengths, width=_JOIN_WIDTH, levels=_JOIN_LEVELS):
    """Joins `table[indices]` by rows: [B] strings. `table[-1]` must be the empty string.

    TFLite has no string join builtin: each level pads every row to a
    multiple of `width` strings with the empty entry, joins each group with
    tf-text's NgramsStringJoin (width = group size), and appends one empty
    group, which becomes the empty entry of the next level's table.
    """
    for _ in range(levels):
        empty = tf.shape(table)[0] - 1
        groups = tf.maximum((row_lengths + width - 1) // width, 1)  # [B]
        padded = groups * width
        padded_starts = tf.cumsum(padded, exclusive=True)
        starts = tf.cumsum(row_lengths, exclusive=True)
        total = tf.reduce_sum(padded)
        row = _row_ids(tf.concat([padded_starts, [total]], 0), total)  # [total]
        offset = tf.range(total) - tf.gather(padded_starts, row)
        in_row = offset < tf.gather(row_lengths, row)
        # indices plus the empty entry, so that gathers stay in range for N = 0.
        extended = tf.concat([indices, [empty]], 0)
        source = tf.gather(extended, tf.minimum(tf.gather(starts, row) + offset, tf.shape(extended)[0] - 1))
        source = tf.where(in_row, source, empty)
        source = tf.concat([source, tf.fill([width], empty)], 0)
        # Ragged rows of `width` strings: tf-text's kernel for dense 2-D input
        # crashes (segfault in TF 2.20 / tf-text 2.20.1 from about 100 rows).
        strings = tf.gather(table, source)
        splits = tf.range(0, tf.shape(source, tf.int64)[0] + 1, width, dtype=tf.int64)
        # The op itself: `tf_text.ngrams` first builds `width` sliding-window
        # slices that string joins do not use (slow to trace and to run).
        table, _ = gen_ngrams_op.tf_text_ngrams_string_join(
            input_values=strings, input_row_splits=[splits], width=width, axis=-1, string_separator=""
        )
        indices = tf.range(tf.reduce_sum(groups))
        row_lengths = groups
    # Every row is now one group: row r's string is table[r].
    return tf.gather(table, tf.range(tf.shape(row_lengths)[0]))
