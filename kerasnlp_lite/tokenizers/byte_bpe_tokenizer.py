"""GPT-2 / RoBERTa byte-level BPE on TensorFlow string ops.

Reproduces the ids of OpenAI's GPT-2 encoder (and of the `tokenizers`
package's `ByteLevel` + `BPE` pipeline) from a `vocab.json` and a
`merges.txt`:

1. Pre-split with GPT-2's regex (Radford et al., 2019, "Language Models are
   Unsupervised Multitask Learners", and openai/gpt-2 `encoder.py`):
   `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`.
   RE2 (tf.strings, tf-text) has no lookahead; see `split_words` for the
   exact rewrite.
2. Map each UTF-8 byte of a word to a printable character (`bytes_to_unicode`,
   so that no byte is whitespace or a control character).
3. Merge adjacent symbols, always the pair with the lowest merge rank and,
   among equal ranks, the leftmost (the order of the `tokenizers` package).

Merged words are kept in a cache (a `MutableHashTable`, as in KerasHub's
`BytePairTokenizer`), so a word's merges are computed once per tokenizer.

Not supported: TFLite. The regex split and the hash tables are TF ops with no
TFLite kernel (they would need Flex, which LiteRT 2.x cannot run); for
on-device tokenization use `SentencePieceTokenizer` with a unigram model.
"""

import re

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from kerasnlp_lite.tokenizers._byte_level import (  # noqa: F401 (bytes_to_unicode, split_words: public here)
    bytes_to_unicode,
    read_merges,
    read_vocabulary,
    split_words,
)
from kerasnlp_lite.tokenizers.tokenizer import Tokenizer, check_valid_utf8, to_string_tensor

_UNKNOWN_MESSAGE = "ByteBPETokenizer: symbols not in the vocabulary and no `unknown_token` is set:"

