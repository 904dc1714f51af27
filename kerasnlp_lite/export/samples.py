"""Inputs for the encoder exports: sample inputs to compare TFLite with Keras, calibration data for int8."""

import warnings

import keras
import numpy as np

from kerasnlp_lite.export.encoder_archive import input_names, input_specs, text_signature
from kerasnlp_lite.export.format import ID_SIGNATURE

# Sentences used for string signatures when no `sample_texts` are given:
# punctuation, accents, CJK, numbers, an empty string and a long text.
DEFAULT_SAMPLE_TEXTS = (
    "The cat sat on the mat.",
    "Héllo, WORLD! Ça va?",
    "",
    "日本語のテキストと English words mixed, 42 times.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 8,
)


def _vocabulary_size(model):
    backbone = getattr(model, "backbone", model)
    size = getattr(backbone, "vocabulary_size", None)
    if size is None:  # a functional model around backbones: ids valid for all of them
        sizes = [getattr(layer, "vocabulary_size", None) for layer in model._flatten_layers()]
        sizes = [n for n in sizes if isinstance(n, int)]
        sizes = sizes or [layer.input_dim for layer in model._flatten_layers() if isinstance(layer, keras.layers.Embedding)]
        size = min(sizes) if sizes else None
    return size


def sample_id_inputs(model, sequence_length, count=3, seed=0):
    """`count` single-example input dicts, chosen from the model's input specs.

    Real lengths vary (full, about half, 3 tokens); `padding_mask` is 1 on
    the real tokens, `segment_ids` switches to 1 halfway, `mask_positions`
    point at real tokens, `token_ids` are random ids >= 1 at real positions
    and 0 (padding) elsewhere.
    """
    rng = np.random.default_rng(seed)
    specs = input_specs(model, 1, sequence_length)
    vocabulary_size = _vocabulary_size(model)
    if "token_ids" in specs and vocabulary_size is None:
        raise ValueError(
            f"Cannot tell the vocabulary size of {type(model).__name__} to make sample token ids; pass `sample_inputs`."
        )
    samples = []
    for i in range(count):
        sample = {}
        for name, spec in specs.items():
            shape = [int(d) for d in spec.shape]
            if any(d is None for d in shape):
                raise ValueError(f"Input {name!r} has an unknown shape {spec.shape}; pass `sample_inputs`.")
            width = shape[-1]
            real = [width, max(1, width // 2), min(3, width)][i % 3]
            position = np.broadcast_to(np.arange(width), shape)
            dtype = spec.dtype.as_numpy_dtype
            if name == "padding_mask":
                value = position < real
            elif name == "segment_ids":
                value = (position >= real // 2) & (position < real)
            elif name == "mask_positions":
                value = rng.integers(0, real, shape)
            elif name == "token_ids":
                value = rng.integers(1, vocabulary_size, shape) * (position < real)
            elif spec.dtype.is_floating:
                value = rng.standard_normal(shape)
            else:
                value = np.zeros(shape)
            sample[name] = np.asarray(value).astype(dtype)
        samples.append(sample)
    return samples


def representative_samples(model, representative_data, signatures, text_batch_size):
    """[(signature, inputs)] for calibration, from input dicts or (string-in models) texts."""
    samples = list(representative_data)
    if not samples:
        raise ValueError("`representative_data` is empty; int8 calibration needs some samples (100 or so).")
    text = text_signature(model)
    if all(isinstance(s, (str, bytes)) for s in samples):
        if text is None:
            raise ValueError(
                f"`representative_data` holds strings but {type(model).__name__} has no string signature; "
                "pass input dicts keyed by the model's input names."
            )
        pairs = []
        batch = text_batch_size or 1
        for start in range(0, len(samples) - batch + 1, batch):
            texts = samples[start : start + batch]
            if text[0] in signatures:
                pairs.append((text[0], {"text": as_bytes(texts)}))
            if ID_SIGNATURE in signatures:
                for row in preprocess_texts(model, texts, per_row=True):
                    pairs.append((ID_SIGNATURE, row))
        return pairs
    if not all(isinstance(s, dict) for s in samples):
        raise TypeError("`representative_data` must be a list of input dicts (or of strings for a string-in model).")
    if any(s != ID_SIGNATURE for s in signatures):
        raise ValueError(
            "`representative_data` of input dicts calibrates `serving_default` only; give strings (texts) to "
            f"calibrate the string signature too, or export signatures=['{ID_SIGNATURE}']."
        )
    names = set(input_names(model))
    for sample in samples:
        if set(sample) != names:
            raise ValueError(f"`representative_data` items must have keys {sorted(names)}, got {sorted(sample)}.")
    return [(ID_SIGNATURE, {k: np.asarray(v) for k, v in s.items()}) for s in samples]


def as_bytes(texts):
    """A list of texts as a numpy array of UTF-8 bytes, the form a TFLite string input takes."""
    # TFLite string inputs must be bytes: unicode arrays silently give garbage (shared NOTES).
    return np.array([t.encode("utf-8") if isinstance(t, str) else t for t in texts], dtype=object)


def preprocess_texts(model, texts, per_row=False):
    """The model's id inputs for `texts` (its preprocessor, in Keras): one dict, or one `[1, L]` dict per text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation is reported by the num_truncated output
        inputs = model.preprocess(list(texts))
    inputs = {k: np.asarray(inputs[k]).astype(model.input[k].dtype) for k in model.input}
    if not per_row:
        return inputs
    return [{k: v[i : i + 1] for k, v in inputs.items()} for i in range(len(texts))]
