"""Rotary position embedding, RoPE (Su et al. 2021, https://arxiv.org/abs/2104.09864)."""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_float_dtype, is_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RotaryEmbedding(keras.layers.Layer):
    """Rotates feature pairs of queries/keys by position-dependent angles.

    Position p rotates pair i by angle p / max_wavelength^(2i/d), so the dot
    product of a rotated query and key depends only on their distance. Pairs
    are (x[i], x[i + d/2]) ("rotate half", as GPT-NeoX, LLaMA and KerasHub).
    Beyond the classic set; no weights.

    Args:
        max_wavelength: base of the geometric wavelength progression.
        sequence_axis: axis of positions; default 2 for `[B, N, T, H]`.
        feature_axis: axis of features (must be even-sized); default -1.

    Call arguments:
        inputs: float tensor.
        start_index: absolute position of the first element (the cache index
            when decoding step by step).
    """

    def __init__(self, max_wavelength=10000, sequence_axis=2, feature_axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(max_wavelength, (int, float)) or max_wavelength <= 1:
            raise ValueError(f"`max_wavelength` must be a number > 1, got {max_wavelength!r}.")
        for name, axis in (("sequence_axis", sequence_axis), ("feature_axis", feature_axis)):
            if not is_int(axis):
                raise TypeError(f"`{name}` must be an int (an axis of `inputs`), got {axis!r}.")
        if sequence_axis == feature_axis:
            raise ValueError(f"`sequence_axis` and `feature_axis` must differ, both are {sequence_axis}.")
        self.max_wavelength = max_wavelength
        self.sequence_axis = sequence_axis
        self.feature_axis = feature_axis
        self.built = True

    def call(self, inputs, start_index=0):
        check_float_dtype(inputs, "inputs")
        if isinstance(start_index, float):
            raise TypeError(f"`start_index` must be an integer, got float {start_index}.")
        if isinstance(start_index, int) and start_index < 0:
            raise ValueError(f"`start_index` must be >= 0, got {start_index}.")
        rank = len(inputs.shape)
        for name, axis in (("sequence_axis", self.sequence_axis), ("feature_axis", self.feature_axis)):
            # Without this a too-small rank would silently wrap the axis (axis % rank).
            if not -rank <= axis < rank:
                raise ValueError(
                    f"`inputs` must have an axis `{name}`={axis}, got shape {tuple(inputs.shape)} (rank {rank})."
                )
        seq_axis = self.sequence_axis % rank
        feat_axis = self.feature_axis % rank
        if seq_axis == feat_axis:
            raise ValueError(
                f"`sequence_axis`={self.sequence_axis} and `feature_axis`={self.feature_axis} name the same "
                f"axis of `inputs` with rank {rank}."
            )
        dim = inputs.shape[feat_axis]
        if dim is None or dim % 2:
            raise ValueError(
                f"The feature axis ({self.feature_axis}) of `inputs` must have an even static size "
                f"(features are rotated in pairs), got shape {tuple(inputs.shape)}."
            )
        length = ops.shape(inputs)[seq_axis]
        positions = ops.arange(length, dtype="float32") + ops.cast(start_index, "float32")
        exponents = ops.arange(0, dim, 2, dtype="float32") / dim
        inverse_frequency = 1.0 / ops.power(float(self.max_wavelength), exponents)  # [d/2]
        angles = ops.einsum("t,f->tf", positions, inverse_frequency)  # [T, d/2]
        angles = ops.concatenate([angles, angles], axis=-1)  # [T, d]
        # Put T and d on their axes, size 1 elsewhere, so they broadcast.
        shape = [1] * rank
        shape[seq_axis], shape[feat_axis] = -1, dim
        if seq_axis > feat_axis:
            angles = ops.transpose(angles)
        cos = ops.cast(ops.reshape(ops.cos(angles), shape), inputs.dtype)
        sin = ops.cast(ops.reshape(ops.sin(angles), shape), inputs.dtype)
        first, second = ops.split(inputs, 2, axis=feat_axis)
        rotated = ops.concatenate([ops.negative(second), first], axis=feat_axis)
        return inputs * cos + rotated * sin

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_wavelength": self.max_wavelength,
                "sequence_axis": self.sequence_axis,
                "feature_axis": self.feature_axis,
            }
        )
        return config
