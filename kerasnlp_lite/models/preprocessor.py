"""Raw strings -> a task's inputs: the layer that carries the tokenizer inside a task model.

Every preprocessor has the two methods `Task.fit` / `evaluate` / `predict`
call on batches of strings, KerasHub's contract in two explicit parts:

- `features(x)`: strings `[B]` (or a tuple of them for sentence pairs) ->
  the backbone's input dict plus `num_truncated` `[B]` (tokens the packer had
  to drop per example, so the caller can report it). Used by `predict`.
- `training_batch(x, y=None, sample_weight=None, seed=None)` -> `(x, y,
  sample_weight)` for one batch, TF ops only, so it runs inside
  `tf.data.Dataset.map`. The language-model preprocessors make the targets
  themselves (next tokens, masked tokens, shifted targets); stochastic ones
  (`stochastic = True`, masked LM) take a `[2]` int seed per batch.
"""

import keras


class Preprocessor(keras.layers.Layer):
    """Base class: holds `tokenizer`; subclasses implement `features` and, if
    they make their own targets, `training_batch`."""

    stochastic = False  # True: `training_batch` needs a per-batch `seed`.
    makes_targets = False  # True: `training_batch` builds `y` from the text (language models).

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.built = True  # no weights of its own

    def features(self, x):
        raise NotImplementedError

    def training_batch(self, x, y=None, sample_weight=None, seed=None):
        features = dict(self.features(x))
        features.pop("num_truncated", None)
        return features, y, sample_weight

    def call(self, x, y=None, sample_weight=None):
        """`features(x)` without targets; `training_batch(x, y, sample_weight)` with them."""
        if y is None and sample_weight is None and not self.makes_targets:
            return self.features(x)
        return self.training_batch(x, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config["tokenizer"] = keras.saving.serialize_keras_object(self.tokenizer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


def tokenize_segments(tokenizer, x):
    """One `[B]` string tensor, or a tuple of them (sentence pairs) -> ragged ids (tuple for pairs)."""
    if isinstance(x, (tuple, list)):
        return tuple(tokenizer.tokenize(segment) for segment in x)
    return tokenizer.tokenize(x)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TextPreprocessor(Preprocessor):
    """Tokenizes a batch of strings (or pairs of them) and packs them to fixed length.

    The preprocessor of `TextClassifier`, `TextEmbedder` and `TokenClassifier`:
    `y` and `sample_weight` pass through `training_batch` unchanged.

    Args:
        tokenizer: a `kerasnlp_lite.tokenizers.Tokenizer`.
        packer: a `SegmentPacker` or `StartEndPacker`.
        segment_ids: include `segment_ids` in the outputs (BERT, ALBERT:
            yes; RoBERTa, GPT: no).

    Call arguments:
        inputs: a `[B]` string tensor, or a tuple of them for sentence pairs.

    Returns:
        dict: `token_ids`, (`segment_ids`), `padding_mask`, and
        `num_truncated` `[B]`: how many tokens the packer had to drop per
        example (never silent; `Task.predict` and `Task.fit` warn when it is
        not zero).
    """

    def __init__(self, tokenizer, packer, segment_ids=True, **kwargs):
        super().__init__(tokenizer, **kwargs)
        if not isinstance(segment_ids, bool):
            raise TypeError(f"`segment_ids` must be a bool, got {segment_ids!r}.")
        if not callable(packer) or not hasattr(packer, "sequence_length"):
            # Otherwise it would build and fail only at the first call.
            raise TypeError(
                f"`packer` must be a `SegmentPacker` or `StartEndPacker` (a callable with `sequence_length`), "
                f"got {packer!r} ({type(packer).__name__})."
            )
        self.packer = packer
        self.segment_ids = segment_ids

    @property
    def sequence_length(self):
        return self.packer.sequence_length

    def features(self, x):
        packed = dict(self.packer(tokenize_segments(self.tokenizer, x)))
        if not self.segment_ids:
            packed.pop("segment_ids", None)
        return packed

    def call(self, inputs):
        return self.features(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"packer": keras.saving.serialize_keras_object(self.packer), "segment_ids": self.segment_ids})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["packer"] = keras.saving.deserialize_keras_object(config["packer"])
        return super().from_config(config)

