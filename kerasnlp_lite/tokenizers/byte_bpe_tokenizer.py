"""GPT-2 / RoBERTa byte-level BPE on TensorFlow string ops.

Reproduces the ids of OpenAI's GPT-2 encoder (and of the `tokenizers`
package's `ByteLevel` + `BPE` pipeline) from a `vocab.json` and a
`merges.txt`:

1. Pre-split with GPT-2's regex (Radford et al., 2019, "Language Models are
   Unsupervised Multitask Learners", and openai/gpt-2 `encoder.py`):
   `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`.
   Done by a rule on neighbouring characters' Unicode classes, not a regex
   (`_byte_bpe_graph._word_starts` derives it). `split_words`, the older
   RE2 rewrite, is kept for callers but no longer used here.
2. Map each UTF-8 byte of a word to a printable character (`bytes_to_unicode`,
   so that no byte is whitespace or a control character).
3. Merge adjacent symbols, always the pair with the lowest merge rank and,
   among equal ranks, the leftmost (the order of the `tokenizers` package).

Steps 1-3 run as one graph of arithmetic on bytes and constant tables
(`_byte_bpe_graph`, whose docstring has the design and its cost per byte):
the same ids eagerly, in `tf.data`, in `tf.function` and in TFLite
(`tflite_module`, `export_tflite`: builtin ops plus two tf-text kernels, no
Flex). Text after a NUL byte is tokenized like any other. Any bytes are
valid input, invalid UTF-8 included (each invalid byte is a symbol of its
own): byte-level BPE is lossless, `detokenize(tokenize(x)) == x` for every
byte string x (without `add_prefix_space`), the same way eagerly, in graphs
and in TFLite (tests/tokenizers/test_bad_input.py).
"""

import re

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from kerasnlp_lite.tokenizers._byte_bpe_graph import ByteBPEGraph
from kerasnlp_lite.tokenizers._byte_level import (  # noqa: F401 (bytes_to_unicode, split_words: public here)
    bytes_to_unicode,
    read_merges,
    read_vocabulary,
    split_words,
)
from kerasnlp_lite.tokenizers.tokenizer import Tokenizer, to_string_tensor

_UNKNOWN_MESSAGE = "ByteBPETokenizer: symbols not in the vocabulary and no `unknown_token` is set:"

