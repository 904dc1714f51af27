"""Input checks that fail early with a message naming the argument.

Used by layers at call time (on static shapes and dtypes, so they cost nothing
in a compiled graph) and in constructors.
"""

import keras


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
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an integer >= {minimum}, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}.")


def check_rate(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
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
