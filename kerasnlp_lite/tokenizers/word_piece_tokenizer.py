"""BERT's WordPiece tokenizer on tf-text's fast kernels (TFLite custom ops).

Pipeline (every op has a TFLite kernel in tf-text or is a builtin):
  1. `FastBertNormalizer` with our own normalizer model (`_bert_normalizer`):
     BERT's text cleaning, CJK padding, optional accent stripping and
     lower-casing, and BERT's whitespace/punctuation pre-tokenization, all as a
     per-codepoint map. (tf-text's stock model case-folds with NFKC and keeps
     private-use/unassigned characters, which differs from the reference BERT
     tokenizers on ~146k codepoints.)
  2. `WhitespaceTokenizer`: words are the runs between spaces.
  3. `FastWordpieceTokenizer(no_pretokenization=True)`: greedy
     longest-match-first WordPiece per word (Wu et al. 2016,
     https://arxiv.org/abs/1609.08144; Devlin et al. 2019, BERT), linear
     time (Song et al. 2021, https://arxiv.org/abs/2012.15524).
  4. A word of more than `max_chars_per_word` characters becomes one unknown
     token, as in BERT (it counts characters; tf-text counts bytes, so the
     characters are counted here with `ByteSplitter`).

Shapes: a scalar string -> 1-D int32 ids; `[B]` strings -> ragged `[B, None]`.
"""

import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from kerasnlp_lite.tokenizers._bert_normalizer import build_normalizer_model
from kerasnlp_lite.tokenizers.tokenizer import Tokenizer, check_valid_utf8, to_string_tensor
from kerasnlp_lite.utils.validation import is_int

# BERT's `max_input_chars_per_word` (google-research/bert tokenization.py).
DEFAULT_MAX_CHARS_PER_WORD = 100
# Longest UTF-8 encoding of one character.
_MAX_UTF8_BYTES = 4


