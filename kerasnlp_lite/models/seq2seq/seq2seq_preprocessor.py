"""Strings -> the inputs of an encoder-decoder (text-to-text, as T5 frames every task)."""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.seq2seq import pad_rows, seq2seq_examples


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class Seq2SeqPreprocessor(keras.layers.Layer):
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
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.end_token_id = end_token_id
        self.decoder_start_token_id = decoder_start_token_id
        self.pad_token_id = pad_token_id
        self.encoder_start_token_id = encoder_start_token_id
        self.encoder_sequence_length = encoder_sequence_length
        self.decoder_sequence_length = decoder_sequence_length
        self.built = True

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

    def call(self, inputs):
        return self.encoder_inputs(np.asarray(inputs).tolist())

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
                "end_token_id": self.end_token_id,
                "decoder_start_token_id": self.decoder_start_token_id,
                "pad_token_id": self.pad_token_id,
                "encoder_start_token_id": self.encoder_start_token_id,
                "encoder_sequence_length": self.encoder_sequence_length,
                "decoder_sequence_length": self.decoder_sequence_length,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)
