"""Input checks that fail early with a message naming the argument.

Used by layers at call time (on static shapes and dtypes, so they cost nothing
in a compiled graph) and in constructors.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf


def check_rank(tensor, ranks, name, expected):
    """Raises ValueError if `tensor` does not have one of `ranks`.

    Args:
        tensor: a tensor or KerasTensor.
        ranks: an int or tuple of allowed ranks.
        name: the argument's name, for the message.
        expected: a readable shape, e.g. "[batch, sequence_length]".
    """
    if isinstance(ranks, int):
        ranks = (ranks,)
    rank = len(tensor.shape)
    if rank not in ranks:
        raise ValueError(
            f"`{name}` must have shape {expected} (rank {' or '.join(map(str, ranks))}), "
            f"got shape {tuple(tensor.shape)} (rank {rank})."
        )


def check_last_dim(tensor, size, name, expected):
    last = tensor.shape[-1]
    if last is not None and size is not None and last != size:
        raise ValueError(f"`{name}` must have shape {expected} with last dimension {size}, got shape {tuple(tensor.shape)}.")


def dtype_name(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def check_integer_dtype(tensor, name):
    dtype = dtype_name(tensor)
    if "int" not in dtype:
        raise TypeError(f"`{name}` must have an integer dtype (token ids or positions), got {dtype}.")


def check_float_dtype(tensor, name):
    dtype = dtype_name(tensor)
    if "float" not in dtype:
        raise TypeError(f"`{name}` must have a floating dtype, got {dtype}.")


def check_positive_int(value, name, allow_none=False, minimum=1):
    if value is None and allow_none:
        return
    if not is_int(value):
        raise TypeError(f"`{name}` must be an integer >= {minimum}, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}.")


def check_rate(value, name):
    if not is_number(value):
        raise TypeError(f"`{name}` must be a float in [0, 1), got {value!r}.")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1), got {value}.")


def check_static_position_range(start_index, length, max_length, name):
    """Checks `start_index` and `start_index + length <= max_length` when both are Python ints."""
    if isinstance(start_index, float):
        raise TypeError(f"`{name}` must be an integer, got float {start_index}.")
    if isinstance(start_index, int):
        if start_index < 0:
            raise ValueError(f"`{name}` must be >= 0, got {start_index}.")
        if isinstance(length, int) and max_length is not None and start_index + length > max_length:
            raise ValueError(
                f"Positions {start_index}..{start_index + length - 1} (from `{name}`={start_index} and "
                f"sequence length {length}) exceed max_sequence_length={max_length}."
            )


def output_initializer(output_kernel_initializer, kernel_initializer):
    """The initializer of residual output projections: `output_kernel_initializer`,
    or `kernel_initializer` when it is None (GPT-2 passes a scaled one)."""
    return keras.initializers.get(
        output_kernel_initializer if output_kernel_initializer is not None else kernel_initializer
    )


def fresh_initializer(initializer):
    """A new instance of `initializer` for one weight, drawing its own random values.

    A Keras 3 random initializer created without a seed fixes one at
    construction, so the same instance gives the same values on every call:
    shared by the query, key and value kernels it would make them identical,
    and shared by tables of other shapes it would make their first values
    equal. Each weight gets its own copy (as KerasHub's `clone_initializer`);
    an initializer the user seeded explicitly is kept as is.
    """
    initializer = keras.initializers.get(initializer)
    if getattr(initializer, "_init_seed", "seeded") is None:
        return initializer.__class__.from_config(initializer.get_config())
    return initializer


# --- Python scalars ------------------------------------------------------------


def is_int(value):
    """True for a Python or numpy integer, False for bool (an int subclass) and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value):
    """True for a Python or numpy real number, False for bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


# --- token ids -------------------------------------------------------------------


def check_id(value, name, vocabulary_size=None, allow_none=False):
    """Checks a special token id given as a Python (or numpy) int; returns it as a Python int."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"`{name}` is required (an int token id), got None.")
    if not is_int(value):
        raise TypeError(f"`{name}` must be an int token id, got {value!r} ({type(value).__name__}).")
    if value < 0 or (vocabulary_size is not None and value >= vocabulary_size):
        bound = f"[0, {vocabulary_size})" if vocabulary_size is not None else ">= 0"
        raise ValueError(f"`{name}` must be a token id in {bound}, got {value}.")
    return int(value)