def load_vocabulary(vocabulary):
    """A list of tokens from a list, or from a `vocab.txt` path (one token a line)."""
    if isinstance(vocabulary, (str, os.PathLike)):
        path = os.fspath(vocabulary)
        if not os.path.isfile(path):
            raise ValueError(f"`vocabulary` must be a list of tokens or the path of a vocab.txt file; no file at {path!r}.")
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\r\n") for line in f]
    if not isinstance(vocabulary, (list, tuple)):
        raise TypeError(f"`vocabulary` must be a list of strings or a file path, got {type(vocabulary).__name__}.")
    vocabulary = list(vocabulary)
    bad = [t for t in vocabulary if not isinstance(t, str)]
    if bad:
        raise TypeError(f"`vocabulary` must contain only strings, got {bad[:3]!r}.")
    return vocabulary


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class WordPieceTokenizer(Tokenizer):
    """BERT WordPiece tokenizer that runs eagerly, in `tf.data`, `tf.function` and TFLite.

    Gives the same ids as the reference BERT tokenizer (HF `tokenizers`'
    BertNormalizer + BertPreTokenizer + WordPiece, equivalently
    google-research/bert's FullTokenizer) for the same vocabulary and
    options. Literal special-token strings in the text (e.g. "[MASK]") are
    tokenized as ordinary text ("[", "mask", "]"), as in BERT's original
    tokenizer; HF's added-token matching is not reproduced.

    Args:
        vocabulary: a list of token strings (index = id) or the path of a
            BERT `vocab.txt`. Stored as a list in the config, so saved models
            are self-contained.
        lowercase: lower-case the text (BERT "uncased").
        strip_accents: NFD-decompose and drop nonspacing marks; None follows
            `lowercase` (as in BERT and HF).
        unknown_token: token for words that cannot be split into pieces;
            must be in the vocabulary.
        cls_token, sep_token, pad_token, mask_token: BERT's special tokens;
            each must be in the vocabulary, or None when the vocabulary has
            no such token.
        suffix_indicator: prefix of word-internal pieces.
        max_chars_per_word: longer words (in characters, after
            normalization) become one unknown token.
        support_detokenization: build the WordPiece model with the tables
            `detokenize` needs (0.5 MB more for a 30k vocabulary). The export
            of tokenize-only signatures (`classify`, `embed`) turns it off to
            keep the file small.
        **kwargs: Keras layer arguments (`name`, ...).

    Call arguments:
        inputs: a scalar string or a `[B]` batch of strings (Python, numpy or
            tf). Invalid UTF-8 is an error, never silently an unknown token:
            ValueError eagerly, InvalidArgumentError naming `inputs` inside a
            graph (tf.data, tf.function). In TFLite the string signatures
            cannot check it: `LiteRunner` refuses such text, and apps must
            pass valid UTF-8 (export/CONTRACT.md).

    Returns:
        int32 ids: `[T]` for a scalar, a `tf.RaggedTensor` `[B, None]` for a
        batch.

    Example:
    >>> tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "."])
    >>> tokenizer.tokenize("The cats.").numpy().tolist()
    [5, 6, 7, 8]
    """

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        strip_accents=None,
        unknown_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        suffix_indicator="##",
        max_chars_per_word=DEFAULT_MAX_CHARS_PER_WORD,
        support_detokenization=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(support_detokenization, bool):
            raise TypeError(f"`support_detokenization` must be a bool, got {support_detokenization!r}.")
        vocabulary = load_vocabulary(vocabulary)
        if not vocabulary:
            raise ValueError("`vocabulary` must not be empty.")
        seen = {}
        for index, token in enumerate(vocabulary):
            if token in seen:
                raise ValueError(f"`vocabulary` has the token {token!r} twice (ids {seen[token]} and {index}).")
            seen[token] = index
        for name, value in (("lowercase", lowercase),):
            if not isinstance(value, bool):
                raise TypeError(f"`{name}` must be a bool, got {value!r}.")
        if strip_accents is not None and not isinstance(strip_accents, bool):
            raise TypeError(f"`strip_accents` must be None or a bool, got {strip_accents!r}.")
        if not is_int(max_chars_per_word) or max_chars_per_word < 1:
            raise ValueError(f"`max_chars_per_word` must be an integer >= 1, got {max_chars_per_word!r}.")
        if not isinstance(suffix_indicator, str) or not suffix_indicator:
            raise ValueError(f"`suffix_indicator` must be a non-empty string, got {suffix_indicator!r}.")
        if not isinstance(unknown_token, str) or unknown_token not in seen:
            raise ValueError(
                f"`unknown_token` {unknown_token!r} is not in the vocabulary; WordPiece needs it for words it "
                "cannot split. Add it to the vocabulary or pass the vocabulary's unknown token."
            )
        special = {"unknown": unknown_token}
        for role, token in (("cls", cls_token), ("sep", sep_token), ("pad", pad_token), ("mask", mask_token)):
            if token is None:
                continue
            if not isinstance(token, str) or token not in seen:
                raise ValueError(f"`{role}_token` {token!r} is not in the vocabulary (pass None if it has none).")
            special[role] = token

        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.unknown_token = unknown_token
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.pad_token = pad_token
        self.mask_token = mask_token
        self.suffix_indicator = suffix_indicator
        self.max_chars_per_word = max_chars_per_word
        self.support_detokenization = support_detokenization
        self.special_tokens = special
        self._token_to_id_table = seen

        effective_strip = lowercase if strip_accents is None else strip_accents
        self._normalizer = tf_text.FastBertNormalizer(model_buffer=build_normalizer_model(lowercase, effective_strip))
        self._whitespace = tf_text.WhitespaceTokenizer()
        self._byte_splitter = tf_text.ByteSplitter()
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=suffix_indicator,
            # tf-text limits bytes; BERT limits characters (checked below).
            max_bytes_per_word=_MAX_UTF8_BYTES * max_chars_per_word,
            token_out_type=tf.int32,
            unknown_token=unknown_token,
            no_pretokenization=True,
            support_detokenization=support_detokenization,
        )

    # --- vocabulary ---------------------------------------------------------
    def get_vocabulary(self):
        return list(self.vocabulary)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def _special_id(self, token):
        return None if token is None else self._token_to_id_table[token]

    @property
    def unknown_token_id(self):
        return self._special_id(self.unknown_token)

    @property
    def cls_token_id(self):
        return self._special_id(self.cls_token)

    @property
    def sep_token_id(self):
        return self._special_id(self.sep_token)

    @property
    def pad_token_id(self):
        return self._special_id(self.pad_token)

    @property
    def mask_token_id(self):
        return self._special_id(self.mask_token)

    # --- tokenize -----------------------------------------------------------
    def tokenize(self, inputs, validate_utf8=True):
        """Strings -> int32 ids (see the class docstring for shapes).

        Args:
            inputs: a scalar string or a `[B]` batch of strings.
            validate_utf8: refuse invalid UTF-8 (`tokenizer.check_valid_utf8`).
                False only where its Assert cannot run: the TFLite string
                signatures (`export.text_graph`), whose text `LiteRunner` checks.
        """
        inputs = to_string_tensor(inputs, "inputs")
        if validate_utf8:
            inputs = check_valid_utf8(inputs, "inputs")
        scalar = inputs.shape.rank == 0
        batch = tf.reshape(inputs, [-1])
        normalized = self._normalizer.normalize(batch)
        words, starts, ends = self._whitespace.tokenize_with_offsets(normalized)  # [B, W] strings
        pieces = self._wordpiece.tokenize(words.flat_values)  # [N_words, P]

        # Characters per word, counted only for words of more bytes than
        # `max_chars_per_word` (the others cannot be too long): UTF-8 bytes
        # that are not continuation bytes (0x80-0xBF).
        num_words = tf.shape(words.flat_values)[0]
        long_index = tf.reshape(tf.where((ends.flat_values - starts.flat_values) > self.max_chars_per_word), [-1])
        word_bytes = self._byte_splitter.split(tf.gather(words.flat_values, long_index))  # [N_long, bytes]
        byte_values = tf.cast(word_bytes.flat_values, tf.int32)
        is_char_start = tf.cast(tf.logical_or(byte_values < 0x80, byte_values >= 0xC0), tf.int32)
        long_chars = tf.math.unsorted_segment_sum(
            is_char_start, word_bytes.value_rowids(), tf.shape(long_index, out_type=word_bytes.row_splits.dtype)[0]
        )
        char_counts = tf.scatter_nd(long_index[:, None], long_chars, tf.cast(num_words, long_index.dtype)[None])
        too_long = char_counts > self.max_chars_per_word  # [N_words]

        # A too-long word keeps only its first piece, replaced by [UNK].
        piece_word = pieces.value_rowids()
        piece_too_long = tf.gather(too_long, piece_word)
        position_in_word = tf.range(tf.shape(pieces.flat_values)[0], dtype=piece_word.dtype) - tf.gather(
            pieces.row_splits, piece_word
        )
        keep = tf.logical_or(tf.logical_not(piece_too_long), tf.equal(position_in_word, 0))
        ids = tf.where(piece_too_long, tf.constant(self.unknown_token_id, tf.int32), pieces.flat_values)
        ids = tf.boolean_mask(ids, keep)
        piece_sentence = tf.boolean_mask(tf.gather(words.value_rowids(), piece_word), keep)
        # Counted in int32: TFLite's UNSORTED_SEGMENT_SUM has no int64 kernel
        # (an int64 sum becomes an unresolved custom op once the lengths are used).
        lengths = tf.math.unsorted_segment_sum(
            tf.ones_like(piece_sentence, dtype=tf.int32), piece_sentence, tf.shape(batch, out_type=piece_sentence.dtype)[0]
        )
        output = tf.RaggedTensor.from_row_lengths(ids, tf.cast(lengths, tf.int64), validate=False)
        if scalar:
            return output.flat_values
        return output

    # --- detokenize ---------------------------------------------------------
    def detokenize(self, ids):
        """Ids -> text: pieces joined ("##" pieces glued to the previous one)
        and words separated by single spaces.

        Lossy: case and accents (when lower-casing / stripping), the original
        whitespace, deleted control characters, and spacing around
        punctuation are not recovered ("Hi, there!" -> "hi , there !"); an
        unknown token comes back as the unknown token's string.

        Args:
            ids: `[T]` ids (-> scalar string) or `[B, T]` dense or ragged ids
                (-> `[B]` strings).
        """
        if not self.support_detokenization:
            raise ValueError(
                "This WordPieceTokenizer was built with `support_detokenization=False`; build it with True to detokenize."
            )
        if isinstance(ids, (list, tuple)) and ids and isinstance(ids[0], (list, tuple)):
            ids = tf.ragged.constant(ids, dtype=tf.int32)
        elif not isinstance(ids, (tf.Tensor, tf.RaggedTensor, tf.Variable)):
            ids = tf.convert_to_tensor(np.asarray(ids, dtype=np.int32) if not isinstance(ids, np.ndarray) else ids)
        if not ids.dtype.is_integer:
            raise TypeError(f"`ids` must have an integer dtype, got {ids.dtype.name}.")
        if ids.shape.rank not in (1, 2):
            raise ValueError(f"`ids` must have shape [T] or [B, T], got shape {ids.shape}.")
        ids = tf.cast(ids, tf.int32)
        flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids
        size = self.vocabulary_size
        if tf.executing_eagerly():
            values = flat.numpy()
            bad = values[(values < 0) | (values >= size)]
            if bad.size:
                raise ValueError(f"`ids` must be in [0, {size}) (the vocabulary size), got {bad[:5].tolist()}.")
        else:
            checks = [
                tf.debugging.assert_non_negative(flat, message="`ids` must be >= 0."),
                tf.debugging.assert_less(flat, size, message=f"`ids` must be < vocabulary_size={size}."),
            ]
            with tf.control_dependencies(checks):
                ids = tf.identity(ids) if not isinstance(ids, tf.RaggedTensor) else ids.with_flat_values(
                    tf.identity(ids.flat_values)
                )
        if ids.shape.rank == 1:
            return self._wordpiece.detokenize(ids[tf.newaxis])[0]
        return self._wordpiece.detokenize(ids)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": list(self.vocabulary),
                "lowercase": self.lowercase,
                "strip_accents": self.strip_accents,
                "unknown_token": self.unknown_token,
                "cls_token": self.cls_token,
                "sep_token": self.sep_token,
                "pad_token": self.pad_token,
                "mask_token": self.mask_token,
                "suffix_indicator": self.suffix_indicator,
                "max_chars_per_word": self.max_chars_per_word,
                "support_detokenization": self.support_detokenization,
            }
        )
        return config
