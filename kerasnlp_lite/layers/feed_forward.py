"""Position-wise feed-forward network (Vaswani et al. 2017, section 3.3)."""

import keras
import tensorflow as tf
from keras import ops

from kerasnlp_lite.layers.activations import get_activation
from kerasnlp_lite.layers.multi_head_attention import check_can_enable_lora, check_lora_arguments
from kerasnlp_lite.utils.validation import (
    check_float_dtype,
    check_positive_int,
    check_rank,
    check_rate,
    fresh_initializer,
    output_initializer,
)


class _LoRADense(keras.layers.Dense):
    """`keras.layers.Dense` whose `.keras` file keeps the LoRA factors apart from the kernel,
    and whose call is one fusable MatMul + BiasAdd (see `call`).

    Keras 3.15's `Dense.save_own_variables` writes the merged kernel
    `kernel + (alpha / rank) A B` and `load_own_variables` zeroes A and B: the
    outputs survive a round trip, but the base kernel and the adapter do not,
    and with A = B = 0 both get zero gradients, so LoRA training cannot
    resume. With LoRA enabled this layer saves every variable as it is
    (kernel, bias, A, B), as our `MultiHeadAttention` does; without LoRA the
    file is a plain Dense's.
    """

    def quantize(self, mode=None, type_check=True, config=None):
        """Keras' own `Dense.quantize` (`model.quantize("int8")` reaches it): Dense refuses subclasses
        unless `type_check` is off, and this subclass changes only the float call and LoRA saving."""
        return super().quantize(mode, type_check=False, config=config)

    def _int8_call(self, inputs, training=None):
        """Keras' int8 weights (an int8 kernel and `kernel_scale`, saved as Keras saves them), computed
        weight-only: `(x int8) / kernel_scale`, the activations kept float.

        Keras' own int8 call also quantizes the activations (abs-max per row) for an int8 x int8 matmul.
        TensorFlow's CPU kernel for that is slower than float32 at batch 1 and the extra rounding costs
        agreement with the float model; the weights are the bytes a decode step reads either way.
        """

        def product(x):
            y = tf.matmul(x, ops.cast(self._kernel, x.dtype)) / ops.cast(self.kernel_scale, x.dtype)
            if self.lora_enabled:
                lora = tf.matmul(tf.matmul(x, ops.cast(self.lora_kernel_a, x.dtype)),
                                 ops.cast(self.lora_kernel_b, x.dtype))
                y = y + (self.lora_alpha / self.lora_rank) * lora
            return y

        return self._in_two_d(inputs, product)

    def _in_two_d(self, inputs, product):
        """`act(product(x) + b)` with `x` the inputs as 2-D `[B * T, D]` (one MatMul + BiasAdd), reshaped back
        to the input's rank (static dims where known, so shapes stay static in the graph)."""
        x = inputs
        rank = len(inputs.shape)
        if rank != 2:
            x = tf.reshape(inputs, [-1, inputs.shape[-1]])  # [B * T, D]
        y = product(x)
        if self.bias is not None:
            y = tf.nn.bias_add(y, ops.cast(self.bias, y.dtype))
        if self.activation is not None:
            y = self.activation(y)
        if rank != 2:
            dynamic = tf.shape(inputs)
            outer = [dynamic[i] if d is None else d for i, d in enumerate(inputs.shape[:-1])]
            y = tf.reshape(y, outer + [self.units])
        return y

    def save_own_variables(self, store):
        if self.lora_enabled:
            keras.layers.Layer.save_own_variables(self, store)
        else:
            super().save_own_variables(store)

    def load_own_variables(self, store):
        if self.lora_enabled:
            keras.layers.Layer.load_own_variables(self, store)
        else:
            super().load_own_variables(store)

    def call(self, inputs, training=None):
        """`act(x W + b)` as one 2-D MatMul + BiasAdd, whatever the input rank.

        Keras' `Dense` computes `tensordot(x, W) + b` (an AddV2). With oneDNN
        (`TF_ENABLE_ONEDNN_OPTS=1`; TF turns it on by default only on CPUs
        with AVX-512 VNNI / AMX) grappler fuses MatMul + BiasAdd + GELU into
        one `_FusedMatMul`; the AddV2 form is not fused. Measured at the
        MiniLM FFN shape (4096 x 384 -> 1536, exact GELU): 118 ms vs 150 ms.
        XLA and TFLite (FULLY_CONNECTED) read the same graph. An int8 layer
        runs `_int8_call` (Keras routes it there); other quantization modes
        keep Keras' own call.
        """
        if self.quantization_mode:
            return super().call(inputs, training=training)
        kernel = self.kernel  # with LoRA: kernel + (alpha / rank) A B
        return self._in_two_d(inputs, lambda x: tf.matmul(x, ops.cast(kernel, x.dtype)))


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class FeedForward(keras.layers.Layer):
    """FFN(x) = act(x W1 + b1) W2 + b2, applied at every position.

    Args:
        intermediate_dim: width of the hidden layer (4 x hidden_dim in the
            Transformer, BERT and GPT).
        activation: name ("gelu", "gelu_tanh", "relu", ...) or callable,
            stored as given and resolved with `get_activation`.
        dropout: dropout on the intermediate activations (T5 puts dropout
            here; BERT/GPT use only the block's residual dropout: set 0).
        use_bias: whether both dense layers have biases.
        output_dim: output width; defaults to the input width.
        kernel_initializer: initializer of the first kernel.
        output_kernel_initializer: initializer of the second kernel, which
            feeds the residual stream (GPT-2 scales it by
            1/sqrt(2 * num_layers)); defaults to `kernel_initializer`.
        bias_initializer: initializer of both biases.
        lora_rank: if set, `enable_lora(lora_rank, lora_alpha)` runs when the
            layer is built (how a saved LoRA layer comes back).
        lora_alpha: LoRA scale numerator (`lora_alpha / lora_rank` scales the
            update); defaults to `lora_rank`.

    Call arguments:
        inputs: float `[B, T, D]` (ranks 2 to 5 work).
        training: enables dropout.

    Returns:
        `[B, T, output_dim or D]`.

    Attributes:
        intermediate_dense, output_dense: the two `keras.layers.Dense`
            (kernels `[D, intermediate_dim]` and `[intermediate_dim, D]`), for
            weight transfer from KerasHub and Model Garden. `output_dense`
            exists once the layer is built (its width may be the input's).
            They are `keras.layers.Dense` with two changes: with LoRA, a
            `.keras` file keeps the base kernel and A, B apart, and the call
            is one 2-D MatMul + BiasAdd (see `_LoRADense`).

    Example:
    >>> ffn = FeedForward(intermediate_dim=3072, activation="gelu_tanh")
    >>> ffn(keras.random.normal((2, 10, 768))).shape
    TensorShape([2, 10, 768])
    """

    def __init__(
        self,
        intermediate_dim,
        activation="gelu",
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        output_kernel_initializer=None,
        bias_initializer="zeros",
        lora_rank=None,
        lora_alpha=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(intermediate_dim, "intermediate_dim")
        check_lora_arguments(lora_rank, lora_alpha, rank_optional=True)
        check_positive_int(output_dim, "output_dim", allow_none=True)
        check_rate(dropout, "dropout")
        get_activation(activation)  # fail early on an unknown name
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_kernel_initializer = output_initializer(output_kernel_initializer, kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self.intermediate_dense = _LoRADense(
            intermediate_dim,
            activation=get_activation(activation),
            use_bias=use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="intermediate_dense",
        )
        self.intermediate_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="intermediate_dropout")

    def build(self, inputs_shape):
        self.output_dense = _LoRADense(
            self.output_dim or inputs_shape[-1],
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.output_kernel_initializer),
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="output_dense",
        )
        self.intermediate_dense.build(inputs_shape)
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    def enable_lora(self, rank, lora_alpha=None):
        """LoRA (Hu et al. 2021, https://arxiv.org/abs/2106.09685) on both kernels.

        Calls Keras' own `Dense.enable_lora` on `intermediate_dense` and
        `output_dense`: each kernel is frozen and used as `kernel +
        (lora_alpha / rank) * A @ B` (A He-uniform `[in, rank]`, B zeros
        `[rank, out]`, both float32). `lora_alpha` is passed explicitly: a
        Dense rebuilt from a config with `lora_rank` re-enables LoRA without
        it and so resets alpha to rank (Keras 3.15), which is why this layer,
        not its Dense layers, keeps the LoRA config.

        Args:
            rank: r, a positive int.
            lora_alpha: scale numerator; defaults to `rank`.

        Raises:
            ValueError: a bad `rank` / `lora_alpha`, an unbuilt layer, or LoRA
                already enabled.
        """
        check_can_enable_lora(self, rank, lora_alpha)
        alpha = lora_alpha if lora_alpha is not None else rank
        self.intermediate_dense.enable_lora(rank, lora_alpha=alpha)
        self.output_dense.enable_lora(rank, lora_alpha=alpha)
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = alpha

    def call(self, inputs, training=None):
        check_rank(inputs, (2, 3, 4, 5), "inputs", "[batch, ..., hidden_dim]")
        check_float_dtype(inputs, "inputs")
        x = self.intermediate_dense(inputs)
        x = self.intermediate_dropout(x, training=training)
        return self.output_dense(x)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.output_dim or inputs_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": (
                    self.activation
                    if self.activation is None or isinstance(self.activation, (str, dict))
                    else keras.saving.serialize_keras_object(self.activation)
                ),
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_dim": self.output_dim,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "output_kernel_initializer": keras.initializers.serialize(self.output_kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "lora_rank": self.lora_rank,
                "lora_alpha": self.lora_alpha,
            }
        )
        return config
