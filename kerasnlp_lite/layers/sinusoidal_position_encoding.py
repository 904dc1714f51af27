"""Fixed sinusoidal position encoding (Vaswani et al. 2017, section 3.5)."""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_rank, is_number


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """PE(pos, 2i) = sin(pos / w^(2i/d)), PE(pos, 2i+1) = cos(pos / w^(2i/d)).

    Even feature indices hold sines and odd ones cosines, interleaved as in
    the paper (w = `max_wavelength`, 10000 in the paper). No weights; any
    sequence length works.

    Args:
        max_wavelength: the base w.

    Call arguments:
        inputs: `[B, T, D]`; only its shape is used.
        start_index: absolute position of the first element (the cache
            index during step-by-step decoding), >= 0.

    Returns:
        `[B, T, D]` encodings in the layer's compute dtype.
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        if not is_number(max_wavelength) or max_wavelength <= 1:
            raise ValueError(f"`max_wavelength` must be a number > 1, got {max_wavelength!r}.")
        self.max_wavelength = max_wavelength
        self.built = True

    def call(self, inputs, start_index=0):
        check_rank(inputs, 3, "inputs", "[batch, sequence_length, hidden_dim]")
        if isinstance(start_index, float):
            raise TypeError(f"`start_index` must be an integer, got float {start_index}.")
        if isinstance(start_index, int) and start_index < 0:
            raise ValueError(f"`start_index` must be >= 0, got {start_index}.")
        dim = inputs.shape[-1]
        if dim is None:
            raise ValueError("`inputs` must have a static last dimension (hidden_dim), got None.")
        length = ops.shape(inputs)[1]
        positions = ops.arange(length, dtype="float32") + ops.cast(start_index, "float32")
        half = (dim + 1) // 2
        # 2i/d for i = 0..ceil(d/2)-1
        exponents = ops.arange(half, dtype="float32") * (2.0 / dim)
        angles = ops.einsum("t,i->ti", positions, 1.0 / ops.power(float(self.max_wavelength), exponents))
        # [T, half, 2] -> [T, 2 * half]: sin, cos, sin, cos, ...
        encoding = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, 2 * half))
        if 2 * half != dim:  # odd widths drop the last cosine
            encoding = encoding[:, :dim]
        encoding = ops.cast(encoding, self.compute_dtype)
        return ops.broadcast_to(ops.expand_dims(encoding, 0), ops.shape(inputs))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