def check_ids(values, name, vocabulary_size=None):
    """Checks a sequence of special token ids; returns a tuple of ints."""
    if values is None:
        return ()
    if isinstance(values, int):
        values = (values,)
    return tuple(check_id(v, name, vocabulary_size) for v in values)


def check_stop_token_ids(stop_token_ids, vocabulary_size=None):
    """`stop_token_ids` (None, one id, or a sequence) -> a tuple of ints, checked.

    Args:
        stop_token_ids: the ids that end a row.
        vocabulary_size: when given, every id must be in [0, vocabulary_size);
            otherwise only non-negative.
    """
    if stop_token_ids is None:
        return ()
    if is_int(stop_token_ids):
        stop_token_ids = (stop_token_ids,)
    ids = tuple(stop_token_ids)
    for token in ids:
        valid = is_int(token) and (0 <= token < vocabulary_size if vocabulary_size is not None else token >= 0)
        if not valid:
            expected = f"ids in [0, {vocabulary_size})" if vocabulary_size is not None else "non-negative int ids"
            raise ValueError(f"`stop_token_ids` must be {expected}, got {stop_token_ids!r}.")
    return tuple(int(t) for t in ids)


def check_ids_in_range(ids, size, name):
    """Eager-only range check of integer ids (skipped in graphs, so TFLite/XLA are unaffected)."""
    if not tf.executing_eagerly() or isinstance(ids, keras.KerasTensor):
        return
    values = keras.ops.convert_to_numpy(ids)
    if values.size and (values.min() < 0 or values.max() >= size):
        raise ValueError(f"`{name}` must be in [0, {size}), got values in [{values.min()}, {values.max()}].")


def is_concrete(value):
    """True for data whose values Python can read now: numpy, lists, eager tensors (not symbolic or graph)."""
    if isinstance(value, (keras.KerasTensor, tf.data.Dataset)):
        return False
    if tf.is_tensor(value):
        return tf.executing_eagerly() and hasattr(value, "numpy")
    return True


def check_id_array(ids, size, name):
    """Concrete token / segment ids at a public entry point: integer dtype, every value in [0, size).

    One numpy pass over the batch, before any graph runs, so an XLA-compiled
    function (which drops asserts) never sees a bad id, and a gather never
    wraps a negative id around or clamps one >= size.

    Args:
        ids: numpy array, nested list or eager tensor of ids (any shape).
        size: the exclusive upper bound (vocabulary_size, num_segments, ...).
        name: the argument's name, for the message.

    Raises:
        TypeError: `ids` is not integer (floats would be truncated: 1.7 -> 1).
        ValueError: an id is outside [0, size).
    """
    values = keras.ops.convert_to_numpy(ids) if tf.is_tensor(ids) else np.asarray(ids)
    if values.dtype.kind not in "iu":
        example = values.reshape(-1)[:3].tolist() if values.size else []
        raise TypeError(
            f"`{name}` must hold integer ids in [0, {size}), got dtype {values.dtype} (e.g. {example}); "
            "cast explicitly if truncation is intended."
        )
    if values.size and (values.min() < 0 or values.max() >= size):
        bad = values[(values < 0) | (values >= size)]
        position = tuple(int(i) for i in np.argwhere((values < 0) | (values >= size))[0])
        raise ValueError(
            f"`{name}` must hold ids in [0, {size}), got {bad.size} out of range (e.g. {bad[0]} at index {position}; "
            f"values in [{values.min()}, {values.max()}])."
        )


def check_label_array(labels, size, name="y"):
    """Concrete class / token labels for a sparse loss: integer values in [0, size).

    Integral floats (1.0) are accepted, as Keras' sparse losses take them;
    non-integral ones (1.7) raise TypeError rather than being truncated.
    """
    values = keras.ops.convert_to_numpy(labels) if tf.is_tensor(labels) else np.asarray(labels)
    if values.dtype.kind == "f":
        fractional = np.mod(values, 1) != 0
        if np.any(fractional):
            raise TypeError(
                f"`{name}` must hold integer labels in [0, {size}), got non-integer values such as "
                f"{values[fractional][0]}."
            )
    elif values.dtype.kind not in "iub":
        raise TypeError(f"`{name}` must hold integer labels in [0, {size}), got dtype {values.dtype}.")
    if values.size and (values.min() < 0 or values.max() >= size):
        raise ValueError(
            f"`{name}` must hold labels in [0, {size}), got values in [{values.min()}, {values.max()}]."
        )


