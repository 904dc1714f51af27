"""A Transformer encoder block: self-attention and feed-forward, each with a residual.

Shape legend: B = batch, T = sequence length, D = hidden_dim.
"""

import keras

from kerasnlp_lite.layers.masks import merge_masks, padding_mask_to_attention_mask
from kerasnlp_lite.layers.transformer_block_base import TransformerBlockBase
from kerasnlp_lite.utils.validation import check_float_dtype, check_rank


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TransformerEncoderBlock(TransformerBlockBase):
    """Self-attention + feed-forward with residuals and LayerNorm.

    `norm_first=False` is post-LN, the original Transformer, BERT and GPT-1:
    x = LN(x + Dropout(Attn(x))); x = LN(x + Dropout(FFN(x))).
    `norm_first=True` is pre-LN, GPT-2 (Radford et al. 2019, section 2.3;
    Xiong et al. 2020): x = x + Dropout(Attn(LN(x))); x = x + Dropout(FFN(LN(x))).

    Args:
        num_heads: attention heads; must divide the input width.
        intermediate_dim: width of the feed-forward's hidden layer.
        dropout: rate for attention weights and both residual branches.
        activation: feed-forward activation, e.g. "gelu", "gelu_tanh", "relu".
        norm_first: pre-LN instead of post-LN.
        layer_norm_epsilon: LayerNorm epsilon.
        key_dim: attention head size; defaults to width // num_heads.
        kernel_initializer: initializer of all kernels but the two residual
            output projections.
        output_kernel_initializer: initializer of the attention output and
            feed-forward output kernels (GPT-2 scales it by
            1 / sqrt(2 * num_layers)); defaults to `kernel_initializer`.
        bias_initializer: initializer of all biases.
        relative_max_distance: Shaw et al. relative positions in attention.
        rotary_max_wavelength: rotary position embeddings in attention.
        use_bias: biases in the attention and feed-forward projections
            (T5 has none).
        normalization: "layer_norm", or "rms_norm" (T5: scale only, no
            mean subtraction, no bias).
        attention_scale: logit scale; None is 1/sqrt(head size), T5 uses 1.
        query_kernel_initializer: initializer of the query kernels; defaults
            to `kernel_initializer`.

    Call arguments:
        inputs: `[B, T, D]`.
        padding_mask: `[B, T]`, 1/True at real tokens. Padded positions
            are zeroed before they become keys and values, so whatever they
            hold (even NaN) never changes the real tokens' outputs.
        attention_mask: `[B, T, T]` (or `[T, T]`), merged with the padding mask.
        use_causal_mask: mask future positions.
        position_bias: float bias broadcastable to `[B, N, T, T]` (T5).

    Returns:
        `[B, T, D]`.
    """

    def build(self, inputs_shape):
        self.check_hidden_dim(inputs_shape[-1])
        self.self_attention.build(inputs_shape)
        self.self_attention_norm.build(inputs_shape)
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm.build(inputs_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        position_bias=None,
        training=None,
    ):
        check_rank(inputs, 3, "inputs", "[batch, sequence_length, hidden_dim]")
        check_float_dtype(inputs, "inputs")
        key_padding_mask = padding_mask
        if padding_mask is not None:
            check_rank(padding_mask, 2, "padding_mask", "[batch, sequence_length]")
            padding_mask = padding_mask_to_attention_mask(padding_mask)
        mask = merge_masks(attention_mask, padding_mask)

        def attention(x):
            # Keys/values from padded positions are zeroed, so NaN or inf there cannot reach real tokens.
            # (MultiHeadAttention keeps its one fused q/k/v matmul and replaces the padded key/value rows.)
            return self.self_attention(
                x, attention_mask=mask, use_causal_mask=use_causal_mask, position_bias=position_bias,
                training=training, key_padding_mask=key_padding_mask,
            )

        x = self.residual(inputs, attention, self.self_attention_norm, training)
        return self.residual(x, lambda y: self.feed_forward(y, training=training), self.feed_forward_norm, training)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape
