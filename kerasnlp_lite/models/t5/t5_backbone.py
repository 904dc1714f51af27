"""T5 (Raffel et al. 2020): the text-to-text Transformer.

https://arxiv.org/abs/1910.10683
"""

import keras

from kerasnlp_lite.layers import RelativePositionBias, TokenEmbedding
from kerasnlp_lite.models.seq2seq.seq2seq_backbone import (
    Embedder,
    Seq2SeqBackbone,
    Seq2SeqWiring,
    check_sizes,
    make_blocks,
)
from kerasnlp_lite.models.t5.t5_presets import T5_PRESETS
from kerasnlp_lite.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class T5Backbone(Seq2SeqBackbone):
    """T5 v1.0's encoder-decoder (section 2.1 of the paper).

    - No absolute positions: one `RelativePositionBias` table per stack
      (bucketed, 32 buckets up to distance 128), bidirectional in the
      encoder and causal in the decoder, computed once and added to the
      self-attention logits of every layer (shared across layers);
      cross-attention has none.
    - "a simplified version of layer normalization where the activations are
      only rescaled and no additive bias is applied" (RMS norm), before each
      sub-block (pre-norm), and after the last block of each stack.
    - No biases in any projection, no 1/sqrt(d) attention scale (folded into
      the initialisation of the query kernels), ReLU feed-forward.
    - Tied embeddings: `Seq2SeqLM` multiplies the decoder output by
      `logit_scale` = hidden_dim ** -0.5 before the shared table, as T5 does.

    Token layout of the released checkpoints: `<pad>`=0 (also the decoder
    start token), `</s>`=1, `<unk>`=2, sentinels `<extra_id_k>` =
    vocabulary_size - 1 - k. Text-to-text: every task is a string with a
    prefix ("translate English to German: ...", "summarize: ...") whose
    answer is a string.

    Inputs/outputs: see `kerasnlp_lite.models.seq2seq.seq2seq_backbone`.

    Args:
        vocabulary_size: shared vocabulary (32,128 for the released models).
        num_layers: encoder blocks.
        num_heads: attention heads.
        hidden_dim: d_model.
        intermediate_dim: d_ff.
        key_dim: per-head size d_kv; defaults to hidden_dim // num_heads.
        num_decoder_layers: decoder blocks; defaults to `num_layers`.
        dropout: 0.1.
        activation: feed-forward activation ("relu").
        layer_norm_epsilon: 1e-6.
        relative_attention_num_buckets: 32.
        relative_attention_max_distance: 128.
        dtype: a dtype policy name.

    Example:
    >>> backbone = T5Backbone.from_preset("t5_small")
    """

    PRESETS = T5_PRESETS
    PAD_TOKEN_ID = 0
    END_TOKEN_ID = 1
    DECODER_START_TOKEN_ID = 0

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        key_dim=None,
        num_decoder_layers=None,
        dropout=0.1,
        activation="relu",
        layer_norm_epsilon=1e-6,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dtype=None,
        **kwargs,
    ):
        check_sizes(
            vocabulary_size, num_layers, num_decoder_layers, num_heads, hidden_dim, intermediate_dim, dropout,
            head_dim_divides=False, layer_norm_epsilon=layer_norm_epsilon,
        )
        check_positive_int(key_dim, "key_dim", allow_none=True)
        if key_dim is None and hidden_dim % num_heads:
            raise ValueError(
                f"`hidden_dim`={hidden_dim} must be divisible by `num_heads`={num_heads} (or pass `key_dim`)."
            )
        num_decoder_layers = num_decoder_layers or num_layers
        head_dim = key_dim or hidden_dim // num_heads

        # === Layers ===
        # Mesh TF / HF initialisation: embeddings N(0, 1), kernels N(0, d^-1/2).
        table = TokenEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            dtype=dtype, name="token_embedding",
        )
        dropout_layer = keras.layers.Dropout(dropout, dtype=dtype, name="embedding_dropout")
        embedder = Embedder(table, dropout=dropout_layer)
        kernel_init = keras.initializers.RandomNormal(stddev=hidden_dim**-0.5)
        block_kwargs = dict(
            dropout=dropout,
            activation=activation,
            norm_first=True,
            layer_norm_epsilon=layer_norm_epsilon,
            key_dim=key_dim,
            kernel_initializer=kernel_init,
            # No 1/sqrt(d_kv) in the attention logits: T5 initialises the
            # query kernels with std (d_model * d_kv)^-1/2 instead.
            query_kernel_initializer=keras.initializers.RandomNormal(stddev=(hidden_dim * head_dim) ** -0.5),
            use_bias=False,
            normalization="rms_norm",
            attention_scale=1.0,
            dtype=dtype,
        )
        encoder_blocks, decoder_blocks = make_blocks(
            num_layers, num_decoder_layers, num_heads, intermediate_dim, **block_kwargs
        )

        def bias(name, bidirectional):
            return RelativePositionBias(
                num_heads,
                num_buckets=relative_attention_num_buckets,
                max_distance=relative_attention_max_distance,
                bidirectional=bidirectional,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                dtype=dtype,
                name=name,
            )

        def norm(name):
            return keras.layers.RMSNormalization(epsilon=layer_norm_epsilon, dtype=dtype, name=name)

        wiring = Seq2SeqWiring(
            embedder,
            embedder,
            encoder_blocks,
            decoder_blocks,
            encoder_position_bias=bias("encoder_relative_position_bias", True),
            decoder_position_bias=bias("decoder_relative_position_bias", False),
            encoder_final_norm=norm("encoder_final_norm"),
            decoder_final_norm=norm("decoder_final_norm"),
            final_dropout=keras.layers.Dropout(dropout, dtype=dtype, name="final_dropout"),
        )

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
            key_dim=key_dim,
            num_decoder_layers=num_decoder_layers,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            relative_attention_num_buckets=relative_attention_num_buckets,
            relative_attention_max_distance=relative_attention_max_distance,
        )

    @property
    def decoder_vocabulary_size(self):
        return self.vocabulary_size

    @property
    def logit_scale(self):
        """Tied embeddings: T5 rescales the decoder output by d_model^-1/2 before the output projection."""
        return self.hidden_dim**-0.5

    @property
    def encoder_position_bias(self):
        return self._wiring.encoder_position_bias

    @property
    def decoder_position_bias(self):
        return self._wiring.decoder_position_bias

    @property
    def encoder_final_norm(self):
        return self._wiring.encoder_final_norm

    @property
    def decoder_final_norm(self):
        return self._wiring.decoder_final_norm
