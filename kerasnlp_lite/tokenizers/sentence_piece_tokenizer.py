"""SentencePiece tokenizer on tf-text's `FastSentencepieceTokenizer`.

The fast kernel runs eagerly, in `tf.data`, in `tf.function` and in TFLite
(custom ops `TFText>FastSentencepieceTokenize` / `...Detokenize`, registered
with `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`).

It reproduces the `sentencepiece` package exactly for unigram models, but not
for BPE models (measured in the tests: about a quarter of sentences get the
same ids; detokenization agrees for both). Use unigram models for anything
that must tokenize identically on device; a BPE model gives a UserWarning.
"""

import base64
import os
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from kerasnlp_lite.tokenizers.tokenizer import Tokenizer, check_valid_utf8, to_string_tensor
from kerasnlp_lite.utils.validation import checked_in_range

_BASE64_PREFIX = "base64:"


def _read_proto(proto):
    if isinstance(proto, (bytes, bytearray)):
        return bytes(proto)
    if isinstance(proto, str) and proto.startswith(_BASE64_PREFIX):
        return base64.b64decode(proto[len(_BASE64_PREFIX) :])
    if isinstance(proto, (str, os.PathLike)):
        if not os.path.isfile(proto):
            raise ValueError(f"`proto` file {str(proto)!r} does not exist.")
        with open(proto, "rb") as f:
            return f.read()
    raise TypeError(
        "`proto` must be serialized SentencePiece model bytes or the path of a .model file, "
        f"got {type(proto).__name__}."
    )


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class SentencePieceTokenizer(Tokenizer):
    """SentencePiece tokenizer (unigram or BPE model) that also runs in TFLite.

    Args:
        proto: the serialized SentencePiece `ModelProto` (bytes, e.g. from
            `train_sentencepiece`) or the path of a `.model` file. The bytes
            are kept in the config (base64), so `.keras` files are
            self-contained.
        **kwargs: base layer arguments (`name`, ...).

    Call arguments:
        inputs: a string or a 1-D batch of strings. Invalid UTF-8 is an
            error, never silently an unknown token: ValueError eagerly,
            InvalidArgumentError naming `inputs` inside a graph (tf.data,
            tf.function). In TFLite `LiteRunner` checks the text instead.

    Returns:
        int32 ids: 1-D for a scalar input, a `tf.RaggedTensor` [batch, None]
        for a batch. An empty string gives no ids. No BOS/EOS is added:
        that is the packers' job.

    Special tokens are those the model defines (`unk`, `bos`, `eos`, `pad`;
    SentencePiece leaves pad out by default), with `<role>_token` and
    `<role>_token_id` properties that are None when the model has none.

    Example:
    ```python
    proto = train_sentencepiece(texts, vocabulary_size=1000)
    tokenizer = SentencePieceTokenizer(proto)
    ids = tokenizer.tokenize(["The quick brown fox."])
    tokenizer.detokenize(ids)
    ```

    Reference:
        Kudo & Richardson, 2018, "SentencePiece: A simple and language
        independent subword tokenizer and detokenizer for Neural Text
        Processing".
    """

    def __init__(self, proto, **kwargs):
        super().__init__(**kwargs)
        import sentencepiece

        proto = _read_proto(proto)
        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(proto)
        except Exception as error:  # sentencepiece raises RuntimeError/OSError
            raise ValueError(f"`proto` is not a valid SentencePiece model ({error}).") from None
        self.proto = proto
        self._vocabulary = [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]
        self.special_tokens = {}
        for role, index in (
            ("unk", processor.unk_id()),
            ("bos", processor.bos_id()),
            ("eos", processor.eos_id()),
            ("pad", processor.pad_id()),
        ):
            if index >= 0:
                self.special_tokens[role] = self._vocabulary[index]
        self.model_type = _model_type(proto)
        if self.model_type == "bpe":
            warnings.warn(
                "This SentencePiece model is a BPE model: tf-text's FastSentencepieceTokenizer (used here and "
                "in TFLite) does not tokenize it exactly like `sentencepiece`. Use a unigram model for exact "
                "on-device tokenization.",
                UserWarning,
                stacklevel=2,
            )
        self._tokenizer = tf_text.FastSentencepieceTokenizer(proto)

    def get_vocabulary(self):
        """All pieces, in id order."""
        return list(self._vocabulary)

    @property
    def vocabulary_size(self):
        return len(self._vocabulary)

    def tokenize(self, inputs, validate_utf8=True):
        """Strings -> int32 ids; `validate_utf8=False` only for the TFLite string signatures (as WordPiece's)."""
        inputs = to_string_tensor(inputs)
        if validate_utf8:
            inputs = check_valid_utf8(inputs)
        return tf.cast(self._tokenizer.tokenize(inputs), tf.int32)

    def detokenize(self, ids):
        """Ids ([length], [batch, length] or ragged [batch, None]) -> string(s).

        Raises:
            ValueError: eagerly, for an id outside [0, vocabulary_size). In a
                graph, Assert ops fail with the same message (InvalidArgumentError);
                the TFLite converter drops them (`LiteRunner` checks ids).
        """
        if not isinstance(ids, (tf.Tensor, tf.RaggedTensor)):
            nested = isinstance(ids, (list, tuple)) and any(isinstance(x, (list, tuple, np.ndarray)) for x in ids)
            if isinstance(ids, (list, tuple)) and not ids:
                ids = tf.zeros([0], tf.int32)  # no ids (an empty text's); [] alone converts to float32
            else:
                ids = tf.ragged.constant(ids, dtype=tf.int32) if nested else tf.convert_to_tensor(ids)
        if not ids.dtype.is_integer:
            raise TypeError(f"`ids` must be integers, got dtype {ids.dtype.name}.")
        if ids.shape.rank not in (1, 2):
            raise ValueError(f"`ids` must have shape [length] or [batch, length], got shape {ids.shape}.")
        ids = tf.cast(ids, tf.int32)
        if isinstance(ids, tf.RaggedTensor):
            # The TFLite kernel reads the row splits as int32 (int64 splits
            # decode to empty strings there).
            ids = ids.with_row_splits_dtype(tf.int32)
        if tf.executing_eagerly():
            flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else tf.reshape(ids, [-1])
            bad = tf.boolean_mask(flat, (flat < 0) | (flat >= self.vocabulary_size)).numpy()
            if bad.size:
                raise ValueError(f"`ids` must be in [0, {self.vocabulary_size}), got {bad[:5].tolist()}.")
        else:
            # Assert ops naming `ids` (the kernel's own error says only "conversion failed"); the TFLite
            # converter drops them, and `LiteRunner` checks ids on device.
            ids = checked_in_range(ids, self.vocabulary_size, "ids", "token ids", f"vocabulary_size = {self.vocabulary_size}")
        return self._tokenizer.detokenize(ids)

    def get_config(self):
        config = super().get_config()
        config["proto"] = _BASE64_PREFIX + base64.b64encode(self.proto).decode("ascii")
        return config


def _model_type(proto):
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    return sentencepiece_model_pb2.TrainerSpec.ModelType.Name(model.trainer_spec.model_type).lower()


def _special_token_property(role, with_id):
    def getter(self):
        token = self.special_tokens.get(role)
        if token is None or not with_id:
            return token
        return self.token_to_id(token)

    getter.__doc__ = f"The model's {role} {'id' if with_id else 'piece'}, or None if it has none."
    return property(getter)


for _role in ("unk", "bos", "eos", "pad"):
    setattr(SentencePieceTokenizer, f"{_role}_token", _special_token_property(_role, False))
    setattr(SentencePieceTokenizer, f"{_role}_token_id", _special_token_property(_role, True))
