"""Strings -> the inputs of an encoder-decoder (text-to-text, as T5 frames every task)."""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.seq2seq import pad_rows, seq2seq_examples
from kerasnlp_lite.models.preprocessor import Preprocessor
from kerasnlp_lite.utils.validation import check_id, check_positive_int


def _pad_ragged(rows, length, pad_token_id, name):
    """Ragged `[B, None]` -> dense ids and int32 mask `[B, length or longest]`; a longer row is an error."""
    if length is not None:
        check = tf.debugging.assert_less_equal(
            tf.cast(tf.reduce_max(tf.concat([rows.row_lengths(), [0]], 0)), tf.int64), tf.cast(length, tf.int64),
            message=f"a text of `{name}` is longer than its sequence length {length}; nothing is truncated "
            "silently: use a longer sequence length",
        )
        with tf.control_dependencies([check]):
            rows = tf.identity(rows)
        shape = [None, length]
    else:
        shape = None
    ids = rows.to_tensor(pad_token_id, shape=shape)
    mask = tf.ones_like(rows, tf.int32).to_tensor(0, shape=shape)
    return tf.cast(ids, tf.int32), mask


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class Seq2SeqPreprocessor(Preprocessor):
    """Tokenizes source (and target) strings for `Seq2SeqLM`.

    Sources become `[encoder_start_token_id] + tokens + [end_token_id]`
    (BART wraps `<s> ... </s>`; T5 appends `</s>` only: pass
    `encoder_start_token_id=None`); targets `tokens + [end_token_id]`.
    Text-to-text tasks are strings with a prefix: `"translate English to
    German: That is good."` -> `"Das ist gut."`.

    Args:
        tokenizer: a `kerasnlp_lite.tokenizers` tokenizer.
        end_token_id: appended to sources and targets.
        decoder_start_token_id: first decoder input of the training examples.
        pad_token_id: padding id.
        encoder_start_token_id: optional id put before every source.
        encoder_sequence_length, decoder_sequence_length: fixed widths of
            the packed arrays (None: the longest row). A longer text is an
            error, never truncated.
    """

    def __init__(
        self,
        tokenizer,
        end_token_id,
        decoder_start_token_id,
        pad_token_id=0,
        encoder_start_token_id=None,
        encoder_sequence_length=None,
        decoder_sequence_length=None,
        **kwargs,
    ):
        super().__init__(tokenizer, **kwargs)
        vocabulary_size = getattr(tokenizer, "vocabulary_size", None)
        self.end_token_id = check_id(end_token_id, "end_token_id", vocabulary_size)
        self.decoder_start_token_id = check_id(decoder_start_token_id, "decoder_start_token_id", vocabulary_size)
        self.pad_token_id = check_id(pad_token_id, "pad_token_id", vocabulary_size)
        self.encoder_start_token_id = check_id(
            encoder_start_token_id, "encoder_start_token_id", vocabulary_size, allow_none=True
        )
        check_positive_int(encoder_sequence_length, "encoder_sequence_length", allow_none=True)
        check_positive_int(decoder_sequence_length, "decoder_sequence_length", allow_none=True)
        self.encoder_sequence_length = encoder_sequence_length
        self.decoder_sequence_length = decoder_sequence_length

    def _ids(self, texts, start):
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        texts = list(texts)
        if not texts or not all(isinstance(t, (str, bytes)) for t in texts):
            raise TypeError("Texts must be a string or a non-empty list of strings.")
        rows = self.tokenizer.tokenize(tf.constant(texts)).to_list()
        prefix = [] if start is None else [start]
        return [prefix + list(row) + [self.end_token_id] for row in rows]

    def encoder_inputs(self, texts):
        """`encoder_token_ids`, `encoder_padding_mask` (int32 numpy) of source strings."""
        ids, mask = pad_rows(
            self._ids(texts, self.encoder_start_token_id), self.encoder_sequence_length, self.pad_token_id, "texts"
        )
        return {"encoder_token_ids": ids, "encoder_padding_mask": mask}

    def examples(self, source_texts, target_texts):
        """`(x, labels)` for `Seq2SeqLM.fit` from parallel lists of strings."""
        return seq2seq_examples(
            self._ids(source_texts, self.encoder_start_token_id),
            self._ids(target_texts, None),
            self.decoder_start_token_id,
            self.end_token_id,
            self.pad_token_id,
            self.encoder_sequence_length,
            self.decoder_sequence_length,
        )

    makes_targets = True

    def _framed(self, texts, start):
        """`[B]` strings -> ragged ids `[start] tokens [end]`, TF ops only."""
        ids = tf.cast(self.tokenizer.tokenize(texts), tf.int32)
        batch = tf.shape(texts)[:1]

        def column(value):
            return tf.RaggedTensor.from_tensor(
                tf.fill(tf.concat([batch, [1]], 0), value), row_splits_dtype=ids.row_splits.dtype
            )

        parts = [ids, column(self.end_token_id)]
        if start is not None:
            parts.insert(0, column(start))
        return tf.concat(parts, axis=1)

    def features(self, x):
        """Encoder inputs of a `[B]` string tensor (TF ops only)."""
        ids, mask = _pad_ragged(
            self._framed(x, self.encoder_start_token_id), self.encoder_sequence_length, self.pad_token_id, "sources"
        )
        return {"encoder_token_ids": ids, "encoder_padding_mask": mask}

    def training_batch(self, x, y=None, sample_weight=None, seed=None):
        """`x` = (sources, targets) string tensors `[B]` -> the four inputs, labels and label weights."""
        if isinstance(x, dict):
            x = (x["encoder_text"], x["decoder_text"])
        if not isinstance(x, (tuple, list)) or len(x) != 2 or y is not None:
            raise ValueError(
                "Seq2SeqLM takes text as (sources, targets): `fit(sources, targets)`, `fit(x=(sources, targets))` "
                "or a dataset of (source, target) string pairs."
            )
        sources, targets = x
        inputs = self.features(sources)
        labels, decoder_mask = _pad_ragged(
            self._framed(targets, None), self.decoder_sequence_length, self.pad_token_id, "targets"
        )
        # Teacher forcing: the decoder reads the target shifted right behind the start token.
        start = tf.fill([tf.shape(labels)[0], 1], tf.constant(self.decoder_start_token_id, tf.int32))
        decoder_ids = tf.concat([start, labels[:, :-1]], axis=1)
        inputs["decoder_token_ids"] = tf.where(decoder_mask > 0, decoder_ids, self.pad_token_id)
        inputs["decoder_padding_mask"] = decoder_mask
        weights = tf.cast(decoder_mask, tf.float32)
        if sample_weight is not None:
            weights = weights * tf.reshape(tf.cast(sample_weight, tf.float32), [-1, 1])
        return inputs, labels, weights

    def call(self, inputs):
        return self.encoder_inputs(np.asarray(inputs).tolist())

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "end_token_id": self.end_token_id,
                "decoder_start_token_id": self.decoder_start_token_id,
                "pad_token_id": self.pad_token_id,
                "encoder_start_token_id": self.encoder_start_token_id,
                "encoder_sequence_length": self.encoder_sequence_length,
                "decoder_sequence_length": self.decoder_sequence_length,
            }
        )
        return config
