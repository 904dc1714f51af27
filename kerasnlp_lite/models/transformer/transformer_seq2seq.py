"""The original Transformer encoder-decoder (Vaswani et al. 2017).

https://arxiv.org/abs/1706.03762
"""

import keras

from kerasnlp_lite.layers import SinusoidalPositionEncoding, TokenEmbedding
from kerasnlp_lite.models.seq2seq.seq2seq_backbone import (
    Embedder,
    Seq2SeqBackbone,
    Seq2SeqWiring,
    check_sizes,
    make_blocks,
)
from kerasnlp_lite.models.transformer.transformer_presets import TRANSFORMER_PRESETS
from kerasnlp_lite.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TransformerSeq2Seq(Seq2SeqBackbone):
    """Encoder-decoder of "Attention Is All You Need".

    Token embeddings multiplied by sqrt(d_model) plus sinusoidal position
    encodings (section 3.5), dropout; post-LN blocks (each sub-layer is
    LayerNorm(x + Sublayer(x)), section 3.1): the encoder has self-attention
    and a feed-forward network; the decoder has masked self-attention,
    encoder-decoder attention (queries from the decoder, keys and values from
    the last encoder layer) and a feed-forward network. ReLU feed-forward.

    `share_embeddings=True` (section 3.4, with a shared source/target
    vocabulary) uses one table for the source and target embeddings;
    `Seq2SeqLM` also uses the target table as the pre-softmax projection.
    With `share_embeddings=False` the source and target tables are separate
    (and may have different sizes: `target_vocabulary_size`).

    Inputs/outputs: see `kerasnlp_lite.models.seq2seq.seq2seq_backbone`.

    Args:
        vocabulary_size: source vocabulary (and target, unless
            `target_vocabulary_size` is given).
        num_layers: encoder blocks (N = 6 in the paper).
        num_heads: attention heads (h).
        hidden_dim: d_model.
        intermediate_dim: d_ff.
        num_decoder_layers: decoder blocks; defaults to `num_layers`.
        target_vocabulary_size: target vocabulary; defaults to
            `vocabulary_size`.
        share_embeddings: one table for source and target tokens (needs equal
            vocabulary sizes).
        max_sequence_length: longest encoder or decoder input.
        dropout: P_drop (0.1 for the base model).
        activation: feed-forward activation ("relu").
        layer_norm_epsilon: LayerNorm epsilon.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> backbone = TransformerSeq2Seq.from_preset("transformer_base")
    >>> backbone.count_params()   # ~63M with a 37,000-token shared vocabulary
    """

    PRESETS = TRANSFORMER_PRESETS
    PAD_TOKEN_ID = 0
    DECODER_START_TOKEN_ID = 1
    END_TOKEN_ID = 2

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        num_decoder_layers=None,
        target_vocabulary_size=None,
        share_embeddings=True,
        max_sequence_length=1024,
        dropout=0.1,
        activation="relu",
        layer_norm_epsilon=1e-6,
        dtype=None,
        **kwargs,
    ):
        check_sizes(
            vocabulary_size, num_layers, num_decoder_layers, num_heads, hidden_dim, intermediate_dim, dropout,
            max_sequence_length, layer_norm_epsilon=layer_norm_epsilon,
        )
        check_positive_int(target_vocabulary_size, "target_vocabulary_size", allow_none=True)
        target_size = target_vocabulary_size or vocabulary_size
        if share_embeddings and target_size != vocabulary_size:
            raise ValueError(
                f"`share_embeddings=True` needs one vocabulary: vocabulary_size={vocabulary_size} but "
                f"target_vocabulary_size={target_vocabulary_size}; pass share_embeddings=False."
            )
        num_decoder_layers = num_decoder_layers or num_layers

        # === Layers ===
        # Embeddings ~ N(0, d^-1/2): times sqrt(d) they have unit variance (tensor2tensor).
        embedding_init = keras.initializers.RandomNormal(stddev=hidden_dim**-0.5)
        source_table = TokenEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=embedding_init, dtype=dtype, name="token_embedding"
        )
        target_table = (
            source_table
            if share_embeddings
            else TokenEmbedding(
                target_size, hidden_dim, embeddings_initializer=embedding_init, dtype=dtype,
                name="decoder_token_embedding",
            )
        )
        positions = SinusoidalPositionEncoding(dtype=dtype, name="position_encoding")
        scale = hidden_dim**0.5
        encoder_embedding = Embedder(
            source_table, positions, scale=scale,
            dropout=keras.layers.Dropout(dropout, dtype=dtype, name="encoder_embedding_dropout"),
        )
        decoder_embedding = Embedder(
            target_table, positions, scale=scale,
            dropout=keras.layers.Dropout(dropout, dtype=dtype, name="decoder_embedding_dropout"),
        )
        block_kwargs = dict(
            dropout=dropout,
            activation=activation,
            norm_first=False,
            layer_norm_epsilon=layer_norm_epsilon,
            dtype=dtype,
        )
        encoder_blocks, decoder_blocks = make_blocks(
            num_layers, num_decoder_layers, num_heads, intermediate_dim, **block_kwargs
        )
        wiring = Seq2SeqWiring(encoder_embedding, decoder_embedding, encoder_blocks, decoder_blocks)

        # === Functional model ===
        inputs, outputs = wiring.functional_graph()
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        self.attach(wiring)

        # === Config ===
        self.set_config(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            num_decoder_layers=num_decoder_layers,
            target_vocabulary_size=target_vocabulary_size,
            share_embeddings=share_embeddings,
            max_sequence_length=max_sequence_length,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
        )

    @property
    def decoder_vocabulary_size(self):
        return self.target_vocabulary_size or self.vocabulary_size
