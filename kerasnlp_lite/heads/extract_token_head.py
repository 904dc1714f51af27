"""GPT-1's fine-tuning head: classify from the hidden state of the last (extract) token."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasnlp_lite.utils.validation import check_positive_int, check_rank, check_rate, fresh_initializer

COMBINE_MODES = ("sum", "choice")


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class ExtractTokenHead(keras.layers.Layer):
    """Logits from h_l^m, the final hidden state of each sequence's last real token.

    GPT-1 (Radford et al. 2018, section 3.2): "The inputs are passed through
    our pre-trained model to obtain the final transformer block's activation
    h_l^m, which is then fed into an added linear output layer with
    parameters W_y to predict y: P(y | x^1..x^m) = softmax(h_l^m W_y)". With
    the task input transformations (`kerasnlp_lite.data.gpt_inputs`) the last
    real token is the extract token. Sequences are right-padded, so it sits
    at `sum(padding_mask) - 1`.

    Several sequences per example (`num_sequences` S > 1, section 3.3):
    - `combine="sum"` (similarity): the S representations are added before
      W_y; logits `[B, num_classes]`.
    - `combine="choice"` (multiple choice, "normalized via a softmax layer to
      produce an output distribution over possible answers"): one linear
      score per sequence; logits `[B, S]` over the candidates (num_classes
      must equal S).

    Args:
        num_classes: classes (or candidates, with `combine="choice"`).
        num_sequences: S, sequences per example (1 for plain classification
            and entailment).
        combine: "sum" or "choice", used when S > 1.
        dropout: dropout on h_l^m before W_y (GPT-1: 0.1).
        kernel_initializer: W_y's initializer (GPT-1: N(0, 0.02)).

    Call arguments:
        sequence_output: `[B * S, T, D]` (the S sequences of an example are
            consecutive rows).
        padding_mask: `[B * S, T]`, 1 at real tokens, right-padded.

    Returns:
        float32 logits `[B, num_classes]`.
    """

    def __init__(
        self,
        num_classes,
        num_sequences=1,
        combine="sum",
        dropout=0.1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_classes, "num_classes")
        check_positive_int(num_sequences, "num_sequences")
        check_rate(dropout, "dropout")
        if combine not in COMBINE_MODES:
            raise ValueError(f"`combine` must be one of {COMBINE_MODES}, got {combine!r}.")
        if combine == "choice" and num_classes != num_sequences:
            raise ValueError(
                f'With combine="choice" each of the `num_sequences`={num_sequences} candidates is a class; '
                f"`num_classes` must equal it, got {num_classes}."
            )
        self.num_classes = num_classes
        self.num_sequences = num_sequences
        self.combine = combine
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")
        units = 1 if combine == "choice" else num_classes
        self.dense = keras.layers.Dense(
            units, kernel_initializer=fresh_initializer(self.kernel_initializer), dtype=self.dtype_policy, name="logits"
        )

    def build(self, sequence_output_shape, padding_mask_shape=None):
        self.dense.build((None, sequence_output_shape[-1]))
        self.built = True

    def call(self, sequence_output, padding_mask, training=None):
        check_rank(sequence_output, 3, "sequence_output", "[batch * num_sequences, sequence_length, hidden_dim]")
        check_rank(padding_mask, 2, "padding_mask", "[batch * num_sequences, sequence_length]")
        rows, length = sequence_output.shape[0], sequence_output.shape[1]
        if (padding_mask.shape[1] is not None and length is not None and padding_mask.shape[1] != length) or (
            padding_mask.shape[0] is not None and rows is not None and padding_mask.shape[0] != rows
        ):
            raise ValueError(
                f"`padding_mask` must have shape [batch * num_sequences, sequence_length] = {tuple(sequence_output.shape[:2])} "
                f"like `sequence_output`, got {tuple(padding_mask.shape)}."
            )
        if tf.executing_eagerly() and not isinstance(padding_mask, keras.KerasTensor):
            # An all-padding row has no last token: the one-hot below would be all zeros (silent zero features).
            empty = np.flatnonzero(~keras.ops.convert_to_numpy(padding_mask).astype(bool).any(axis=-1))
            if empty.size:
                raise ValueError(
                    f"`padding_mask` rows {empty.tolist()} have no real token (all padding); every row needs at "
                    "least one (the extract token)."
                )
        # Index of the last real token of each row: [B*S]. A one-hot contraction
        # instead of a gather keeps the shapes static (TFLite, XLA).
        last = ops.sum(ops.cast(padding_mask, "int32"), axis=-1) - 1
        pick = ops.one_hot(last, ops.shape(sequence_output)[1], dtype=sequence_output.dtype)  # [B*S, T]
        hidden = ops.einsum("bt,btd->bd", pick, sequence_output)  # [B*S, D]
        hidden = self.dropout_layer(hidden, training=training)
        if self.num_sequences > 1 and self.combine == "sum":
            hidden = ops.sum(ops.reshape(hidden, (-1, self.num_sequences, ops.shape(hidden)[-1])), axis=1)  # [B, D]
        logits = self.dense(hidden)  # [B, C], or [B*S, 1] for "choice"
        if self.combine == "choice":
            logits = ops.reshape(logits, (-1, self.num_sequences))  # [B, S]
        return ops.cast(logits, "float32")

    def compute_output_spec(self, sequence_output, padding_mask, training=None):
        rows = sequence_output.shape[0]
        batch = None if rows is None else rows // self.num_sequences
        return keras.KerasTensor((batch, self.num_classes), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "num_sequences": self.num_sequences,
                "combine": self.combine,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
