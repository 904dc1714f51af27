"""GELU, exact and tanh-approximate, usable by name in layer configs.

Hendrycks and Gimpel (2016), https://arxiv.org/abs/1606.08415:
  exact:  0.5 x (1 + erf(x / sqrt(2)))                      (BERT, GPT-1 fine-tuned code uses it)
  tanh:   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2's `gelu_new`)
Both lower to TFLite's builtin GELU op (its `approximate` flag selects the form): the converter
fuses the `tf.nn.gelu` subgraph, which a hand-written formula would not match.

TFLite caveat (measured, TF 2.20): the fusion needs the subgraph's `0.5 * x` to have no other
user. If the model also computes `x * 0.5` of the same tensor (or both GELU forms of it), the
converter shares that product and does not fuse: the tanh form then lowers to MUL/ADD/POW/TANH
(still builtins), but the exact form leaves `Erfc`, which has no builtin kernel, and conversion
fails. Inside FeedForward the GELU input is a Dense output used only by the GELU, so this cannot
happen there.

Our layers take `activation` as a name or callable, store it as given (so `get_config` round-trips)
and resolve it with `get_activation`: our names first, then Keras' (`keras.activations.get`).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnlp_lite", name="gelu")
def gelu(x):
    """Exact GELU, computed in at least float32 and returned in the input dtype."""
    return _in_float32(x, lambda y: ops.gelu(y, approximate=False))


@keras.saving.register_keras_serializable(package="kerasnlp_lite", name="gelu_tanh")
def gelu_tanh(x):
    """Tanh-approximate GELU (GPT-2), computed in at least float32 and returned in the input dtype."""
    return _in_float32(x, lambda y: ops.gelu(y, approximate=True))


def _in_float32(x, fn):
    # Evaluated in float16, x^3 and the erf/tanh tails lose most of their bits (relative errors up
    # to 0.3 for the tanh form, measured); in float32 the only error left is the final rounding.
    # The casts are absent from float32 graphs.
    x = ops.convert_to_tensor(x) if not hasattr(x, "dtype") else x
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise TypeError(f"`x` must be a float tensor (an activation's input), got dtype {dtype}.")
    if dtype in ("float16", "bfloat16"):
        return ops.cast(fn(ops.cast(x, "float32")), dtype)
    return fn(x)


ACTIVATIONS = {"gelu": gelu, "gelu_tanh": gelu_tanh}

# Public names of `keras.activations` that are not activations.
_KERAS_NON_ACTIVATIONS = ("deserialize", "get", "serialize")


def activation_names():
    """All names `get_activation` accepts: ours, then Keras'."""
    keras_names = [
        name
        for name in dir(keras.activations)
        if not name.startswith("_") and name not in _KERAS_NON_ACTIVATIONS and name not in ACTIVATIONS
    ]
    return sorted(ACTIVATIONS) + sorted(keras_names)


def get_activation(identifier):
    """Resolves an activation identifier to a callable.

    Args:
        identifier: None (linear), a callable, a name ("gelu", "gelu_tanh",
            or any `keras.activations` name such as "relu"), our registered
            name ("kerasnlp_lite>gelu_tanh") or a serialized callable (dict).

    Returns:
        The activation function. "gelu" is ours (exact, float32 inside),
        taking precedence over Keras' function of the same name.

    Raises:
        ValueError: an unknown name; the message lists the valid ones.
        TypeError: neither a name, a callable nor a dict.
    """
    if identifier is None:
        return keras.activations.linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict):  # a serialized callable from a config
        return keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"`activation` must be a name or a callable, got {identifier!r}.")
    name = identifier.removeprefix("kerasnlp_lite>")
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if name in activation_names():
        return keras.activations.get(name)
    raise ValueError(f"Unknown `activation` {identifier!r}; valid names: {', '.join(activation_names())}.")
