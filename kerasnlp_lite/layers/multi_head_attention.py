"""Multi-head attention with a fixed-shape KV cache.

Shape legend: B = batch, T = query length, S = key length, D = model width,
N = heads, H = key head size, V = value head size, L = cache length.
"""

import math

import keras
import tensorflow as tf
from keras import ops

from kerasnlp_lite.layers.attention import scaled_dot_product_attention
from kerasnlp_lite.layers.int8_weights import Int8Weights
from kerasnlp_lite.layers.kv_cache import write_cache
from kerasnlp_lite.layers.masks import causal_mask, merge_masks, padding_keep_mask, zero_padded
from kerasnlp_lite.layers.relative_position_embedding import RelativePositionEmbedding
from kerasnlp_lite.layers.rotary_embedding import RotaryEmbedding
from kerasnlp_lite.utils.validation import (
    as_bool_mask,
    check_cache_index,
    checked_in_range,
    check_float_dtype,
    check_positive_int,
    check_rank,
    check_rate,
    fresh_initializer,
    is_int,
    is_number,
    output_initializer,
)

# The four projections that get LoRA, with the number of leading kernel axes that
# index the input: q/k/v kernels are [D, N, H] (input D), the output kernel is
# [N, V, D] (input N*V).
LORA_KERNELS = (("query", 1), ("key", 1), ("value", 1), ("output", 2))


def check_lora_arguments(rank, lora_alpha=None, rank_optional=False):
    """Validates a LoRA rank (a positive int; None too when `rank_optional`, then without an alpha)
    and scale numerator (None or a positive number)."""
    if rank is None and rank_optional:
        if lora_alpha is not None:
            raise ValueError("`lora_alpha` was given without `lora_rank`; pass both (or call `enable_lora`).")
        return
    if not is_int(rank) or rank < 1:
        raise ValueError(f"`rank` (the LoRA rank) must be a positive int, got {rank!r}.")
    if lora_alpha is not None and (
        not is_number(lora_alpha) or not lora_alpha > 0
    ):
        raise ValueError(f"`lora_alpha` must be None (= rank) or a number > 0, got {lora_alpha!r}.")


