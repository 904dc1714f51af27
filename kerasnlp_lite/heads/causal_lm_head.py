"""The language-model output layer of GPT: logits through the tied token embedding."""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_rank


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class CausalLMHead(keras.layers.Layer):
    """Next-token logits h W_e^T with the input embedding table W_e (GPT-1, eq. 2).

    No weights of its own: P(u) = softmax(h_n W_e^T) reuses the backbone's
    token table (Press and Wolf 2017), so input and output embeddings are one
    variable.

    Args:
        token_embedding: the backbone's `TokenEmbedding` (re-linked by the
            owning task, not serialized).

    Call arguments:
        inputs: `[B, T, D]` (any rank >= 2).

    Returns:
        float32 logits `[B, T, V]` (float32 even under mixed precision: a
        softmax over 50k tokens needs it).
    """

    def __init__(self, token_embedding, **kwargs):
        super().__init__(**kwargs)
        # Tied logits need the table's `logits` (h W_e^T); any other layer would fail deep in call.
        if not hasattr(token_embedding, "logits") or not hasattr(token_embedding, "vocabulary_size"):
            raise TypeError(
                "`token_embedding` must be the backbone's `TokenEmbedding` (a layer with `logits` and "
                f"`vocabulary_size`), got {type(token_embedding).__name__}."
            )
        self.token_embedding = token_embedding
        self.built = True

    def call(self, inputs):
        check_rank(inputs, (2, 3), "inputs", "[batch, (sequence_length,) hidden_dim]")
        return ops.cast(self.token_embedding.logits(inputs), "float32")

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape[:-1]) + (self.token_embedding.vocabulary_size,), dtype="float32")
