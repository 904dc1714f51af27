"""ALBERT's factorized embedding parameterization (Lan et al. 2019, section 3.1)."""

import keras

from kerasnlp_lite.layers.token_embedding import TokenEmbedding
from kerasnlp_lite.utils.validation import check_float_dtype, check_last_dim, check_positive_int, fresh_initializer


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class FactorizedEmbedding(keras.layers.Layer):
    """A V x E table followed by an E -> H projection: V*E + E*H (+H) parameters instead of V*H.

    ALBERT decouples the vocabulary embedding width E from the hidden width H
    (E = 128, H = 768..4096, V = 30000). `call` is `project(embed(token_ids))`;
    `TextEmbedding` calls the two halves apart because ALBERT adds segment and
    position embeddings (of width E) and applies LayerNorm and dropout in
    between.

    Args:
        vocabulary_size: V.
        embedding_dim: E, the small embedding width (128 in ALBERT).
        hidden_dim: H, the model width.
        embeddings_initializer: initializer of the table.
        kernel_initializer: initializer of the projection.

    Call arguments:
        token_ids: int `[B, T]` in `[0, V)`.

    Returns:
        `[B, T, H]`.

    Example:
    >>> embedding = FactorizedEmbedding(30000, embedding_dim=128, hidden_dim=768)
    >>> embedding(np.array([[5, 6]])).shape
    TensorShape([1, 2, 768])
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        hidden_dim,
        embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size, "vocabulary_size")
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(hidden_dim, "hidden_dim")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.token_embedding = TokenEmbedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        # ALBERT's `embedding_projection` (KerasHub, Model Garden): a Dense with a bias.
        self.projection = keras.layers.Dense(
            hidden_dim, kernel_initializer=fresh_initializer(self.kernel_initializer), dtype=self.dtype_policy, name="projection"
        )

    def build(self, token_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.projection.build((None, None, self.embedding_dim))
        self.built = True

    def embed(self, token_ids):
        """The table lookup alone: int `[B, T]` -> `[B, T, E]`."""
        return self.token_embedding(token_ids)

    def project(self, embedded):
        """The E -> H projection alone: `[B, T, E]` -> `[B, T, H]`."""
        check_float_dtype(embedded, "embedded")
        check_last_dim(embedded, self.embedding_dim, "embedded", "[batch, sequence_length, embedding_dim]")
        return self.projection(embedded)

    def call(self, token_ids):
        return self.project(self.embed(token_ids))

    def logits(self, hidden):
        """`[..., E]` -> `[..., V]` with the tied table (ALBERT's MLM head maps H -> E first)."""
        check_last_dim(hidden, self.embedding_dim, "hidden", "[..., embedding_dim]")
        return self.token_embedding.logits(hidden)

    def compute_output_shape(self, token_ids_shape):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
