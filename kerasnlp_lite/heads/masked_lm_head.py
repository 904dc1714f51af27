"""The masked-LM output layer of BERT, ALBERT and RoBERTa."""

import keras
from keras import ops

from kerasnlp_lite.layers.activations import get_activation
from kerasnlp_lite.utils.validation import (
    check_integer_dtype, check_positive_int, check_rank, checked_in_range, fresh_initializer,
)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class MaskedLMHead(keras.layers.Layer):
    """Predicts the original tokens at masked positions.

    dense (D -> E) + activation + LayerNorm, then the decoder tied to the
    input token table (E x V, shared with the embedding) plus an output bias,
    as BERT's `cls/predictions` (E = D for BERT/RoBERTa, E = 128 for ALBERT).

    Args:
        vocabulary_size: V.
        token_embedding: the backbone's `TokenEmbedding` to tie the decoder
            to. Not serialized: tasks re-link it when they are rebuilt.
            Without one the head has its own `[E, V]` decoder.
        embedding_dim: E; defaults to the token embedding's width.
        activation: activation of the transform (BERT "gelu").
        layer_norm_epsilon: LayerNorm epsilon.
        kernel_initializer: initializer of the transform.

    Call arguments:
        inputs: `[B, T, H]` sequence output.
        mask_positions: int `[B, P]` positions to predict.

    Returns:
        float32 logits `[B, P, V]` (float32 even under mixed precision: the
        softmax over a large vocabulary needs it).
    """

    def __init__(
        self,
        vocabulary_size,
        token_embedding=None,
        embedding_dim=None,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size, "vocabulary_size")
        if token_embedding is not None and not hasattr(token_embedding, "logits"):
            raise TypeError(
                "`token_embedding` must be the backbone's `TokenEmbedding` (a layer with `logits`), "
                f"got {type(token_embedding).__name__}."
            )
        if token_embedding is not None and token_embedding.vocabulary_size != vocabulary_size:
            raise ValueError(
                f"`vocabulary_size`={vocabulary_size} differs from the tied token embedding's "
                f"{token_embedding.vocabulary_size}."
            )
        self.vocabulary_size = vocabulary_size
        self.token_embedding = token_embedding
        self.embedding_dim = embedding_dim or (token_embedding.hidden_dim if token_embedding is not None else None)
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape, mask_positions_shape=None):
        width = self.embedding_dim or inputs_shape[-1]
        self.transform = keras.layers.Dense(
            width, activation=get_activation(self.activation), kernel_initializer=fresh_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="transform",
        )
        self.transform.build(inputs_shape)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm.build(tuple(inputs_shape[:-1]) + (width,))
        if self.token_embedding is None:
            self.decoder_kernel = self.add_weight(
                name="decoder_kernel", shape=(width, self.vocabulary_size), initializer=fresh_initializer(self.kernel_initializer)
            )
        self.output_bias = self.add_weight(name="output_bias", shape=(self.vocabulary_size,), initializer="zeros")
        self.built = True

    def call(self, inputs, mask_positions):
        check_rank(inputs, 3, "inputs", "[batch, sequence_length, hidden_dim]")
        check_rank(mask_positions, 2, "mask_positions", "[batch, num_predictions]")
        check_integer_dtype(mask_positions, "mask_positions")
        # [B, T, H] gathered at [B, P] -> [B, P, H]
        # Checked: a negative position would silently wrap, one past T fails deep inside the gather.
        mask_positions = checked_in_range(ops.cast(mask_positions, "int32"), ops.shape(inputs)[1], "mask_positions")
        positions = ops.expand_dims(mask_positions, -1)
        x = ops.take_along_axis(inputs, positions, axis=1)
        x = self.layer_norm(self.transform(x))
        if self.token_embedding is not None:
            logits = self.token_embedding.logits(x)
        else:
            logits = ops.matmul(x, ops.cast(self.decoder_kernel, x.dtype))
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_spec(self, inputs, mask_positions):
        return keras.KerasTensor(tuple(mask_positions.shape) + (self.vocabulary_size,), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
