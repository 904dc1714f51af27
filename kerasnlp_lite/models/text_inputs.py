"""Raw text in `fit`, `evaluate` and `predict`: checking it and turning it into preprocessed `tf.data` batches.

What a task accepts as text, the KerasHub way:
- `x` a string, a Python list / tuple of strings, a numpy string array or a
  1-D `tf.string` tensor; a tuple of two such batches for sentence pairs;
- `y` / `sample_weight` arrays beside it (the language models make their own
  targets);
- a `tf.data.Dataset` whose elements are strings, `(strings, labels)`,
  `(strings, labels, weights)`, or `((first, second), labels)`, batched or not.

In-memory text is checked eagerly (an empty batch, a `None` or a number among
the strings, labels out of range are a `ValueError` naming the argument) and
its truncation is counted and reported before training starts. A dataset is
mapped through `Task.text_batch` (the preprocessor's `training_batch`), TF ops
only, with a fresh `[2]` seed per batch for stochastic preprocessors (masked
LM), so masks change every epoch.
"""

import numpy as np
import tensorflow as tf

DEFAULT_BATCH_SIZE = 32


def contains_text(x):
    """True if `x` holds strings anywhere (in-memory or a dataset's element spec)."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "SU" or (x.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in x.flat))
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        return x.dtype == tf.string
    if isinstance(x, tf.data.Dataset):
        return any(spec.dtype == tf.string for spec in tf.nest.flatten(x.element_spec) if hasattr(spec, "dtype"))
    if isinstance(x, dict):
        return any(contains_text(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(contains_text(v) for v in x)
    return False


def is_text_batch(x):
    """True for one string or one batch of strings: str, a non-empty list/tuple of str/bytes,
    a numpy string (or object) array, a tf.string tensor. `generate`'s and `predict`'s test."""
    if isinstance(x, str):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(item, (str, bytes)) for item in x):
        return True
    if isinstance(x, np.ndarray) and x.dtype.kind in "USO":
        return True
    return isinstance(x, tf.Tensor) and x.dtype == tf.string


def check_not_empty(x, name="x"):
    """An empty list / tuple / array is a ValueError naming `name` (Keras fails deep inside on it)."""
    if isinstance(x, (list, tuple, np.ndarray)) and len(x) == 0:
        raise ValueError(f"`{name}` is empty: pass at least one example.")


def _is_batch(x):
    return isinstance(x, (list, np.ndarray, tf.Tensor)) or (
        isinstance(x, tuple) and all(isinstance(v, (str, bytes)) for v in x)
    )


def check_texts(x, name="x"):
    """One batch of strings -> a 1-D numpy object array of str; ValueError/TypeError naming `name` otherwise."""
    if isinstance(x, (str, bytes)):
        x = [x]
    if isinstance(x, tf.RaggedTensor):
        raise ValueError(f"`{name}` must be a 1-D batch of strings, got a ragged tensor of shape {x.shape}.")
    if isinstance(x, tf.Tensor):
        if x.dtype != tf.string:
            raise TypeError(f"`{name}` must be strings, got a tensor of dtype {x.dtype.name}.")
        x = x.numpy()
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"`{name}` must be a 1-D batch of strings, got an array of shape {x.shape}.")
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"`{name}` must be a string or a batch of strings, got {type(x).__name__}.")
    if not x:
        raise ValueError(f"`{name}` is empty: pass at least one string.")
    for i, item in enumerate(x):
        if item is None:
            raise ValueError(f"`{name}[{i}]` is None; every item of `{name}` must be a string.")
        if not isinstance(item, (str, bytes)):
            raise ValueError(
                f"`{name}` mixes strings and other values: `{name}[{i}]` is {type(item).__name__} ({item!r:.40}); "
                "pass only strings (or only token ids without a preprocessor)."
            )
    return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in x], dtype=object)


def check_text_inputs(x, name="x"):
    """A batch of strings, or a tuple/list of batches (sentence pairs) of one length -> array or tuple of arrays."""
    if isinstance(x, (tuple, list)) and x and all(_is_batch(v) and not isinstance(v, (str, bytes)) for v in x):
        segments = tuple(check_texts(v, f"{name}[{i}]") for i, v in enumerate(x))
        lengths = {len(s) for s in segments}
        if len(lengths) != 1:
            raise ValueError(f"The segments of `{name}` must have one length, got {[len(s) for s in segments]}.")
        return segments
    return check_texts(x, name)


def num_examples(x):
    return len(x[0]) if isinstance(x, tuple) else len(x)


def check_aligned(value, n, name):
    """`y` / `sample_weight` beside n texts -> numpy array with n rows."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {key: check_aligned(v, n, f"{name}[{key!r}]") for key, v in value.items()}
    array = np.asarray(value.numpy() if isinstance(value, tf.Tensor) else value)
    if array.dtype == object:
        bad = [i for i, v in enumerate(array.reshape(-1)) if v is None or isinstance(v, (str, bytes))]
        if bad:
            raise ValueError(f"`{name}` must be numbers; `{name}[{bad[0]}]` is {array.reshape(-1)[bad[0]]!r}.")
    if array.ndim == 0 or len(array) != n:
        raise ValueError(f"`{name}` must have one row per text ({n}), got shape {array.shape}.")
    return array


