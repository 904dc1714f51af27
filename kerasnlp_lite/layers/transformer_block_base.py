"""Shared constructor, config and residual wiring of the Transformer blocks."""

import keras

from kerasnlp_lite.layers.feed_forward import FeedForward
from kerasnlp_lite.layers.multi_head_attention import MultiHeadAttention
from kerasnlp_lite.utils.validation import check_positive_int, check_rate, output_initializer

NORMALIZATIONS = ("layer_norm", "rms_norm")


class TransformerBlockBase(keras.layers.Layer):
    """Not a public layer: the arguments, sublayers and config that the encoder
    and decoder blocks share. See `TransformerEncoderBlock` for the arguments."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="gelu",
        norm_first=False,
        layer_norm_epsilon=1e-12,
        key_dim=None,
        kernel_initializer="glorot_uniform",
        output_kernel_initializer=None,
        bias_initializer="zeros",
        relative_max_distance=None,
        rotary_max_wavelength=None,
        use_bias=True,
        normalization="layer_norm",
        attention_scale=None,
        query_kernel_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads, "num_heads")
        check_positive_int(intermediate_dim, "intermediate_dim")
        check_rate(dropout, "dropout")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"`normalization` must be one of {NORMALIZATIONS}, got {normalization!r}.")
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = key_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_kernel_initializer = output_initializer(output_kernel_initializer, kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.relative_max_distance = relative_max_distance
        self.rotary_max_wavelength = rotary_max_wavelength
        self.use_bias = use_bias
        self.normalization = normalization
        self.attention_scale = attention_scale
        self.query_kernel_initializer = output_initializer(query_kernel_initializer, kernel_initializer)
        # Sublayers are made here so that construction errors surface early.
        self.self_attention = self.attention_layer("self_attention")
        self.self_attention_norm = self.layer_norm("self_attention_norm")
        self.feed_forward = FeedForward(
            intermediate_dim=intermediate_dim,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            output_kernel_initializer=self.output_kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward_norm = self.layer_norm("feed_forward_norm")
        self.residual_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="residual_dropout")

    def attention_layer(self, name, relative_positions=True):
        return MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            dropout=self.dropout,
            use_bias=self.use_bias,
            attention_scale=self.attention_scale,
            query_kernel_initializer=self.query_kernel_initializer,
            kernel_initializer=self.kernel_initializer,
            output_kernel_initializer=self.output_kernel_initializer,
            bias_initializer=self.bias_initializer,
            relative_max_distance=self.relative_max_distance if relative_positions else None,
            rotary_max_wavelength=self.rotary_max_wavelength if relative_positions else None,
            dtype=self.dtype_policy,
            name=name,
        )

    def layer_norm(self, name):
        if self.normalization == "rms_norm":
            # T5: scale only, no mean subtraction and no bias (computed in float32).
            return keras.layers.RMSNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)
        return keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)

    def check_hidden_dim(self, hidden_dim):
        if self.key_dim is None and hidden_dim % self.num_heads != 0:
            raise ValueError(
                f"`hidden_dim` (the input width, {hidden_dim}) must be divisible by `num_heads`={self.num_heads}."
            )

    def residual(self, x, sublayer, norm, training):
        """One residual sub-block: post-LN, or pre-LN when `norm_first`."""
        if self.norm_first:
            return x + self.residual_dropout(sublayer(norm(x)), training=training)
        return norm(x + self.residual_dropout(sublayer(x), training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": self.activation,
                "norm_first": self.norm_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "key_dim": self.key_dim,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "output_kernel_initializer": keras.initializers.serialize(self.output_kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "relative_max_distance": self.relative_max_distance,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "use_bias": self.use_bias,
                "normalization": self.normalization,
                "attention_scale": self.attention_scale,
                "query_kernel_initializer": keras.initializers.serialize(self.query_kernel_initializer),
            }
        )
        return config
