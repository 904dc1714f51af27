"""A Transformer decoder block: causal self-attention, optional cross-attention, feed-forward.

Shape legend: B = batch, T = decoder length, S = encoder length, L = cache
length, D = hidden_dim, N = heads, H = head size.
"""

import keras

from kerasnlp_lite.layers.masks import padding_mask_to_attention_mask, zero_padded
from kerasnlp_lite.layers.transformer_block_base import TransformerBlockBase
from kerasnlp_lite.utils.validation import check_float_dtype, check_rank


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TransformerDecoderBlock(TransformerBlockBase):
    """Decoder block of Vaswani et al. (2017, section 3.1), GPT-1 and GPT-2.

    Sub-blocks, each with a residual and LayerNorm (post-LN, or pre-LN when
    `norm_first`): masked self-attention; cross-attention with queries from
    the decoder and keys/values from the encoder output (if
    `cross_attention`); feed-forward. With `cross_attention=False` this is a
    GPT block.

    Args:
        cross_attention: add the encoder-decoder attention sub-block.
        (others): as `TransformerEncoderBlock`. Relative/rotary positions
            apply to self-attention only.

    Call arguments:
        decoder_sequence: `[B, T, D]`.
        encoder_sequence: `[B, S, De]`; needed for cross-attention unless
            `cross_attention_cache` is given.
        decoder_padding_mask: `[B, T]`, or `[B, L]` over the cache slots
            when a self-attention cache is used (1/True at real tokens).
        encoder_padding_mask: `[B, S]`.
        self_attention_cache: `(key_cache, value_cache)`, each
            `[B, N, L, H]`; this call's keys/values are written at
            `self_attention_cache_index`.
        self_attention_cache_index: scalar int, the position of the first
            decoder token of this call.
        cross_attention_cache: static `(keys, values)` of the encoder output,
            from `compute_cross_attention_cache`, computed once per sequence.
        use_causal_mask: mask future positions (default True).
        position_bias: float bias for self-attention logits (T5).

    Returns:
        `[B, T, D]`, or `(output, updated_self_attention_cache)` when a
        self-attention cache is given.
    """

    def __init__(self, num_heads, intermediate_dim, cross_attention=True, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.cross_attention = cross_attention
        if cross_attention:
            self.cross_attention_layer = self.attention_layer("cross_attention", relative_positions=False)
            self.cross_attention_norm = self.layer_norm("cross_attention_norm")

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self.check_hidden_dim(decoder_sequence_shape[-1])
        self.self_attention.build(decoder_sequence_shape)
        self.self_attention_norm.build(decoder_sequence_shape)
        if self.cross_attention:
            self.cross_attention_layer.build(decoder_sequence_shape, encoder_sequence_shape or decoder_sequence_shape)
            self.cross_attention_norm.build(decoder_sequence_shape)
        self.feed_forward.build(decoder_sequence_shape)
        self.feed_forward_norm.build(decoder_sequence_shape)
        self.built = True

    def compute_cross_attention_cache(self, encoder_sequence):
        """Static cross-attention keys and values `[B, N, S, H]` of the encoder output."""
        if not self.cross_attention:
            raise ValueError("This block was built with `cross_attention=False`.")
        return self.cross_attention_layer.project_key_value(encoder_sequence)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        self_attention_cache=None,
        self_attention_cache_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        position_bias=None,
        training=None,
    ):
        check_rank(decoder_sequence, 3, "decoder_sequence", "[batch, sequence_length, hidden_dim]")
        check_float_dtype(decoder_sequence, "decoder_sequence")
        if self.cross_attention and encoder_sequence is None and cross_attention_cache is None:
            raise ValueError(
                "This block has cross-attention: pass `encoder_sequence` [batch, encoder_length, hidden_dim] "
                "or a `cross_attention_cache`."
            )
        if not self.cross_attention and (encoder_sequence is not None or cross_attention_cache is not None):
            raise ValueError("`encoder_sequence` was given to a block built with `cross_attention=False`.")
        if (self_attention_cache is None) != (self_attention_cache_index is None):
            raise ValueError("Pass both `self_attention_cache` and `self_attention_cache_index`, or neither.")

        self_mask = None
        if decoder_padding_mask is not None:
            check_rank(decoder_padding_mask, 2, "decoder_padding_mask", "[batch, key_length]")
            self_mask = padding_mask_to_attention_mask(
                decoder_padding_mask, query_length=keras.ops.shape(decoder_sequence)[1]
            )
        updated_cache = []

        def self_attention(x):
            # Without a cache the padding mask covers x itself: zero padded keys/values (NaN-safe).
            value = None
            if decoder_padding_mask is not None and self_attention_cache is None:
                value = zero_padded(x, decoder_padding_mask)
            out = self.self_attention(
                x,
                value,
                attention_mask=self_mask,
                use_causal_mask=use_causal_mask,
                position_bias=position_bias,
                cache=self_attention_cache,
                cache_index=self_attention_cache_index,
                training=training,
            )
            if self_attention_cache is None:
                return out
            out, cache = out
            updated_cache.append(cache)
            return out

        x = self.residual(decoder_sequence, self_attention, self.self_attention_norm, training)

        if self.cross_attention:
            cross_mask = None
            if encoder_padding_mask is not None:
                check_rank(encoder_padding_mask, 2, "encoder_padding_mask", "[batch, encoder_length]")
                cross_mask = padding_mask_to_attention_mask(
                    encoder_padding_mask, query_length=keras.ops.shape(decoder_sequence)[1]
                )

            def cross_attention(y):
                if cross_attention_cache is not None:
                    out, _ = self.cross_attention_layer(
                        y, attention_mask=cross_mask, cache=cross_attention_cache, training=training
                    )
                    return out
                check_rank(encoder_sequence, 3, "encoder_sequence", "[batch, encoder_length, hidden_dim]")
                encoder = encoder_sequence
                if encoder_padding_mask is not None:  # NaN-safe: padded encoder positions become zero keys/values
                    encoder = zero_padded(encoder_sequence, encoder_padding_mask)
                return self.cross_attention_layer(y, encoder, attention_mask=cross_mask, training=training)

            x = self.residual(x, cross_attention, self.cross_attention_norm, training)

        x = self.residual(x, lambda y: self.feed_forward(y, training=training), self.feed_forward_norm, training)
        if self_attention_cache is not None:
            return x, updated_cache[0]
        return x

    def get_config(self):
        config = super().get_config()
        config["cross_attention"] = self.cross_attention
        return config
