"""Keras' `model.quantize("int8")` for layers that hold their own kernels (not `keras.layers.Dense`).

`keras.Model.quantize` calls `quantize(mode)` on every leaf layer; Keras' Dense, EinsumDense and
Embedding have one, our `MultiHeadAttention` and `TokenEmbedding` get theirs here (our FeedForward's
Dense layers keep Keras' own int8 variables and compute weight-only, feed_forward.py). The scheme is weight-only int8: each kernel becomes an int8 variable and a
float32 scale per output channel (abs-max / 127, the scale Keras' `AbsMaxQuantizer` gives a Dense
kernel), and the layer computes with `int8 * scale`. The layer's dtype policy becomes
`int8_from_<policy>`, as Keras' layers' does, so a backbone saved after `quantize` (its config keeps a
`DTypePolicyMap` of the quantized layers, models/backbone.py) is rebuilt with int8 variables and
loads them.

Only "int8"; another mode raises NotImplementedError, which `model.quantize` turns into a warning and
leaves the layer float (as it does for any Keras layer without that mode). LoRA and quantization
do not mix here: merge the adapter first (`Backbone.merge_lora`).
"""

import keras
import numpy as np
from keras import ops


class Int8Weights:
    """Mixin: `quantize("int8")` for the kernels `_int8_kernels()` names, and `dequantized(name)`.

    `_int8_kernels()` returns `(attribute, input_axes)` pairs: the variable's attribute name and the
    axes reduced into one scale (the input axes; the others are output channels). The layer calls
    `_build_int8()` at the end of `build` (a layer rebuilt from a quantized config) and reads every
    such kernel through `dequantized`.
    """

    def _int8_kernels(self):
        raise NotImplementedError

    def _scale_shape(self, shape, axes):
        return tuple(1 if i in axes else d for i, d in enumerate(shape))

    def _replace_with_int8(self, name, axes):
        variable = getattr(self, name)
        shape = tuple(variable.shape)
        # Untrack the float variable and drop the attribute. Not `del self.<name>`: Keras' Layer.__delattr__
        # also runs gc.collect() per variable (~0.3 s each here, 8 s to quantize a 2-layer BART).
        self._untrack_variable(variable)
        super(keras.layers.Layer, self).__delattr__(name)
        setattr(self, name, self.add_weight(name=name, shape=shape, dtype="int8", initializer="zeros",
                                            trainable=False))
        setattr(self, f"{name}_scale", self.add_weight(name=f"{name}_scale", shape=self._scale_shape(shape, axes),
                                                       dtype="float32", initializer="ones", trainable=False))

    def _build_int8(self):
        """At the end of `build`: int8 variables in place of the float kernels when the policy says int8."""
        if self.quantization_mode != "int8":
            return
        for name, axes in self._int8_kernels():
            self._replace_with_int8(name, axes)
        self._is_quantized = True

    def quantize(self, mode=None, type_check=True, config=None):
        if mode != "int8":
            raise NotImplementedError(
                f"{type(self).__name__} supports `quantize('int8')` only, got mode={mode!r}; layer "
                f"{self.name!r} stays {self.dtype_policy.name}."
            )
        if getattr(self, "lora_enabled", False):
            raise ValueError(
                f"Layer {self.name!r} has LoRA enabled: merge the adapter into the kernels first "
                "(`backbone.merge_lora()`), then quantize."
            )
        for name, axes in self._int8_kernels():
            values = ops.convert_to_numpy(getattr(self, name)).astype(np.float32)
            scale = np.max(np.abs(values), axis=axes, keepdims=True) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)  # an all-zero channel stays zero
            quantized = np.clip(np.round(values / scale), -127, 127).astype(np.int8)
            self._replace_with_int8(name, axes)
            getattr(self, name).assign(quantized)
            getattr(self, f"{name}_scale").assign(scale)
        self._is_quantized = True
        if self.dtype_policy.quantization_mode is None:
            self.dtype_policy = f"int8_from_{self.dtype_policy.name}"

    def _int8_call(self, *args, **kwargs):
        # Keras routes a quantized layer's __call__ here; `call` reads its kernels through `dequantized`.
        return self.call(*args, **kwargs)

    def kernel_and_scale(self, name):
        """`(kernel, scale)`: once quantized, the int8 kernel cast to float32 and its float32 scale per output
        channel, flattened (`[out]`), for the caller to multiply into the product's output (one multiply per
        output, not per weight); else `(variable, None)`.

        A batch-1 decode step is bound by the bytes of its weights: `x (int8 * scale)` reads the int8 kernel,
        writes and reads a float32 copy, then writes and reads the scaled one; `(x int8) * scale` skips the
        second float32 copy (TensorFlow has no faster int8 kernel for it: at `[1, 768] x [768, 3072]`, float32
        0.76 ms, cast + matmul + scaled output 1.11 ms, int8 x int8 -> int32 1.34 ms; 1 thread, AVX-512).
        """
        variable = getattr(self, name)
        if self.quantization_mode != "int8":
            return variable, None
        return ops.cast(variable, "float32"), ops.reshape(getattr(self, f"{name}_scale"), (-1,))

    def dequantized(self, name):
        """The kernel `name` as float32 `int8 * scale` once quantized; else the variable itself."""
        variable = getattr(self, name)
        if self.quantization_mode != "int8":
            return variable
        return ops.multiply(ops.cast(variable, "float32"), getattr(self, f"{name}_scale"))
