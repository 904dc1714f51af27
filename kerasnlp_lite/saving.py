"""Loading `.keras` files of this library: every serializable class registered first, safe mode on."""


def register_all():
    """Imports every subpackage that registers serializable classes (layers, heads, models,
    tokenizers, and the optimizer and schedule of `kerasnlp_lite.training`), so a saved file
    finds them whatever the caller imported."""
    import kerasnlp_lite.heads  # noqa: F401
    import kerasnlp_lite.layers  # noqa: F401
    import kerasnlp_lite.models  # noqa: F401
    import kerasnlp_lite.tokenizers  # noqa: F401
    import kerasnlp_lite.training  # noqa: F401  (AdamW, WarmupDecay in a saved compile config)


def load_model(path, **kwargs):
    """`keras.saving.load_model(path, safe_mode=True, **kwargs)` after `register_all()`."""
    import keras

    register_all()
    return keras.saving.load_model(path, safe_mode=True, **kwargs)
