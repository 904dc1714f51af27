"""Raw strings -> a backbone's inputs: tokenizer + packer in one serializable layer."""

import keras


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TextPreprocessor(keras.layers.Layer):
    """Tokenizes a batch of strings (or pairs of them) and packs them to fixed length.

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
        example (never silent; `Task.predict` warns when it is not zero).
    """

    def __init__(self, tokenizer, packer, segment_ids=True, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.packer = packer
        self.segment_ids = segment_ids
        self.built = True  # no weights of its own

    def call(self, inputs):
        if isinstance(inputs, (tuple, list)):
            tokens = tuple(self.tokenizer.tokenize(x) for x in inputs)
        else:
            tokens = self.tokenizer.tokenize(inputs)
        packed = dict(self.packer(tokens))
        if not self.segment_ids:
            packed.pop("segment_ids", None)
        return packed

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
                "packer": keras.saving.serialize_keras_object(self.packer),
                "segment_ids": self.segment_ids,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        config["packer"] = keras.saving.deserialize_keras_object(config["packer"])
        return cls(**config)