SPECIAL_TOKEN_ROLES = ("bos", "eos", "pad", "unk", "mask", "cls", "sep")


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class ByteBPETokenizer(Tokenizer):
    """GPT-2 / RoBERTa byte-level BPE tokenizer.

    Works eagerly, inside `tf.data`, inside `tf.function` and, through
    `tflite_module` / `export_tflite`, in TFLite (see the module docstring).

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
        inputs: a string, or a 1-D batch of strings: any bytes (invalid
            UTF-8 is kept byte by byte, see the module docstring).

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
        self._bpe = ByteBPEGraph(self.vocabulary, self.merges, bytes_to_unicode())
        # Special tokens inside strings (Keras path only). Only then: a hash table is a resource that a model
        # holding this tokenizer carries into every SavedModel, and its initializer (HashTableV2,
        # LookupTableImportV2) has no TFLite kernel.
        self._vocab_table = None
        if self.special_tokens_in_strings and self.special_tokens:
            tokens = list(self.vocabulary)
            self._vocab_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(tokens), tf.constant(np.array([self.vocabulary[t] for t in tokens], np.int32))
                ),
                -1,
            )
        self._byte_chars = tf.constant(bytes_to_unicode())
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
    def _handle_unknown(self, symbols):
        """Symbols (ids, or -(byte + 1) for bytes missing from the vocabulary) -> ids."""
        unknown = symbols < 0
        if self.unknown_token is not None:
            return tf.where(unknown, self.vocabulary[self.unknown_token], symbols)
        missing = tf.gather(self._byte_chars, -tf.boolean_mask(symbols, unknown) - 1)
        check = tf.debugging.Assert(~tf.reduce_any(unknown), [_UNKNOWN_MESSAGE, missing], summarize=5)
        with tf.control_dependencies([check]):
            return tf.identity(symbols)

    def _tokenize_texts(self, texts):
        """1-D texts (no special tokens) -> ragged [batch, ids]."""
        symbols, row_lengths = self._bpe.tokenize(texts, add_prefix_space=self.add_prefix_space)
        return tf.RaggedTensor.from_row_lengths(self._handle_unknown(symbols), tf.cast(row_lengths, tf.int64))

    def tokenize(self, inputs):
        inputs = to_string_tensor(inputs)
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
        # tf-text's regex_split stops at a NUL byte (measured: "hello\x00world" gave "hello"). So split a copy
        # with each NUL as 0xFF, a byte no special token's UTF-8 holds, and cut the pieces from the original
        # text by the offsets (the copy has the same byte length).
        safe = tf.strings.regex_replace(texts, b"\\x00", b"\xff")
        safe_pieces, begins, ends = tf_text.regex_split_with_offsets(safe, pattern, pattern)  # [B, P]
        rows = safe_pieces.value_rowids()
        values = tf.strings.substr(tf.gather(texts, rows), begins.flat_values, ends.flat_values - begins.flat_values)
        pieces = safe_pieces.with_flat_values(values)
        special_ids = self._vocab_table.lookup(safe_pieces.values)
        is_special = tf.strings.regex_full_match(safe_pieces.values, pattern)
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
        if isinstance(ids, tf.RaggedTensor):
            row_lengths = tf.cast(ids.row_lengths(), tf.int32)
        elif ids.shape.rank == 2:
            row_lengths = tf.fill(tf.shape(ids)[:1], tf.shape(ids)[1])
        else:
            row_lengths = tf.shape(ids)[:1]
        text = self._bpe.detokenize(flat, row_lengths)
        return text if ids.shape.rank == 2 else text[0]

    # --- TFLite -----------------------------------------------------------
    def tflite_module(self):
        """A `tf.Module` whose `tokenize` and `detokenize` tf.functions convert to TFLite.

        Both run the graph of `tokenize`/`detokenize` (the same ids), on a
        batch of any size, with ids as a flat vector plus row lengths
        (ragged tensors do not convert):

        - `tokenize(text)`: `text` tf.string [B] -> dict `token_ids` int32 [N]
          (all rows' ids, row after row), `row_lengths` int32 [B]. For a
          batch-1 string-in signature, `token_ids` are the text's ids.
        - `detokenize(token_ids, row_lengths)`: int32 [N] and [B] -> dict
          `text` tf.string [B]. Ids must be in [0, vocabulary_size): TFLite's
          GATHER fails on others.

        Converted with builtin ops plus tf-text's `TFText>ByteSplitWithOffsets`
        and `TFText>NgramsStringJoin` (register
        `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`); see
        `export_tflite`. As in `tokenize`, invalid UTF-8 is not an error: each
        invalid byte is a punctuation-class character of its own, so
        detokenize returns the input bytes.

        Raises:
            ValueError: with `special_tokens_in_strings=True` (the special
                token match is a regex), or when some byte's character is
                not in the vocabulary and no `unknown_token` is set (a graph
                without asserts could not report it).
        """
        if self.special_tokens_in_strings:
            raise ValueError(
                "ByteBPETokenizer.tflite_module: `special_tokens_in_strings=True` needs a regex, which TFLite "
                "lacks; build the tokenizer with special_tokens_in_strings=False and insert special ids yourself."
            )
        missing = [b for b in range(256) if self._bpe.byte_ids[b] < 0]
        if missing and self.unknown_token is None:
            raise ValueError(
                f"ByteBPETokenizer.tflite_module: bytes {missing[:5]} have no token in the vocabulary and no "
                "`unknown_token` is set; TFLite cannot report them at run time."
            )
        tokenizer = self

        class ByteBPETokenizerModule(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
            def tokenize(self, text):
                symbols, row_lengths = tokenizer._bpe.tokenize(text, add_prefix_space=tokenizer.add_prefix_space)
                if tokenizer.unknown_token is not None:
                    symbols = tf.where(symbols < 0, tokenizer.vocabulary[tokenizer.unknown_token], symbols)
                return {"token_ids": symbols, "row_lengths": row_lengths}

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None], tf.int32, name="token_ids"),
                    tf.TensorSpec([None], tf.int32, name="row_lengths"),
                ],
                autograph=False,
            )
            def detokenize(self, token_ids, row_lengths):
                return {"text": tokenizer._bpe.detokenize(token_ids, row_lengths)}

        return ByteBPETokenizerModule()

    def export_tflite(self, path):
        """Writes `tflite_module()` as a TFLite file with signatures "tokenize" and "detokenize".

        Converts in this process (the TFLite converter leaks some memory per
        conversion: convert many tokenizers in child processes). Run it with
        `kerasnlp_lite.export.tflite.make_interpreter(..., tftext_ops=True)`.

        Returns:
            `path`.
        """
        import tempfile

        from kerasnlp_lite.export.format import stamp_checksum
        from kerasnlp_lite.export.tflite import convert_saved_model

        module = self.tflite_module()
        with tempfile.TemporaryDirectory() as tmp:
            tf.saved_model.save(
                module, tmp, signatures={"tokenize": module.tokenize, "detokenize": module.detokenize}
            )
            content = convert_saved_model(tmp, signature_keys=["tokenize", "detokenize"], allow_tftext_ops=True)
        with open(path, "wb") as f:
            f.write(stamp_checksum(content))  # as every exported file: `LiteRunner` verifies it
        return path

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
