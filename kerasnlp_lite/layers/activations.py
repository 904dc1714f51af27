"""GELU, exact and tanh-approximate, usable by name in layer configs.

Hendrycks and Gimpel (2016), https://arxiv.org/abs/1606.08415:
  exact:  0.5 x (1 + erf(x / sqrt(2)))                      (BERT, GPT-1 fine-tuned code uses it)
  tanh:   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2's `gelu_new`)
Both lower to TFLite's builtin GELU op (its `approximate` flag selects the form).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnlp_lite", name="gelu")
def gelu(x):
    """Exact GELU, computed in at least float32 and returned in the input dtype."""
    return _in_float32(x, lambda y: ops.gelu(y, approximate=False))


@keras.saving.register_keras_serializable(package="kerasnlp_lite", name="gelu_tanh")
def gelu_tanh(x):
    """Tanh-approximate GELU (GPT-2), computed in at least float32."""
    return _in_float32(x, lambda y: ops.gelu(y, approximate=True))


def _in_float32(x, fn):
    # float16 loses the erf/tanh tails; the cast is free in float32 graphs.
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16"):
        return ops.cast(fn(ops.cast(x, "float32")), dtype)
    return fn(x)


ACTIVATIONS = {"gelu": gelu, "gelu_tanh": gelu_tanh}


def get_activation(identifier):
    """Resolves an activation name or callable: ours first ("gelu", "gelu_tanh"), then Keras'."""
    if identifier is None:
        return keras.activations.linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict):  # a serialized callable from a config
        return keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"`activation` must be a name or a callable, got {identifier!r}.")
    if identifier in ACTIVATIONS:
        return ACTIVATIONS[identifier]
    try:
        return keras.activations.get(identifier)
    except (ValueError, TypeError):
        raise ValueError(
            f"Unknown `activation` {identifier!r}; use one of {sorted(ACTIVATIONS)} or a Keras activation name "
            "such as 'relu', 'tanh', 'silu'."
        ) from None
