"""Input embeddings of BERT/GPT-style models: token + position (+ segment)."""

import math

import keras
from keras import ops

from kerasnlp_lite.layers.factorized_embedding import FactorizedEmbedding
from kerasnlp_lite.layers.position_embedding import PositionEmbedding
from kerasnlp_lite.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from kerasnlp_lite.layers.token_embedding import TokenEmbedding
from kerasnlp_lite.utils.validation import (
    check_ids_in_range,
    check_integer_dtype,
    check_positive_int,
    check_rank,
    check_rate,
    check_static_position_range,
)

POSITION_ENCODINGS = ("learned", "sinusoidal", None)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TextEmbedding(keras.layers.Layer):
    """h_0 = U W_e + W_p (+ segment embeddings), then optional LayerNorm and dropout.

    BERT (Devlin et al. 2019, figure 2) sums token, segment and learned
    position embeddings and applies LayerNorm and dropout; GPT sums token and
    learned positions; the original Transformer adds sinusoidal encodings to
    token embeddings scaled by sqrt(d_model) (`scale_embeddings=True`).
    With `embedding_dim` set, the token part is a `FactorizedEmbedding`
    (ALBERT, Lan et al. 2019): token, segment and position embeddings all have
    width E, and the E -> hidden_dim projection comes after the sum, LayerNorm
    and dropout, in the order of KerasHub's AlbertBackbone and Model Garden's
    ALBERT encoder.

    Args:
        vocabulary_size: number of tokens.
        hidden_dim: output width.
        max_sequence_length: positions of the learned table (upper bound on
            `start_index + T`).
        num_segments: segment (token type) vocabulary; 0 for none.
        embedding_dim: ALBERT's E; None for E = hidden_dim.
        position_encoding: "learned", "sinusoidal" or None.
        scale_embeddings: multiply token embeddings by sqrt(width).
        use_layer_norm: LayerNorm after the sum (BERT, ALBERT, RoBERTa).
        layer_norm_epsilon: its epsilon.
        dropout: dropout rate after the (normalized) sum.
        embeddings_initializer: initializer of all tables (and of ALBERT's
            projection kernel).

    Call arguments:
        token_ids: int `[B, T]`.
        segment_ids: int `[B, T]` in `[0, num_segments)`; required iff
            `num_segments > 0`.
        start_index: absolute position of the first token (cache index
            during step-by-step decoding).

    Returns:
        `[B, T, hidden_dim]`.

    Attributes:
        token_embedding: the `TokenEmbedding` (or, with `embedding_dim`, the
            `FactorizedEmbedding`) whose table `logits` reuses.

    Example:
    >>> bert_embedding = TextEmbedding(30522, 768, max_sequence_length=512, num_segments=2,
    ...                                use_layer_norm=True, dropout=0.1)
    >>> x = bert_embedding(token_ids, segment_ids=segment_ids)    # [B, T, 768]
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        max_sequence_length,
        num_segments=0,
        embedding_dim=None,
        position_encoding="learned",
        scale_embeddings=False,
        use_layer_norm=False,
        layer_norm_epsilon=1e-12,
        dropout=0.0,
        embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size, "vocabulary_size")
        check_positive_int(hidden_dim, "hidden_dim")
        check_positive_int(max_sequence_length, "max_sequence_length")
        check_positive_int(num_segments, "num_segments", minimum=0)
        check_positive_int(embedding_dim, "embedding_dim", allow_none=True)
        check_rate(dropout, "dropout")
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(f"`position_encoding` must be one of {POSITION_ENCODINGS}, got {position_encoding!r}.")
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.embedding_dim = embedding_dim
        self.position_encoding = position_encoding
        self.scale_embeddings = scale_embeddings
        self.use_layer_norm = use_layer_norm
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

        width = embedding_dim or hidden_dim
        policy = self.dtype_policy
        if embedding_dim:
            self.token_embedding = FactorizedEmbedding(
                vocabulary_size, embedding_dim, hidden_dim, embeddings_initializer=self.embeddings_initializer,
                kernel_initializer=self.embeddings_initializer, dtype=policy, name="token_embedding",
            )
        else:
            self.token_embedding = TokenEmbedding(
                vocabulary_size, hidden_dim, embeddings_initializer=self.embeddings_initializer, dtype=policy,
                name="token_embedding",
            )
        self.segment_embedding = (
            TokenEmbedding(num_segments, width, embeddings_initializer=self.embeddings_initializer, dtype=policy,
                           name="segment_embedding")
            if num_segments
            else None
        )
        if position_encoding == "learned":
            self.position_embedding = PositionEmbedding(
                max_sequence_length, initializer=self.embeddings_initializer, dtype=policy, name="position_embedding"
            )
        elif position_encoding == "sinusoidal":
            self.position_embedding = SinusoidalPositionEncoding(dtype=policy, name="position_embedding")
        else:
            self.position_embedding = None
        self.layer_norm = (
            keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=policy, name="layer_norm")
            if use_layer_norm
            else None
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="dropout")

    def build(self, token_ids_shape, segment_ids_shape=None):
        width = self.embedding_dim or self.hidden_dim
        embedded_shape = tuple(token_ids_shape) + (width,)
        self.token_embedding.build(token_ids_shape)
        if self.segment_embedding is not None:
            self.segment_embedding.build(token_ids_shape)
        if self.position_embedding is not None:
            self.position_embedding.build(embedded_shape)
        if self.layer_norm is not None:
            self.layer_norm.build(embedded_shape)
        self.built = True

    def call(self, token_ids, segment_ids=None, start_index=0, training=None):
        check_rank(token_ids, 2, "token_ids", "[batch, sequence_length]")
        check_integer_dtype(token_ids, "token_ids")
        check_static_position_range(start_index, token_ids.shape[1], self.max_sequence_length, "start_index")
        self._check_segment_ids(segment_ids, token_ids)

        # [B, T, E or H]; a FactorizedEmbedding projects to H only at the end.
        x = self.token_embedding.embed(token_ids) if self.embedding_dim else self.token_embedding(token_ids)
        if self.scale_embeddings:
            # Vaswani et al. 3.4: embedding weights multiplied by sqrt(d_model).
            x = x * ops.cast(math.sqrt(self.embedding_dim or self.hidden_dim), x.dtype)
        if self.segment_embedding is not None:
            x = x + self.segment_embedding(segment_ids)
        if self.position_embedding is not None:
            x = x + self.position_embedding(x, start_index=start_index)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        x = self.dropout_layer(x, training=training)
        if self.embedding_dim:
            x = self.token_embedding.project(x)  # ALBERT: E -> H after LayerNorm and dropout
        return x

    def _check_segment_ids(self, segment_ids, token_ids):
        if self.segment_embedding is None:
            if segment_ids is not None:
                raise ValueError(
                    "`segment_ids` was given but the layer has num_segments=0; "
                    "construct it with num_segments > 0 to use segment embeddings."
                )
            return
        if segment_ids is None:
            raise ValueError(
                f"`segment_ids` [batch, sequence_length] is required: the layer has num_segments={self.num_segments}."
            )
        check_integer_dtype(segment_ids, "segment_ids")
        if len(segment_ids.shape) != 2 or any(
            a is not None and b is not None and a != b for a, b in zip(segment_ids.shape, token_ids.shape)
        ):
            raise ValueError(
                f"`segment_ids` must have the shape of `token_ids` {tuple(token_ids.shape)}, "
                f"got {tuple(segment_ids.shape)}."
            )
        check_ids_in_range(segment_ids, self.num_segments, "segment_ids")

    def logits(self, hidden):
        """Tied output projection with the token table: `[..., E or H]` -> `[..., V]` (see TokenEmbedding.logits)."""
        return self.token_embedding.logits(hidden)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "embedding_dim": self.embedding_dim,
                "position_encoding": self.position_encoding,
                "scale_embeddings": self.scale_embeddings,
                "use_layer_norm": self.use_layer_norm,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout": self.dropout,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