def check_class_labels(y, num_classes, name="y"):
    """Integer class labels in [0, num_classes); ValueError naming `name` otherwise."""
    if y is None:
        return None
    if y.dtype.kind == "f":
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"`{name}` must hold integer class ids, got non-integer values such as {y[np.mod(y, 1) != 0][0]}.")
    elif y.dtype.kind not in "iub":
        raise ValueError(f"`{name}` must hold integer class ids, got dtype {y.dtype}.")
    bad = (y < 0) | (y >= num_classes)
    if np.any(bad):
        raise ValueError(
            f"`{name}` holds class ids outside [0, {num_classes}) (num_classes={num_classes}): "
            f"{sorted(set(y[bad].reshape(-1).tolist()))[:5]}."
        )
    return y.astype("int32")


def _string_leaves_rank(spec):
    ranks = {s.shape.rank for s in tf.nest.flatten(spec) if getattr(s, "dtype", None) == tf.string}
    return ranks.pop() if len(ranks) == 1 else None


def to_dataset(x, y=None, sample_weight=None, batch_size=None, shuffle=False):
    """Checked in-memory text (and aligned targets) -> a batched dataset of `(x, y, sw)` elements."""
    element = tuple(v for v in (x, y, sample_weight) if v is not None)
    if y is None and sample_weight is not None:
        raise ValueError("`sample_weight` needs `y`, or use a dataset of (x, y, sample_weight).")
    dataset = tf.data.Dataset.from_tensor_slices(element if len(element) > 1 else x)
    if shuffle:
        dataset = dataset.shuffle(num_examples(x), reshuffle_each_iteration=True)
    return dataset.batch(batch_size or DEFAULT_BATCH_SIZE)


def unpack_element(element):
    """A dataset element -> (x, y, sample_weight): a tuple of string tensors alone is sentence pairs."""
    if isinstance(element, dict):
        return element, None, None
    if not isinstance(element, tuple):
        return element, None, None
    if all(isinstance(v, tf.Tensor) and v.dtype == tf.string for v in element):
        return element, None, None
    if len(element) == 1:
        return element[0], None, None
    if len(element) == 2:
        return element[0], element[1], None
    if len(element) == 3:
        return element
    raise ValueError(f"Dataset elements must be x, (x, y) or (x, y, sample_weight); got {len(element)} items.")


def preprocessed_dataset(task, dataset, batch_size=None, training=True):
    """Maps a dataset of text elements through the task's preprocessor, batching it first if it is unbatched."""
    rank = _string_leaves_rank(dataset.element_spec)
    if rank == 0:
        dataset = dataset.batch(batch_size or DEFAULT_BATCH_SIZE)
    elif rank != 1:
        raise ValueError(
            f"A dataset of text must hold strings of shape [] or [batch]; got element spec {dataset.element_spec}."
        )
    preprocessor = task.preprocessor
    if training and getattr(preprocessor, "stochastic", False):
        # A fresh seed per batch and per epoch (`rerandomize_each_iteration`): new masks every pass.
        seeds = tf.data.Dataset.random(seed=preprocessor.seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True)
        dataset = tf.data.Dataset.zip((dataset, seeds))

        def fn(element, seed):
            return _pack(task.text_batch(*unpack_element(element), seed=seed))

    elif training:

        def fn(*element):
            return _pack(task.text_batch(*unpack_element(element if len(element) > 1 else element[0])))

    else:

        def fn(*element):
            x, _, _ = unpack_element(element if len(element) > 1 else element[0])
            features = dict(preprocessor.features(x))
            features.pop("num_truncated", None)
            return features

    return dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _pack(batch):
    x, y, sample_weight = batch
    if y is None:
        if sample_weight is not None:
            raise ValueError("`sample_weight` needs `y`.")
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def count_truncated(preprocessor, x, chunk=1024):
    """(examples truncated, longest cut) of in-memory text, counted eagerly by the preprocessor's packer."""
    n = num_examples(x)
    truncated, longest = 0, 0
    if getattr(preprocessor, "packer", None) is None:
        return truncated, longest  # no packer, no truncation (Seq2SeqPreprocessor refuses long texts instead)
    for start in range(0, n, chunk):
        part = tuple(s[start : start + chunk] for s in x) if isinstance(x, tuple) else x[start : start + chunk]
        part = tuple(tf.constant(s.tolist()) for s in part) if isinstance(part, tuple) else tf.constant(part.tolist())
        counts = np.asarray(preprocessor.features(part)["num_truncated"])
        truncated += int(np.sum(counts > 0))
        longest = max(longest, int(counts.max(initial=0)))
    return truncated, longest
