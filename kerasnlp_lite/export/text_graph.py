"""Every tokenizer of this library as the same two TF functions, for the string signatures of every export.

`TokenizerGraph(tokenizer)` has these functions, which convert to TFLite with
builtin ops plus tf-text custom ops (never Flex):

- `tokenize(texts)`: tf.string `[B]` -> (`token_ids` int32 `[N]`, the rows'
  ids one after another; `row_lengths` int32 `[B]`). `tokenize_ragged` gives
  the same ids as a `tf.RaggedTensor` `[B, None]` for the packers.
- `detokenize(token_ids, row_lengths)`: int32 `[N]` and `[B]` -> tf.string `[B]`.

Ids are exactly the tokenizer's own (`tokenizer.tokenize`); framing (start /
end tokens, packing, truncation) stays with the preprocessor's packer or the
bundle's metadata, as for Keras.

Backends:
- `WordPieceTokenizer`, `SentencePieceTokenizer`: their own `tokenize` /
  `detokenize` (tf-text's fast kernels: `FastBertNormalizer`,
  `FastWordpieceTokenizer`, `FastSentencepieceTokenizer` custom ops).
- `ByteBPETokenizer` (GPT-2, RoBERTa, BART): `tokenizer.tflite_module()`, the
  byte-level BPE graph (builtins plus `TFText>ByteSplitWithOffsets` and
  `TFText>NgramsStringJoin`); its `tokenize` in a graph adds checks (Assert
  ops) that TFLite could not run.
Any other tokenizer is a ValueError naming it.
"""

import tensorflow as tf

from kerasnlp_lite.tokenizers import ByteBPETokenizer, SentencePieceTokenizer, WordPieceTokenizer

SUPPORTED_TOKENIZERS = (WordPieceTokenizer, SentencePieceTokenizer, ByteBPETokenizer)


class TokenizerGraph:
    """`tokenize` / `detokenize` of one tokenizer as TF code that converts to TFLite (module docstring).

    Args:
        tokenizer: a `WordPieceTokenizer`, `SentencePieceTokenizer` or `ByteBPETokenizer`.
        detokenize: False when only `tokenize` is needed: a WordPiece model is
            then rebuilt without its detokenization tables (0.5 MB less for
            MiniLM's 30k vocabulary; the same ids).

    Raises:
        ValueError: a tokenizer that cannot run in TFLite (another class; a
            `ByteBPETokenizer` with `special_tokens_in_strings=True` or with
            bytes missing from its vocabulary and no `unknown_token`).
    """

    def __init__(self, tokenizer, detokenize=True):
        if not isinstance(tokenizer, SUPPORTED_TOKENIZERS):
            raise ValueError(
                f"{type(tokenizer).__name__} cannot go to TFLite: string signatures need one of "
                f"{[cls.__name__ for cls in SUPPORTED_TOKENIZERS]} (tf-text fast kernels or the byte-level BPE "
                "graph). Export with `tokenizer=False` (ids only) or use one of these tokenizers."
            )
        self.tokenizer = tokenizer
        self._module = None
        if isinstance(tokenizer, ByteBPETokenizer):
            self._module = tokenizer.tflite_module()  # raises ValueError when it cannot convert
        elif not detokenize and getattr(tokenizer, "support_detokenization", False):
            config = dict(tokenizer.get_config(), support_detokenization=False)
            self.tokenizer = type(tokenizer).from_config(config)

    def tokenize(self, texts):
        """tf.string `[B]` -> (token_ids int32 `[N]`, row_lengths int32 `[B]`)."""
        if self._module is not None:
            out = self._module.tokenize(texts)
            return out["token_ids"], out["row_lengths"]
        # No UTF-8 Assert (TFLite has no such op): `LiteRunner` checks the text, CONTRACT.md asks apps to.
        ids = self.tokenizer.tokenize(texts, validate_utf8=False)  # ragged [B, None]
        return tf.cast(ids.flat_values, tf.int32), tf.cast(ids.row_lengths(), tf.int32)

    def tokenize_ragged(self, texts):
        """tf.string `[B]` -> int32 `tf.RaggedTensor` `[B, None]` (what a packer takes)."""
        if self._module is None:
            return tf.cast(self.tokenizer.tokenize(texts, validate_utf8=False), tf.int32)
        token_ids, row_lengths = self.tokenize(texts)
        return tf.RaggedTensor.from_row_lengths(token_ids, tf.cast(row_lengths, tf.int64), validate=False)

    def detokenize(self, token_ids, row_lengths):
        """int32 `[N]` ids and `[B]` row lengths -> tf.string `[B]`.

        The bundles call it on one row. Measured in TFLite: WordPiece and
        byte-level BPE detokenize 3 rows in a call; tf-text's
        FastSentencepieceDetokenize kernel crashes (segfault) on 3 rows.
        """
        token_ids = tf.cast(token_ids, tf.int32)
        if self._module is not None:
            return self._module.detokenize(token_ids, tf.cast(row_lengths, tf.int32))["text"]
        # int64 row splits: FastWordpieceDetokenize accepts no others; SentencePieceTokenizer casts to int32.
        splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(tf.cast(row_lengths, tf.int64))], 0)
        ids = tf.RaggedTensor.from_row_splits(token_ids, splits, validate=False)
        return tf.reshape(self.tokenizer.detokenize(ids), [-1])

