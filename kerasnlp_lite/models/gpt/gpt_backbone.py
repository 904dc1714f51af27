"""GPT-1 (Radford et al. 2018) and GPT-2 (Radford et al. 2019) decoder-only backbones.

Shape legend: B = batch, T = tokens of this call, L = cache length
(`max_length` of generation), N = heads, H = head size, D = hidden_dim.
"""

import math

import keras
from keras import ops

from kerasnlp_lite.layers import TextEmbedding, TransformerDecoderBlock
from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.gpt.gpt_presets import GPT_PRESETS
from kerasnlp_lite.utils.validation import check_backbone_sizes, check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class GPTBackbone(Backbone):
    """A stack of causal Transformer decoder blocks over token + learned position embeddings.

    h_0 = U W_e + W_p, h_l = block(h_{l-1}) (GPT-1, eq. 2). Inputs (int32,
    `[B, T]`): `token_ids` and `padding_mask` (1 at real tokens). Output, a
    dict: `sequence_output` `[B, T, D]`. Attention is causal; with right
    padding (real tokens first) the padding mask changes nothing at real
    positions.

    - GPT-1: `norm_first=False, final_norm=False`: post-LN blocks as in the
      original Transformer.
    - GPT-2: `norm_first=True, final_norm=True`: "Layer normalization was
      moved to the input of each sub-block ... and an additional layer
      normalization was added after the final self-attention block"
      (Radford et al. 2019, section 2.3).

    Initialisation: N(0, 0.02) everywhere (GPT-1, section 4.1). With
    `norm_first` the kernels that write into the residual stream (attention
    output and second feed-forward kernel) get std 0.02 / sqrt(2 *
    num_layers): GPT-2 section 2.3 scales "the weights of residual layers at
    initialization by a factor of 1/sqrt(N) where N is the number of residual
    layers" (two per block), as nanoGPT does.

    Cached decoding (used by `CausalLM.generate` and TFLite export):
    `init_cache(batch_size, max_length)` and `call_with_cache(...)` run the
    same layers (no second copy of the weights) one chunk of tokens at a
    time over fixed-shape per-layer K/V caches `[B, N, L, H]`.

    Args:
        vocabulary_size: token vocabulary V.
        num_layers: decoder blocks.
        num_heads: attention heads.
        hidden_dim: D.
        intermediate_dim: feed-forward width (4D).
        max_sequence_length: positions of the learned position table.
        norm_first: pre-LN (GPT-2) or post-LN (GPT-1) blocks.
        final_norm: LayerNorm after the last block (GPT-2).
        dropout: residual, embedding and attention dropout (0.1).
        activation: feed-forward activation; "gelu_tanh" as both GPTs' code.
        layer_norm_epsilon: 1e-5 as GPT-2.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> backbone = GPTBackbone.from_preset("gpt2_small")
    >>> backbone({"token_ids": ids, "padding_mask": mask})["sequence_output"]  # [B, T, 768]

    Reference:
        Radford et al. 2018, "Improving Language Understanding by Generative
        Pre-Training"; Radford et al. 2019, "Language Models are Unsupervised
        Multitask Learners".
    """

    PRESETS = GPT_PRESETS

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=1024,
        norm_first=True,
        final_norm=True,
        dropout=0.1,
        activation="gelu_tanh",
        layer_norm_epsilon=1e-5,
        dtype=None,
        **kwargs,
    ):
        check_backbone_sizes(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout, max_sequence_length,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        # === Layers ===
        initializer = keras.initializers.RandomNormal(stddev=0.02)
        # GPT-2 section 2.3: residual projections scaled by 1/sqrt(2 * num_layers).
        output_initializer = (
            keras.initializers.RandomNormal(stddev=0.02 / math.sqrt(2 * num_layers)) if norm_first else initializer
        )
        embedding = TextEmbedding(
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            dropout=dropout,
            embeddings_initializer=initializer,
            dtype=dtype,
            name="embeddings",
        )
        blocks = [
            TransformerDecoderBlock(
                num_heads,
                intermediate_dim,
                cross_attention=False,
                dropout=dropout,
                activation=activation,
                norm_first=norm_first,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=initializer,
                output_kernel_initializer=output_initializer,
                dtype=dtype,
                name=f"decoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        layer_norm = (
            keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype, name="final_layer_norm")
            if final_norm
            else None
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = embedding(token_ids)
        for block in blocks:
            x = block(x, decoder_padding_mask=padding_mask)
        if layer_norm is not None:
            x = layer_norm(x)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": x},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.set_config(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            max_sequence_length=max_sequence_length,
            norm_first=norm_first,
            final_norm=final_norm,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        self.embedding = embedding
        self.decoder_blocks = blocks
        self.final_layer_norm = layer_norm

    @property
    def token_embedding(self):
        """The token table W_e, tied to the LM output layer."""
        return self.embedding.token_embedding

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def init_cache(self, batch_size, max_length):
        """Zero K/V caches: a list over layers of `(key, value)`, each `[B, N, L, H]`.

        Per-layer rank-4 tensors, not one rank-6 tensor: TFLite needs Flex ops
        for strided slices above rank 5.
        """
        if isinstance(max_length, int):
            check_positive_int(max_length, "max_length")
            if max_length > self.max_sequence_length:
                raise ValueError(
                    f"`max_length`={max_length} exceeds the backbone's max_sequence_length="
                    f"{self.max_sequence_length}."
                )
        shape = (batch_size, self.num_heads, max_length, self.head_dim)
        return [(ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype)) for _ in self.decoder_blocks]

    def call_with_cache(self, token_ids, cache, cache_index, padding_mask=None):
        """Runs `token_ids` `[B, T]` at positions `cache_index .. cache_index + T - 1`.

        Args:
            token_ids: int `[B, T]` (T = prompt length for the prefill, 1 per
                decoding step).
            cache: from `init_cache` or a previous call.
            cache_index: scalar int (Python or tensor), the absolute position
                of `token_ids[:, 0]`.
            padding_mask: optional `[B, L]` over the cache slots (1 at real
                tokens); not needed with right padding, where the causal mask
                already hides every later slot.

        Returns:
            `(hidden [B, T, D], updated cache)`; inference only (no dropout).
        """
        if len(cache) != self.num_layers:
            raise ValueError(f"`cache` must hold {self.num_layers} (key, value) pairs, got {len(cache)}.")
        x = self.embedding(token_ids, start_index=cache_index, training=False)
        updated = []
        for block, layer_cache in zip(self.decoder_blocks, cache):
            x, layer_cache = block(
                x,
                decoder_padding_mask=padding_mask,
                self_attention_cache=tuple(layer_cache),
                self_attention_cache_index=cache_index,
                training=False,
            )
            updated.append(layer_cache)
        if self.final_layer_norm is not None:
            x = self.final_layer_norm(x)
        return x, updated