# Prefix of the messages of in-graph checks; `raise_input_error` finds it in a TF error.
GRAPH_CHECK_PREFIX = "Invalid input: "


def assert_ids_in_range(ids, size, name, integral_floats=False):
    """In-graph check (a `tf.data` map, a non-XLA `tf.function`): `ids` with an assertion attached.

    The assertion raises InvalidArgumentError whose message starts with
    `GRAPH_CHECK_PREFIX` and names `name` and the range; `raise_input_error`
    turns it into a ValueError for the Python caller. Non-integer ids raise
    TypeError at trace time; with `integral_floats` (labels: Keras' sparse
    losses take 1.0), float values must be whole numbers.
    """
    ids = tf.convert_to_tensor(ids)
    message = f"{GRAPH_CHECK_PREFIX}`{name}` must hold ids in [0, {size})"
    checks = []
    if ids.dtype.is_floating and integral_floats:
        checks.append(tf.debugging.assert_equal(ids, tf.floor(ids), message=f"{message}, got non-integer values"))
    elif not ids.dtype.is_integer:
        raise TypeError(f"`{name}` must hold integer ids in [0, {size}), got dtype {ids.dtype.name}.")
    wide = tf.cast(ids, tf.int64)
    checks += [
        tf.debugging.assert_non_negative(wide, message=message),
        tf.debugging.assert_less(wide, tf.constant(size, tf.int64), message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(ids)


def raise_input_error(error):
    """Re-raises a TF error from an in-graph input check as ValueError with its message first; else re-raises it."""
    text = str(getattr(error, "message", error))
    start = text.find(GRAPH_CHECK_PREFIX)
    if start < 0:
        raise error
    line = text[start + len(GRAPH_CHECK_PREFIX):].split("\n")[0]
    line = line.split("Condition")[0].rstrip(" .:[]")
    raise ValueError(f"{line} (checked in the input pipeline).") from error


def check_cache_index(cache_index, query_length, cache_length, name="cache_index"):
    """A KV-cache write at `cache_index .. cache_index + T - 1` must fit in `[0, L)`.

    Checked when the values are known (a Python int, an eager tensor); a
    graph index (the decode loop's counter, bounded by construction) is left
    to the caller. Without it `slice_update` clamps the start, silently
    overwriting slot L - T (or slot 0 for a negative index).
    """
    if cache_index is None:
        return
    if tf.is_tensor(cache_index):
        if isinstance(cache_index, keras.KerasTensor) or not tf.executing_eagerly():
            return
        if cache_index.dtype.is_floating:
            raise TypeError(f"`{name}` must be an integer, got dtype {cache_index.dtype.name}.")
        if cache_index.shape.rank:
            raise ValueError(f"`{name}` must be a scalar, got shape {tuple(cache_index.shape)}.")
        cache_index = int(cache_index.numpy())
    elif not is_int(cache_index):
        raise TypeError(f"`{name}` must be an integer, got {cache_index!r} ({type(cache_index).__name__}).")
    if not isinstance(query_length, int) or not isinstance(cache_length, int):
        if cache_index < 0:
            raise ValueError(f"`{name}` must be >= 0, got {cache_index}.")
        return
    if cache_index < 0 or cache_index + query_length > cache_length:
        raise ValueError(
            f"`{name}`={cache_index} with {query_length} new token(s) writes cache slots {cache_index}.."
            f"{cache_index + query_length - 1}, outside the cache length L={cache_length}: `{name}` must be in "
            f"[0, {cache_length - query_length}]."
        )


def check_fraction(value, name, low=0.0, high=1.0, low_open=False, high_open=False):
    """Checks a Python float in [low, high] (ends open as asked); returns it as float."""
    if not is_number(value):
        raise TypeError(f"`{name}` must be a float, got {value!r} ({type(value).__name__}).")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"`{name}` must be in {interval}, got {value}.")
    return float(value)


# --- masks -------------------------------------------------------------------------


def as_bool_mask(mask, name):
    """A bool, int or float mask -> a bool tensor (nonzero = keep); TypeError naming `name` otherwise."""
    mask = keras.ops.convert_to_tensor(mask)
    dtype = keras.backend.standardize_dtype(mask.dtype)
    if dtype == "bool":
        return mask
    if "int" in dtype or "float" in dtype:
        return keras.ops.not_equal(mask, keras.ops.zeros((), dtype=mask.dtype))
    raise TypeError(f"`{name}` must be a bool, int or float mask, got dtype {dtype}.")


# --- backbones -----------------------------------------------------------------


def check_backbone_sizes(
    vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout, max_sequence_length=None,
    head_dim_divides=True, layer_norm_epsilon=None,
):
    """The size arguments every Transformer backbone shares, checked in one place.

    `head_dim_divides`: `hidden_dim` must split evenly into `num_heads` heads
    (False for T5 with an explicit `key_dim`). `layer_norm_epsilon`, when
    given, must be a float > 0 (a negative one gives NaN at constant features).
    """
    check_positive_int(vocabulary_size, "vocabulary_size")
    check_positive_int(num_layers, "num_layers")
    check_positive_int(num_heads, "num_heads")
    check_positive_int(hidden_dim, "hidden_dim")
    check_positive_int(intermediate_dim, "intermediate_dim")
    check_rate(dropout, "dropout")
    check_positive_int(max_sequence_length, "max_sequence_length", allow_none=True)
    if layer_norm_epsilon is not None and (not is_number(layer_norm_epsilon) or not layer_norm_epsilon > 0):
        raise ValueError(f"`layer_norm_epsilon` must be a float > 0, got {layer_norm_epsilon!r}.")
    if head_dim_divides and hidden_dim % num_heads:
        raise ValueError(f"`hidden_dim`={hidden_dim} must be divisible by `num_heads`={num_heads}.")



def checked_in_range(values, size, name, what="positions", size_name="sequence length"):
    """Integer `values` checked to lie in [0, size) (positions into an axis, or token ids).

    Eager: a ValueError naming `name` and the range. In a graph (a
    tf.function, `Dataset.map`): Assert ops with the same message, so the
    call fails with it instead of a bare gather error (or, for negative
    values, silently wrong results). The TFLite converter drops Assert ops
    and XLA compiles them to no-ops, so exported and jit-compiled graphs are
    unchanged. KerasTensors pass through unchecked.

    Args:
        values: an int tensor, array or RaggedTensor.
        size: the exclusive upper bound (an int, or a scalar tensor in a graph).
        name: the argument's name, for the message.
        what: what the values are ("positions", "token ids").
        size_name: what `size` is ("sequence length", "vocabulary_size").

    Returns:
        `values`, in a graph with the checks as control dependencies.
    """
    if isinstance(values, keras.KerasTensor):
        return values
    flat = values.flat_values if isinstance(values, tf.RaggedTensor) else values
    if tf.executing_eagerly():
        array = keras.ops.convert_to_numpy(flat)
        if array.size and (array.min() < 0 or array.max() >= size):
            raise ValueError(
                f"`{name}` must be {what} in [0, {size}) ({size_name}), got values in [{array.min()}, {array.max()}]."
            )
        return values
    flat = tf.convert_to_tensor(flat)
    message = f"`{name}` must be {what} in [0, {size_name})"
    checks = [
        tf.debugging.assert_non_negative(flat, message=message),
        tf.debugging.assert_less(flat, tf.cast(size, flat.dtype), message=message),
    ]
    with tf.control_dependencies(checks):
        if isinstance(values, tf.RaggedTensor):
            return values.with_flat_values(tf.identity(values.flat_values))
        return tf.identity(values)


def check_bool(value, name):
    """Raises TypeError unless `value` is a Python (or numpy) bool; returns it as bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {value!r} ({type(value).__name__}).")
    return bool(value)


def check_backbone_kind(backbone, task, expected, outputs=(), attributes=()):
    """Raises TypeError if `backbone` lacks the `outputs` keys or `attributes` a task needs.

    Args:
        backbone: the backbone given to the task.
        task: the task's name, for the message.
        expected: the kind of backbone, in words ("an encoder backbone (BERT, ALBERT, RoBERTa)").
        outputs: keys its output dict must have (e.g. "pooled_output").
        attributes: attributes or methods it must have (e.g. "call_with_cache").
    """
    output = getattr(backbone, "output", None)
    keys = set(output) if isinstance(output, dict) else set()
    missing = [f"output `{key}`" for key in outputs if key not in keys]
    missing += [f"`{name}`" for name in attributes if not hasattr(backbone, name)]
    if missing:
        raise TypeError(
            f"{task} needs `backbone` to be {expected}; {type(backbone).__name__} has no {', '.join(missing)}."
        )
