"""Raw text -> next-token training examples for `CausalLM` (GPT-1 section 3.1, GPT-2)."""

import warnings

import keras
import tensorflow as tf

from kerasnlp_lite.models.preprocessor import Preprocessor
from kerasnlp_lite.tokenizers.packers import StartEndPacker
from kerasnlp_lite.utils.validation import check_positive_int
from kerasnlp_lite.utils.validation import check_id


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class CausalLMPreprocessor(Preprocessor):
    """Strings -> `token_ids`, `padding_mask`, next-token labels and their weights.

    Each text becomes `[start] tokens [end]`, packed to `sequence_length + 1`
    ids (`StartEndPacker`: a longer text loses tokens from its end, counted in
    `num_truncated` by `features`, and warned about when `training_batch`
    runs eagerly); the model sees the first `sequence_length` ids and
    learns the next one at every position: labels are the ids shifted left by
    one, weighted 1 where the label is a real token and 0 on padding. As
    KerasHub's `CausalLMPreprocessor`.

    `CausalLM.generate` on strings tokenizes with `tokenizer` and puts
    `start_token_id` (if any) first, so prompts look like training texts.

    Args:
        tokenizer: a `kerasnlp_lite.tokenizers` tokenizer.
        sequence_length: the model's input length L.
        start_token_id: optional id put before each text (GPT-2 from HF: none).
        end_token_id: optional id put after each text (e.g. `</s>`,
            `<|endoftext|>`), so the model learns where a text ends.
        pad_token_id: id at padding positions (weight 0).

    Example:
    >>> preprocessor = CausalLMPreprocessor(tokenizer, sequence_length=128, end_token_id=2)
    >>> lm = CausalLM(backbone, preprocessor=preprocessor)
    >>> lm.fit(["first document", "second document"], epochs=1)
    """

    makes_targets = True

    def __init__(self, tokenizer, sequence_length, start_token_id=None, end_token_id=None, pad_token_id=0, **kwargs):
        super().__init__(tokenizer, **kwargs)
        check_positive_int(sequence_length, "sequence_length")
        vocabulary_size = tokenizer.vocabulary_size
        self.start_token_id = check_id(start_token_id, "start_token_id", vocabulary_size, allow_none=True)
        self.end_token_id = check_id(end_token_id, "end_token_id", vocabulary_size, allow_none=True)
        self.pad_token_id = check_id(pad_token_id, "pad_token_id", vocabulary_size)
        self.sequence_length = sequence_length
        # One more id than the model sees: the last input's label.
        self.packer = StartEndPacker(
            sequence_length + 1, start_value=self.start_token_id, end_value=self.end_token_id,
            pad_value=self.pad_token_id, name="packer",
        )

    def _packed(self, x):
        return self.packer(self.tokenizer.tokenize(x))

    def features(self, x):
        """`token_ids`, `padding_mask` `[B, L]` of whole texts (for `predict`), and `num_truncated`."""
        packed = self._packed(x)
        return {
            "token_ids": packed["token_ids"][:, :-1],
            "padding_mask": packed["padding_mask"][:, :-1],
            # The text fits when its last id (the end token, if any) is among the L the model sees.
            "num_truncated": packed["num_truncated"] + tf.cast(packed["padding_mask"][:, -1] > 0, tf.int32),
        }

    def training_batch(self, x, y=None, sample_weight=None, seed=None):
        if y is not None:
            raise ValueError(
                "CausalLM makes its own labels (the next tokens of each text): pass texts as `x` and no `y`."
            )
        packed = self._packed(x)
        if tf.executing_eagerly():
            # Called directly (not inside tf.data): say what the cut dropped rather than lose it silently.
            truncated = packed["num_truncated"].numpy()
            if truncated.any():
                warnings.warn(
                    f"{int((truncated > 0).sum())} of {len(truncated)} texts were truncated to sequence_length + 1 = "
                    f"{self.sequence_length + 1} ids (up to {int(truncated.max())} tokens dropped); use a longer "
                    "`sequence_length` or split the texts to keep them whole.",
                    stacklevel=2,
                )
        token_ids, padding_mask = packed["token_ids"], packed["padding_mask"]
        inputs = {"token_ids": token_ids[:, :-1], "padding_mask": padding_mask[:, :-1]}
        weights = tf.cast(padding_mask[:, 1:], tf.float32)
        if sample_weight is not None:
            weights = weights * tf.reshape(tf.cast(sample_weight, tf.float32), [-1, 1])
        return inputs, token_ids[:, 1:], weights

    def prompt_ids(self, texts):
        """Python id lists of prompt strings: `[start] tokens` (no end token: the text goes on)."""
        rows = self.tokenizer.tokenize(tf.constant(texts)).to_list()
        prefix = [] if self.start_token_id is None else [self.start_token_id]
        return [prefix + list(row) for row in rows]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "start_token_id": self.start_token_id,
                "end_token_id": self.end_token_id,
                "pad_token_id": self.pad_token_id,
            }
        )
        return config
