"""BART (Lewis et al. 2020): a denoising autoencoder with a BERT-like encoder and a GPT-like decoder.

https://arxiv.org/abs/1910.13461
"""

import keras

from kerasnlp_lite.layers import PositionEmbedding, TokenEmbedding
from kerasnlp_lite.models.bart.bart_presets import BART_PRESETS
from kerasnlp_lite.models.seq2seq.seq2seq_backbone import (
    Embedder,
    Seq2SeqBackbone,
    Seq2SeqWiring,
    check_sizes,
    make_blocks,
)

# fairseq's learned positions start at padding_idx + 1 = 2: position p uses row p + 2.
POSITION_OFFSET = 2


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class BartBackbone(Seq2SeqBackbone):
    """BART's encoder-decoder.

    One token table shared by encoder, decoder (and the tied output layer of
    `Seq2SeqLM`); separate learned position tables for encoder and decoder,
    with `max_sequence_length + 2` rows read from row 2 on (BART's offset, so
    the tables have the shape of the released checkpoints); a LayerNorm on
    each side's embeddings ("layernorm_embedding"); post-LN blocks with GELU
    (section 2.1: "following GPT, we modify ReLU activation functions to
    GeLUs"); the decoder's blocks cross-attend to the final encoder output.
    Initialisation N(0, 0.02). Token layout of the released checkpoints:
    `<s>`=0, `<pad>`=1, `</s>`=2, decoding starts with `</s>`.

    Inputs/outputs: see `kerasnlp_lite.models.seq2seq.seq2seq_backbone`.

    Args:
        vocabulary_size: shared vocabulary.
        num_layers: encoder blocks (6 base, 12 large).
        num_heads: attention heads.
        hidden_dim: d_model.
        intermediate_dim: feed-forward width.
        num_decoder_layers: decoder blocks; defaults to `num_layers`.
        max_sequence_length: positions per side (1024).
        dropout: residual, embedding and attention dropout (0.1).
        activation: "gelu" (exact erf form, as the released checkpoints).
        layer_norm_epsilon: 1e-5.
        scale_embeddings: multiply token embeddings by sqrt(d_model) (False
            for the released BART checkpoints; HF `scale_embedding`).
        dtype: a dtype policy name.

    Example:
    >>> backbone = BartBackbone.from_preset("bart_base")
    """

    PRESETS = BART_PRESETS
    PAD_TOKEN_ID = 1
    END_TOKEN_ID = 2
    DECODER_START_TOKEN_ID = 2

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        num_decoder_layers=None,
        max_sequence_length=1024,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        scale_embeddings=False,
        dtype=None,
        **kwargs,
    ):
        check_sizes(
            vocabulary_size, num_layers, num_decoder_layers, num_heads, hidden_dim, intermediate_dim, dropout,
            max_sequence_length, layer_norm_epsilon=layer_norm_epsilon,
        )
        num_decoder_layers = num_decoder_layers or num_layers

        # === Layers ===
        init = keras.initializers.RandomNormal(stddev=0.02)
        table = TokenEmbedding(vocabulary_size, hidden_dim, embeddings_initializer=init, dtype=dtype,
                               name="token_embedding")
        scale = hidden_dim**0.5 if scale_embeddings else 1.0

        def side(name):
            return Embedder(
                table,
                PositionEmbedding(max_sequence_length + POSITION_OFFSET, initializer=init, dtype=dtype,
                                  name=f"{name}_position_embedding"),
                position_offset=POSITION_OFFSET,
                scale=scale,
                norm=keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype,
                                                     name=f"{name}_embeddings_layer_norm"),
                dropout=keras.layers.Dropout(dropout, dtype=dtype, name=f"{name}_embeddings_dropout"),
            )

        block_kwargs = dict(
            dropout=dropout,
            activation=activation,
            norm_first=False,
            layer_norm_epsilon=layer_norm_epsilon,
            kernel_initializer=init,
            dtype=dtype,
        )
        encoder_blocks, decoder_blocks = make_blocks(
            num_layers, num_decoder_layers, num_heads, intermediate_dim, **block_kwargs
        )
        wiring = Seq2SeqWiring(side("encoder"), side("decoder"), encoder_blocks, decoder_blocks)

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
            max_sequence_length=max_sequence_length,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            scale_embeddings=scale_embeddings,
        )

    @property
    def decoder_vocabulary_size(self):
        return self.vocabulary_size

    @property
    def encoder_position_embedding(self):
        return self._wiring.encoder_embedding.positions

    @property
    def decoder_position_embedding(self):
        return self._wiring.decoder_embedding.positions

    @property
    def encoder_embeddings_layer_norm(self):
        return self._wiring.encoder_embedding.norm

    @property
    def decoder_embeddings_layer_norm(self):
        return self._wiring.decoder_embedding.norm