def check_can_enable_lora(layer, rank, lora_alpha=None):
    """The arguments are valid, the layer is built and has no LoRA yet; ValueError otherwise."""
    check_lora_arguments(rank, lora_alpha)
    if not layer.built:
        raise ValueError(f"Cannot enable LoRA on layer {layer.name!r} before it is built (call it once first).")
    if layer.lora_enabled:
        raise ValueError(
            f"LoRA is already enabled on layer {layer.name!r} (rank {layer.lora_rank}); it can be enabled once."
        )


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class MultiHeadAttention(Int8Weights, keras.layers.Layer):
    """Multi-head attention (Vaswani et al. 2017, section 3.2.2).

    The weights have the same shapes as `keras.layers.MultiHeadAttention`
    (query/key/value kernels `[D, N, H]`, biases `[N, H]`, output kernel
    `[N, V, D]`), so weights transfer one to one and the outputs agree.

    Beyond Keras' layer it supports a fixed-shape KV cache for decoding (see
    `call`), additive position biases (T5), Shaw et al. relative positions
    (`relative_max_distance`) and rotary embeddings (`rotary_max_wavelength`),
    and LoRA on the four projection kernels (`enable_lora`).

    Args:
        num_heads: number of heads N.
        key_dim: head size H of queries and keys; defaults to D // N.
        value_dim: head size V of values; defaults to `key_dim`.
        dropout: dropout rate on the attention weights.
        use_bias: whether the projections have biases.
        output_dim: output width; defaults to the query width D.
        kernel_initializer: initializer of the q/k/v kernels.
        output_kernel_initializer: initializer of the output kernel (GPT-2
            scales it by 1/sqrt(2 * num_layers)); defaults to
            `kernel_initializer`.
        bias_initializer: initializer of all biases.
        relative_max_distance: if set, adds Shaw et al. (2018) relative
            position logits with distances clipped to this value.
        rotary_max_wavelength: if set, applies rotary position embeddings
            (Su et al. 2021) to queries and keys with this base wavelength.
        attention_scale: factor of the logits q k^T; None is 1/sqrt(key_dim).
            T5 uses 1.0 (the scale is folded into the query initialisation).
        query_kernel_initializer: initializer of the query kernel; defaults
            to `kernel_initializer` (T5: std (d_model * key_dim)^-1/2).
        lora_rank: if set, `enable_lora(lora_rank, lora_alpha)` runs when the
            layer is built (how a saved LoRA layer comes back).
        lora_alpha: LoRA scale numerator; the update is scaled by
            `lora_alpha / lora_rank`. Defaults to `lora_rank` (scale 1).

    Attributes:
        query_kernel, key_kernel, value_kernel, output_kernel: the base kernel
            variables (checkpoint loaders assign them). With LoRA they are
            frozen and the layer computes with `kernel + delta` instead.

    Example:
    >>> mha = MultiHeadAttention(num_heads=4)
    >>> x = keras.random.normal((2, 10, 64))
    >>> mha(x, use_causal_mask=True).shape
    TensorShape([2, 10, 64])
    """

    def __init__(
        self,
        num_heads,
        key_dim=None,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        output_kernel_initializer=None,
        bias_initializer="zeros",
        relative_max_distance=None,
        rotary_max_wavelength=None,
        attention_scale=None,
        query_kernel_initializer=None,
        lora_rank=None,
        lora_alpha=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads, "num_heads")
        check_lora_arguments(lora_rank, lora_alpha, rank_optional=True)
        if attention_scale is not None and (not is_number(attention_scale) or attention_scale <= 0):
            raise ValueError(f"`attention_scale` must be None (1/sqrt(key_dim)) or a number > 0, got {attention_scale!r}.")
        check_positive_int(key_dim, "key_dim", allow_none=True)
        check_positive_int(value_dim, "value_dim", allow_none=True)
        check_positive_int(output_dim, "output_dim", allow_none=True)
        check_rate(dropout, "dropout")
        check_positive_int(relative_max_distance, "relative_max_distance", allow_none=True)
        if relative_max_distance is not None and rotary_max_wavelength is not None:
            raise ValueError(
                "Pass at most one of `relative_max_distance` (Shaw et al.) and "
                "`rotary_max_wavelength` (RoPE): they are alternative position schemes."
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_kernel_initializer = output_initializer(output_kernel_initializer, kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.relative_max_distance = relative_max_distance
        self.rotary_max_wavelength = rotary_max_wavelength
        self.attention_scale = attention_scale
        self.query_kernel_initializer = output_initializer(query_kernel_initializer, kernel_initializer)
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self.seed_generator = keras.random.SeedGenerator()
        self.supports_masking = False

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_dim = query_shape[-1]
        if self.key_dim is None and query_dim % self.num_heads != 0:
            raise ValueError(
                f"The query width (hidden_dim) {query_dim} must be divisible by "
                f"`num_heads`={self.num_heads} when `key_dim` is not given."
            )
        self._key_dim = self.key_dim or query_dim // self.num_heads
        self._value_dim = self.value_dim or self._key_dim
        self._output_dim = self.output_dim or query_dim
        value_dim_in = (value_shape or query_shape)[-1]
        key_dim_in = (key_shape or value_shape or query_shape)[-1]
        n, h, v = self.num_heads, self._key_dim, self._value_dim

        def dense(name, in_dim, head_dim, initializer):
            kernel = self.add_weight(name=f"{name}_kernel", shape=(in_dim, n, head_dim), initializer=fresh_initializer(initializer))
            bias = (
                self.add_weight(name=f"{name}_bias", shape=(n, head_dim), initializer=self.bias_initializer)
                if self.use_bias
                else None
            )
            return kernel, bias

        self.query_kernel, self.query_bias = dense("query", query_dim, h, self.query_kernel_initializer)
        self.key_kernel, self.key_bias = dense("key", key_dim_in, h, self.kernel_initializer)
        self.value_kernel, self.value_bias = dense("value", value_dim_in, v, self.kernel_initializer)
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(n, v, self._output_dim), initializer=fresh_initializer(self.output_kernel_initializer)
        )
        self.output_bias = (
            self.add_weight(name="output_bias", shape=(self._output_dim,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        self.relative_embedding = None
        self.rotary = None
        if self.relative_max_distance is not None:
            self.relative_embedding = RelativePositionEmbedding(
                max_distance=self.relative_max_distance, dtype=self.dtype_policy, name="relative_embedding"
            )
            self.relative_embedding.build((None, n, None, h))
        if self.rotary_max_wavelength is not None:
            self.rotary = RotaryEmbedding(
                max_wavelength=self.rotary_max_wavelength, dtype=self.dtype_policy, name="rotary"
            )
        self.built = True
        self._build_int8()  # a layer rebuilt from a quantized config (int8_weights.py)
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    def _int8_kernels(self):
        # q/k/v [D, N, H]: one scale per (head, unit); output [N, V, D]: one per output unit.
        return [("query_kernel", (0,)), ("key_kernel", (0,)), ("value_kernel", (0,)), ("output_kernel", (0, 1))]

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Freezes the four projection kernels and adds a trainable low-rank update to each.

        LoRA (Hu et al. 2021, https://arxiv.org/abs/2106.09685): a frozen
        kernel W, viewed as a matrix `[in, out]`, is used as
        `W + (lora_alpha / rank) * A @ B` with `A` `[in, rank]` random and `B`
        `[rank, out]` zeros, so training starts from the unchanged layer and
        only A and B (and the biases, as Keras' `Dense.enable_lora` leaves
        them) train. The q/k/v kernels `[D, N, H]` are the matrix `[D, N*H]`
        and the output kernel `[N, V, D]` is `[N*V, D]`: the paper's update of
        the whole W_q, W_k, W_v, W_o. (Keras' `EinsumDense` factors only the
        last kernel axis, which gives each head its own `A`.) As in Keras, A
        and B are float32 under any dtype policy and A is He-uniform.

        Args:
            rank: r, a positive int.
            lora_alpha: scale numerator; defaults to `rank` (scale 1).
            a_initializer, b_initializer: initializers of A and B.

        Raises:
            ValueError: a bad `rank` / `lora_alpha`, an unbuilt layer, or LoRA
                already enabled.
        """
        check_can_enable_lora(self, rank, lora_alpha)
        self._tracker.unlock()
        for name, input_axes in LORA_KERNELS:
            kernel = getattr(self, f"{name}_kernel")
            rows = math.prod(kernel.shape[:input_axes])
            columns = math.prod(kernel.shape[input_axes:])
            # float32 whatever the policy: small updates to a low-precision
            # kernel would underflow (the same choice as Keras' Dense).
            a = self.add_weight(
                name=f"{name}_lora_kernel_a",
                shape=(rows, rank),
                initializer=fresh_initializer(a_initializer),
                dtype="float32",
            )
            b = self.add_weight(
                name=f"{name}_lora_kernel_b",
                shape=(rank, columns),
                initializer=fresh_initializer(b_initializer),
                dtype="float32",
            )
            setattr(self, f"{name}_lora_kernel_a", a)
            setattr(self, f"{name}_lora_kernel_b", b)
            kernel.trainable = False
        self._tracker.lock()
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def effective_kernel(self, name):
        """The kernel the layer computes with: "query", "key", "value" or "output".

        Without LoRA the variable itself; with LoRA `kernel + (lora_alpha /
        rank) * A @ B` reshaped to the kernel's shape, in float32 (the same
        expression `merge_lora` folds into plain weights).
        """
        kernel = self.dequantized(f"{name}_kernel")  # int8 * scale after `quantize("int8")`
        if not self.lora_enabled:
            return kernel
        a, b = getattr(self, f"{name}_lora_kernel_a"), getattr(self, f"{name}_lora_kernel_b")
        # [in, r] x [r, out] -> [in, out] -> the kernel's [D, N, H] or [N, V, D]
        delta = ops.reshape((self.lora_alpha / self.lora_rank) * ops.matmul(a, b), kernel.shape)
        return ops.add(ops.cast(kernel, delta.dtype), delta)

    def _kernel_and_scale(self, name):
        """`(kernel, scale per output unit or None)` of "query", "key", "value" or "output": int8 kernels
        cast to float with their scale applied to the product's output (int8_weights.py); with LoRA the
        float `effective_kernel`."""
        if self.lora_enabled:
            return self.effective_kernel(name), None
        return self.kernel_and_scale(f"{name}_kernel")

    def _project(self, x, name, bias):
        # [B, T, D] x [D, N, H] -> [B, N, T, H]: heads-major, the layout of
        # the KV cache, so no transposes are needed when reading it. One 2-D
        # MatMul (+ BiasAdd), not an einsum: TensorFlow's CPU Einsum kernel in
        # bfloat16 is ~10x slower than MatMul (it made mixed_bfloat16 training
        # 4x slower than KerasHub's); in float32 they time the same.
        kernel, scale = self._kernel_and_scale(name)
        n, h = kernel.shape[1], kernel.shape[2]
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        y = tf.matmul(ops.reshape(x, (-1, x.shape[-1])), ops.reshape(ops.cast(kernel, x.dtype), (kernel.shape[0], -1)))
        if scale is not None:
            y = y * ops.cast(scale, y.dtype)
        if bias is not None:
            y = tf.nn.bias_add(y, ops.reshape(ops.cast(bias, x.dtype), (-1,)))
        return self._split_heads(y, batch, length, n, h)

    @staticmethod
    def _split_heads(y, batch, length, n, size):
        """`[B*T, N*size]` -> `[B, T, N, size]` -> `[B, N, T, size]`."""
        return ops.transpose(ops.reshape(y, (batch, length, n, size)), (0, 2, 1, 3))

    @staticmethod
    def _zero_input_rows(bias, like):
        """The projection of an all-zero input row, `[1, N, 1, H]`: the bias, or zeros."""
        if bias is None:
            return ops.zeros((1, like.shape[1], 1, like.shape[3]), like.dtype)
        return ops.expand_dims(ops.expand_dims(ops.cast(bias, like.dtype), 0), 2)

    def _project_self_attention(self, x):
        """Queries, keys and values `[B, N, T, H]` of self-attention (no cache) in one matmul.

        The three kernels, flattened to `[D, N*H]`, are concatenated into one
        `[D, 3*N*H]` matrix: one 2-D MatMul + BiasAdd (which grappler fuses
        with oneDNN, and TFLite runs as one FULLY_CONNECTED) instead of three
        einsums with a broadcast bias add. Same weights, same result.
        """
        n, h, vd = self.num_heads, self._key_dim, self._value_dim
        kernels, scales = zip(*[self._kernel_and_scale(name) for name in ("query", "key", "value")])
        # [D, N, H] -> [D, N*H], joined -> [D, N*(2H + V)]
        kernel = ops.concatenate([ops.reshape(ops.cast(k, x.dtype), (k.shape[0], -1)) for k in kernels], axis=1)
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        y = tf.matmul(ops.reshape(x, (-1, x.shape[-1])), kernel)  # [B*T, N*(2H + V)]
        if scales[0] is not None:  # int8: one scale per output unit
            y = y * ops.cast(ops.concatenate(scales, axis=0), y.dtype)
        if self.use_bias:
            biases = [ops.reshape(ops.cast(b, x.dtype), (-1,)) for b in (self.query_bias, self.key_bias, self.value_bias)]
            y = tf.nn.bias_add(y, ops.concatenate(biases, axis=0))
        q, k, v = tf.split(y, [n * h, n * h, n * vd], axis=1)
        return (self._split_heads(q, batch, length, n, h), self._split_heads(k, batch, length, n, h),
                self._split_heads(v, batch, length, n, vd))

    def _output_projection(self, attended):
        """`[B, N, T, V]` -> `[B, T, D]` as one 2-D MatMul + BiasAdd (fusable, see above)."""
        batch, length = ops.shape(attended)[0], ops.shape(attended)[2]
        kernel, scale = self._kernel_and_scale("output")
        kernel = ops.cast(kernel, attended.dtype)  # [N, V, D]
        # [B, N, T, V] -> [B, T, N, V] -> [B*T, N*V]
        flat = ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (-1, kernel.shape[0] * kernel.shape[1]))
        y = tf.matmul(flat, ops.reshape(kernel, (-1, kernel.shape[-1])))
        if scale is not None:
            y = y * ops.cast(scale, y.dtype)
        if self.output_bias is not None:
            y = tf.nn.bias_add(y, ops.cast(self.output_bias, y.dtype))
        return ops.reshape(y, (batch, length, kernel.shape[-1]))

    def project_key_value(self, key, value=None):
        """Keys and values `[B, N, S, H]`, `[B, N, S, V]` of an input sequence.

        Use it to precompute a static cross-attention cache from the encoder
        output once per generation: pass the result as `cache` with
        `cache_index=None`.
        """
        value = key if value is None else value
        return (
            self._project(key, "key", self.key_bias),
            self._project(value, "value", self.value_bias),
        )

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        position_bias=None,
        cache=None,
        cache_index=None,
        return_attention_scores=False,
        training=None,
        key_padding_mask=None,
    ):
        """Attends from `query` to `key`/`value`.

        Args:
            query: `[B, T, D]`.
            value: `[B, S, Dv]`; defaults to `query` (self-attention).
            key: `[B, S, Dk]`; defaults to `value`.
            attention_mask: bool/int, `[T, S]`, `[B, T, S]` or `[B, N, T, S]`,
                True where attending is allowed. With a cache, S is the cache
                length L.
            use_causal_mask: also mask future keys. With a cache, query `t`
                sits at absolute position `cache_index + t`.
            position_bias: float, broadcastable to `[B, N, T, S]`, added to
                the logits (e.g. T5's `RelativePositionBias` output).
            cache: `(key_cache, value_cache)`, `[B, N, L, H]` and
                `[B, N, L, V]`. With `cache_index` the new keys/values of
                this call are written at positions `cache_index ..
                cache_index + T - 1` (a fixed-shape in-place update that XLA
                and TFLite handle) and attention runs over the whole cache
                (future slots are masked when `use_causal_mask`). With
                `cache_index=None` the cache is static (cross-attention
                keys/values from `project_key_value`) and `key`/`value` are
                ignored.
            cache_index: scalar int, the absolute position of query 0;
                `0 <= cache_index <= L - T`. A Python int or eager tensor
                outside that range raises ValueError (a write there would
                be clamped onto another slot); a graph tensor is the
                caller's to bound (the decode loop's counter is).
            return_attention_scores: also return weights `[B, N, T, S]`.
            key_padding_mask: optional `[B, S]`, 0 at padded key positions:
                their keys and values are those of an all-zero input (the
                projection biases), so a NaN or inf in a padding slot cannot
                reach real tokens through the attention matmuls. Self-attention
                keeps its single fused q/k/v matmul and replaces the padded rows.

        Returns:
            `[B, T, output_dim]`; then the attention weights if asked; then
            the (updated) cache if one was given.
        """
        check_rank(query, 3, "query", "[batch, query_length, hidden_dim]")
        check_float_dtype(query, "query")
        if cache is not None:
            if not isinstance(cache, (tuple, list)) or len(cache) != 2:
                raise TypeError("`cache` must be a tuple `(key_cache, value_cache)` of [B, N, L, H] tensors.")
            check_rank(cache[0], 4, "cache[0] (key cache)", "[batch, num_heads, cache_length, key_dim]")
            check_rank(cache[1], 4, "cache[1] (value cache)", "[batch, num_heads, cache_length, value_dim]")
        if cache_index is not None and cache is None:
            raise ValueError("`cache_index` was given without a `cache`.")
        if cache_index is not None:
            # slice_update clamps an out-of-range start: refuse it rather than overwrite another slot.
            check_cache_index(cache_index, query.shape[1], cache[0].shape[2])
        index_ok = None
        slots = None if cache is None else (cache[0].shape[2], query.shape[1])
        if (
            cache_index is not None and cache is not None and tf.is_tensor(cache_index)
            and not tf.executing_eagerly() and not isinstance(cache_index, keras.KerasTensor)
            and isinstance(slots[0], int) and isinstance(slots[1], int)
        ):
            # A graph index: Assert ops name it in a tf.function; XLA and TFLite drop asserts, so an
            # index outside [0, L - T] (whose write would clamp onto another slot) gives a NaN output.
            starts = slots[0] - slots[1] + 1
            cache_index = checked_in_range(cache_index, starts, "cache_index", "cache slots", f"L - T + 1 = {starts}")
            index_ok = ops.logical_and(cache_index >= 0, cache_index < starts)
        # Self-attention without a cache: q, k, v from one fused matmul.
        self_attention = cache is None and value is None and key is None
        if value is None:
            value = query
        if key is None:
            key = value

        if key_padding_mask is not None and not self_attention:
            same = key is value
            value = zero_padded(value, key_padding_mask)
            key = value if same else zero_padded(key, key_padding_mask)
        if self_attention:
            q, k, v = self._project_self_attention(query)  # [B, N, T, H], [B, N, S, H], [B, N, S, V]
            if key_padding_mask is not None:
                # The rows of a zero input: exactly what projecting zero_padded(query) would give.
                keep = ops.expand_dims(ops.expand_dims(padding_keep_mask(query, key_padding_mask), 1), -1)
                k = ops.where(keep, k, self._zero_input_rows(self.key_bias, k))
                v = ops.where(keep, v, self._zero_input_rows(self.value_bias, v))
        else:
            q = self._project(query, "query", self.query_bias)  # [B, N, T, H]
        query_offset = 0 if cache_index is None else cache_index
        if cache is not None and cache_index is None:
            k, v = cache  # static cross-attention cache
            k, v = ops.cast(k, q.dtype), ops.cast(v, q.dtype)
        else:
            if not self_attention:
                check_rank(value, 3, "value", "[batch, key_length, hidden_dim]")
                check_rank(key, 3, "key", "[batch, key_length, hidden_dim]")
                k, v = self.project_key_value(key, value)  # [B, N, S, H], [B, N, S, V]
            if self.rotary is not None:
                k = self.rotary(k, start_index=query_offset)
            if cache is not None:
                # Write this step's keys/values at `cache_index` (fixed shape).
                cache = write_cache((ops.cast(cache[0], k.dtype), ops.cast(cache[1], v.dtype)), (k, v), cache_index)
                k, v = cache
        if self.rotary is not None:
            q = self.rotary(q, start_index=query_offset)

        query_length, key_length = ops.shape(q)[2], ops.shape(k)[2]
        mask = None
        if attention_mask is not None:
            mask = as_bool_mask(attention_mask, "attention_mask")
            check_rank(mask, (2, 3, 4), "attention_mask", "[T, S], [B, T, S] or [B, N, T, S]")
        if use_causal_mask:
            mask = merge_masks(mask, causal_mask(query_length, key_length, offset=query_offset))
        bias = position_bias
        if self.relative_embedding is not None:
            # Shaw et al. eq. 4 divides q (k + a)^T by sqrt(d) as a whole.
            relative = self.relative_embedding(q, key_length=key_length, query_offset=query_offset)
            relative = relative * ops.cast(self._key_dim**-0.5, relative.dtype)
            bias = relative if bias is None else bias + ops.cast(relative, bias.dtype)

        attended, weights = scaled_dot_product_attention(
            q,
            k,
            v,
            attention_mask=mask,
            bias=bias,
            scale=self.attention_scale,
            dropout=self.dropout,
            training=training,
            seed=self.seed_generator,
            return_attention_scores=True,
        )
        if cache is None:
            output = self._output_projection(attended)  # [B, T, D]
        else:
            # [B, N, T, V] x [N, V, D] -> [B, T, D]
            kernel, scale = self._kernel_and_scale("output")
            output = ops.einsum("bntv,nvd->btd", attended, ops.cast(kernel, attended.dtype))
            if scale is not None:
                output = output * ops.cast(scale, output.dtype)
            if self.output_bias is not None:
                output = output + ops.cast(self.output_bias, output.dtype)
        if index_ok is not None:
            output = ops.where(index_ok, output, ops.cast(float("nan"), output.dtype))
        results = (output,)
        if return_attention_scores:
            results += (weights,)
        if cache is not None:
            results += (cache,)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_dim": self.output_dim,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "output_kernel_initializer": keras.initializers.serialize(self.output_kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "relative_max_distance": self.relative_max_distance,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "attention_scale": self.attention_scale,
                "query_kernel_initializer": keras.initializers.serialize(self.query_kernel_initializer),
                "lora_rank": self.lora_rank,
                "lora_alpha": self.lora_alpha,
            }
        )
        return config