SPECIAL_TOKEN_ROLES = ("bos", "eos", "pad", "unk", "mask", "cls", "sep")


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class ByteBPETokenizer(Tokenizer):
    """GPT-2 / RoBERTa byte-level BPE tokenizer.

    Works eagerly, inside `tf.data` and inside `tf.function`; not in TFLite
    (see the module docstring).

    Args:
        vocabulary: dict token -> id, or the path of a `vocab.json`. Ids must
            be exactly 0..len-1.
        merges: list of merge rules "a b" (highest priority first), or the
            path of a `merges.txt` (a leading "#version" line and blank lines
            are skipped). Both tokens of a rule and their concatenation must
            be in `vocabulary`. A repeated rule keeps its last rank, as in
            the `tokenizers` package and OpenAI's encoder.
        add_prefix_space: prepend a space to each non-empty input that does
            not start with one, so that the first word is tokenized like any
            other (the `tokenizers` package's `ByteLevel(add_prefix_space)`).
        unknown_token: token for symbols missing from the vocabulary. If None,
            such a symbol is an error (ValueError eagerly,
            InvalidArgumentError in a graph), never silently dropped.
        special_tokens: dict role -> token string, roles among
            `SPECIAL_TOKEN_ROLES` ("bos", "eos", "pad", "unk", "mask", "cls",
            "sep"), e.g. `{"bos": "<s>", "eos": "</s>", "pad": "<pad>"}`. Each
            must be in `vocabulary`; each role has `<role>_token` and
            `<role>_token_id` properties (None when not set).
        special_tokens_in_strings: if True, special token strings inside the
            input text map to their ids (as added tokens do in the
            `tokenizers` package) instead of being split into bytes. Off by
            default so that user text cannot inject control tokens.
        **kwargs: base layer arguments (`name`, ...).

    Call arguments:
        inputs: a string, or a 1-D batch of strings (valid UTF-8).

    Returns:
        int32 ids: 1-D for a scalar input, a `tf.RaggedTensor` [batch, None]
        for a batch. An empty string gives no ids.

    Example:
    ```python
    tokenizer = ByteBPETokenizer("vocab.json", "merges.txt")
    ids = tokenizer(["Hello world!", "It's 2024."])
    text = tokenizer.detokenize(ids)
    ```

    Reference:
        Sennrich et al., 2016, "Neural Machine Translation of Rare Words with
        Subword Units"; Radford et al., 2019 (GPT-2).
    """

    def __init__(
        self,
        vocabulary,
        merges,
        add_prefix_space=False,
        unknown_token=None,
        special_tokens=None,
        special_tokens_in_strings=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        vocab = read_vocabulary(vocabulary)
        rules = read_merges(merges)
        for line_number, rule in enumerate(rules):
            left, right = rule.split(" ")
            for token in (left, right, left + right):
                if token not in vocab:
                    raise ValueError(
                        f"`merges` rule {line_number} {rule!r} does not match `vocabulary`: "
                        f"{token!r} is not in the vocabulary."
                    )
        if not isinstance(add_prefix_space, bool):
            raise TypeError(f"`add_prefix_space` must be a bool, got {add_prefix_space!r}.")
        if not isinstance(special_tokens_in_strings, bool):
            raise TypeError(f"`special_tokens_in_strings` must be a bool, got {special_tokens_in_strings!r}.")
        special = dict(special_tokens or {})
        if not isinstance(special_tokens or {}, dict):
            raise TypeError(f"`special_tokens` must be a dict role -> token, got {type(special_tokens).__name__}.")
        if unknown_token is not None:
            if special.get("unk", unknown_token) != unknown_token:
                raise ValueError(
                    f"`unknown_token`={unknown_token!r} differs from `special_tokens['unk']`={special['unk']!r}."
                )
            special["unk"] = unknown_token
        for role, token in special.items():
            if role not in SPECIAL_TOKEN_ROLES:
                raise ValueError(f"`special_tokens` role {role!r} is not one of {SPECIAL_TOKEN_ROLES}.")
            if token not in vocab:
                raise ValueError(f"`special_tokens['{role}']`={token!r} is not in the vocabulary.")

        # Configuration as given (the vocabulary and merges themselves, not
        # paths, so that a saved model is self-contained).
        self.vocabulary = vocab
        self.merges = rules
        self.add_prefix_space = add_prefix_space
        self.unknown_token = special.get("unk")
        self.special_tokens = special
        self.special_tokens_in_strings = special_tokens_in_strings

        self._id_to_token = [None] * len(vocab)
        for token, index in vocab.items():
            self._id_to_token[index] = token
        self._build_tables()

    # --- tables -----------------------------------------------------------
    def _build_tables(self):
        def static_table(keys, values, default):
            return tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(values)), default
            )

        tokens = list(self.vocabulary)
        self._vocab_table = static_table(tokens, np.array([self.vocabulary[t] for t in tokens], np.int32), -1)
        # Lower rank = merged first; a repeated rule keeps its last rank.
        ranks = {rule: rank for rank, rule in enumerate(self.merges)}
        self._no_merge = np.int32(np.iinfo(np.int32).max)
        if ranks:
            self._rank_table = static_table(list(ranks), np.array(list(ranks.values()), np.int32), self._no_merge)
        else:
            self._rank_table = None
        self._byte_to_char = tf.constant(bytes_to_unicode())
        inverse = np.full(324, -1, np.int32)  # code point -> byte (max code point is 0x143)
        for byte, char in enumerate(bytes_to_unicode()):
            inverse[ord(char)] = byte
        self._char_to_byte = tf.constant(inverse)
        self._byte_strings = tf.constant([bytes([b]) for b in range(256)])
        self._id_to_token_tensor = tf.constant(self._id_to_token)
        # Word (byte-level form) -> its merged symbols joined by spaces. Keyed
        # by a 64-bit fingerprint; a hit is accepted only if the symbols join
        # back to the word, so a collision costs a recomputation, not a wrong id.
        self._cache = tf.lookup.experimental.MutableHashTable(tf.int64, tf.string, "")
        self._traced_tokenize = tf.function(
            self._tokenize_batch, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
        )

    # --- vocabulary -------------------------------------------------------
    def get_vocabulary(self):
        """All tokens, in id order."""
        return list(self._id_to_token)

    @property
    def vocabulary_size(self):
        return len(self._id_to_token)

    def token_to_id(self, token):
        if token not in self.vocabulary:
            raise KeyError(f"Token {token!r} is not in the vocabulary.")
        return self.vocabulary[token]

    # --- tokenize ---------------------------------------------------------
    def _fingerprint(self, words):
        # tf.fingerprint gives 8 uint8 per string; view them as one int64.
        return tf.reshape(tf.bitcast(tf.fingerprint(words), tf.int64), [-1])

    def _merge(self, symbols):
        """BPE merges on ragged [words, symbols]; returns merged symbols joined by spaces."""
        if self._rank_table is None:
            return tf.strings.reduce_join(symbols, axis=1, separator=" ")
        no_merge = self._no_merge

        def step(values, lengths):
            # One merge per word per step: the lowest rank, leftmost pair.
            words = tf.RaggedTensor.from_row_lengths(values, lengths)
            left, right = words[:, :-1], words[:, 1:]
            ranks = left.with_values(self._rank_table.lookup(tf.strings.join([left.values, right.values], " ")))
            best = tf.reduce_min(ranks, axis=1)  # no_merge for finished words
            active = best < no_merge
            position = tf.cast(tf.range(tf.shape(ranks.values)[0]), tf.int64) - tf.gather(
                ranks.row_starts(), ranks.value_rowids()
            )
            is_best = ranks.values == tf.gather(best, ranks.value_rowids())
            first = tf.math.unsorted_segment_min(
                tf.where(is_best, position, tf.int64.max), ranks.value_rowids(), ranks.nrows()
            )
            # Flat indices of the merged pair's left symbol, in active words.
            left_index = tf.boolean_mask(words.row_starts() + first, active)
            merged = tf.strings.join([tf.gather(values, left_index), tf.gather(values, left_index + 1)])
            values = tf.tensor_scatter_nd_update(values, left_index[:, None], merged)
            keep = tf.tensor_scatter_nd_update(
                tf.ones_like(values, tf.bool), left_index[:, None] + 1, tf.zeros_like(left_index, tf.bool)
            )
            return tf.boolean_mask(values, keep), lengths - tf.cast(active, lengths.dtype), tf.reduce_any(active)

        def condition(values, lengths, changed):
            return changed

        def body(values, lengths, changed):
            return step(values, lengths)

        values, lengths, _ = tf.while_loop(
            condition,
            body,
            (symbols.values, symbols.row_lengths(), tf.constant(True)),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([])),
        )
        return tf.strings.reduce_join(tf.RaggedTensor.from_row_lengths(values, lengths), axis=1, separator=" ")

    def _words_to_ids(self, words):
        """Flat 1-D words -> ragged [words, ids]."""
        unique, index = tf.unique(words)
        byte_values = tf.reshape(tf.io.decode_raw(tf.strings.bytes_split(unique).values, tf.uint8), [-1])
        byte_chars = tf.RaggedTensor.from_row_lengths(
            tf.gather(self._byte_to_char, tf.cast(byte_values, tf.int32)), tf.cast(tf.strings.length(unique), tf.int64)
        )
        mapped = tf.strings.reduce_join(byte_chars, axis=1)
        keys = self._fingerprint(mapped)
        cached = self._cache.lookup(keys)
        cached.set_shape([None])
        hit = tf.strings.regex_replace(cached, " ", "") == mapped
        hit = hit & (cached != "")
        miss = tf.where(~hit)[:, 0]
        merged_misses = self._merge(tf.ragged.boolean_mask(byte_chars, ~hit))
        self._cache.insert(tf.gather(keys, miss), merged_misses)
        merged = tf.tensor_scatter_nd_update(cached, miss[:, None], merged_misses)
        symbols = tf.strings.split(merged, " ")  # [unique, symbols]
        ids = symbols.with_values(self._vocab_table.lookup(symbols.values))
        ids = self._handle_unknown(ids, symbols)
        return tf.gather(ids, index)

    def _handle_unknown(self, ids, symbols):
        unknown = ids.values < 0
        if self.unknown_token is not None:
            return ids.with_values(tf.where(unknown, self.vocabulary[self.unknown_token], ids.values))
        check = tf.debugging.Assert(
            ~tf.reduce_any(unknown),
            [_UNKNOWN_MESSAGE, tf.boolean_mask(symbols.values, unknown)],
            summarize=5,
        )
        with tf.control_dependencies([check]):
            return ids.with_values(tf.identity(ids.values))

    def _tokenize_texts(self, texts):
        """1-D texts (no special tokens) -> ragged [batch, ids]."""
        if self.add_prefix_space:
            needs = (tf.strings.length(texts) > 0) & (tf.strings.substr(texts, 0, 1) != " ")
            texts = tf.where(needs, tf.strings.join([" ", texts]), texts)
        words = split_words(texts)  # [B, W]
        ids = self._words_to_ids(words.values)  # [all words, ids]
        return tf.RaggedTensor.from_row_lengths(ids, words.row_lengths()).merge_dims(1, 2)

    def tokenize(self, inputs):
        inputs = to_string_tensor(inputs)
        check_valid_utf8(inputs)
        texts = tf.reshape(inputs, [-1])
        if tf.executing_eagerly():
            # Eager calls run the traced graph: the merge loop would
            # otherwise run op by op in Python (about 10x slower).
            try:
                ids = self._traced_tokenize(texts)
            except tf.errors.InvalidArgumentError as error:
                lines = [line for line in str(error).splitlines() if _UNKNOWN_MESSAGE in line]
                if not lines:
                    raise
                raise ValueError(lines[0].strip()) from None
        else:
            ids = self._tokenize_batch(texts)
        return ids.values if inputs.shape.rank == 0 else ids

    def _tokenize_batch(self, texts):
        if self.special_tokens_in_strings and self.special_tokens:
            ids = self._tokenize_with_special_tokens(texts)
        else:
            ids = self._tokenize_texts(texts)
        return tf.cast(ids, tf.int32)

    def _tokenize_with_special_tokens(self, texts):
        tokens = sorted(set(self.special_tokens.values()), key=len, reverse=True)  # longest match first
        pattern = "|".join(re.escape(t) for t in tokens)
        pieces = tf_text.regex_split(texts, pattern, pattern)  # [B, P]
        special_ids = self._vocab_table.lookup(pieces.values)
        is_special = tf.strings.regex_full_match(pieces.values, pattern)
        text_ids = self._tokenize_texts(tf.where(is_special, "", pieces.values))  # [P, ids]
        single = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(special_ids, is_special), tf.cast(is_special, tf.int64)
        )
        per_piece = tf.concat([single, tf.cast(text_ids, tf.int32)], axis=1)
        return tf.RaggedTensor.from_row_lengths(per_piece, pieces.row_lengths()).merge_dims(1, 2)

    # --- detokenize -------------------------------------------------------
    def detokenize(self, ids):
        """Ids (1-D, 2-D or ragged [batch, None]) -> string(s).

        Raises:
            ValueError: eagerly, for an id outside [0, vocabulary_size).
        """
        if not isinstance(ids, (tf.Tensor, tf.RaggedTensor)):
            if isinstance(ids, (list, tuple)) and not ids:
                ids = tf.zeros([0], tf.int32)  # no ids (an empty text's); [] alone converts to float32
            else:
                ids = tf.ragged.constant(ids, dtype=tf.int32) if _is_nested_ragged(ids) else tf.convert_to_tensor(ids)
        if not ids.dtype.is_integer:
            raise TypeError(f"`ids` must be integers, got dtype {ids.dtype.name}.")
        if ids.shape.rank not in (1, 2):
            raise ValueError(f"`ids` must have shape [length] or [batch, length], got shape {ids.shape}.")
        flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else tf.reshape(ids, [-1])
        flat = tf.cast(flat, tf.int32)
        in_range = (flat >= 0) & (flat < self.vocabulary_size)
        if tf.executing_eagerly():
            if not bool(tf.reduce_all(in_range)):
                bad = tf.boolean_mask(flat, ~in_range).numpy()[:5].tolist()
                raise ValueError(f"`ids` must be in [0, {self.vocabulary_size}), got {bad}.")
        else:
            check = tf.debugging.Assert(tf.reduce_all(in_range), ["ByteBPETokenizer.detokenize: id out of range"])
            with tf.control_dependencies([check]):
                flat = tf.identity(flat)
        tokens = tf.gather(self._id_to_token_tensor, flat)
        if isinstance(ids, tf.RaggedTensor):
            tokens = ids.with_flat_values(tokens)
        else:
            tokens = tf.reshape(tokens, tf.shape(ids))
        text = tf.strings.reduce_join(tokens, axis=-1)
        return self._unmap_bytes(text)

    def _unmap_bytes(self, text):
        """Byte-level characters -> the original UTF-8 bytes; other characters pass through."""
        shape = tf.shape(text)
        chars = tf.strings.unicode_split(tf.reshape(text, [-1]), "UTF-8")
        points = tf.strings.unicode_decode(chars.values, "UTF-8").values  # one code point per char
        byte = tf.gather(self._char_to_byte, tf.minimum(points, 323))
        mapped = (points < 324) & (byte >= 0)
        pieces = tf.where(mapped, tf.gather(self._byte_strings, tf.maximum(byte, 0)), chars.values)
        return tf.reshape(tf.strings.reduce_join(chars.with_values(pieces), axis=1), shape)

    # --- config -----------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": dict(self.vocabulary),
                "merges": list(self.merges),
                "add_prefix_space": self.add_prefix_space,
                "unknown_token": self.unknown_token,
                "special_tokens": dict(self.special_tokens),
                "special_tokens_in_strings": self.special_tokens_in_strings,
            }
        )
        return config


def _is_nested_ragged(ids):
    return isinstance(ids, (list, tuple)) and any(isinstance(x, (list, tuple, np.ndarray)) for x in ids)


def _special_token_property(role, suffix):
    def getter(self):
        token = self.special_tokens.get(role)
        if token is None or suffix == "":
            return token
        return self.token_to_id(token)

    getter.__doc__ = f"The {role} token{' id' if suffix else ''}, or None if not set."
    return property(getter)


for _role in SPECIAL_TOKEN_ROLES:
    setattr(ByteBPETokenizer, f"{_role}_token", _special_token_property(_role, ""))
    setattr(ByteBPETokenizer, f"{_role}_token_id", _special_token_property(_role, "_id"))
