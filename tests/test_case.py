"""The one shared test helper for layers, backbones, tasks and presets (after KerasHub's `test_case.py`).

`run_layer_test` checks, for a layer class and its arguments:
  - every `__init__` keyword argument is stored as an attribute and in
    `get_config()`, and `from_config(get_config())` round-trips;
  - eager calls give the expected output shapes and dtypes;
  - a symbolic call inside a functional `keras.Model` (batch size None) works;
  - one `fit` step runs and moves every trainable weight that should move;
  - the model saves to `.keras`, reloads in safe mode, and gives identical outputs;
  - under `mixed_float16` and `mixed_bfloat16` the variables stay float32,
    outputs are in the compute dtype (or the dtype the test names), finite,
    and close to the float32 outputs given the same weights.

`run_backbone_test`, `run_task_test` and `run_preset_test` (after KerasHub's
helpers of the same names) do the same for backbones, tasks and presets, with
the pieces above: config round trip, eager and symbolic calls, `.keras` round
trip in safe mode, mixed precision, one fit step.

`build_shapes_only(build)` builds a model's variables with shapes but no
values, so `count_params()` of a billion-parameter preset costs nothing.

`run_tflite_parity_test` converts a small functional model to TFLite in a
subprocess (the converter leaks memory), checks that no Flex op is present,
runs it with `ai_edge_litert` and compares with Keras (max abs diff <= atol).
"""

import inspect
import os
import tempfile
import threading
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from kerasnlp_lite.export.tflite import convert_in_subprocess, run_tflite, tflite_op_names
from kerasnlp_lite.saving import load_model

# Input arrays are given as numpy; names are the layer's call arguments.


def _to_numpy(x):
    return keras.ops.convert_to_numpy(ops.cast(x, "float32") if _is_float(x) else x)


def _is_float(x):
    return "float" in keras.backend.standardize_dtype(x.dtype)


def _symbolic_inputs(input_data):
    return {
        name: keras.Input(shape=np.shape(value)[1:], dtype=np.asarray(value).dtype.name, name=name)
        for name, value in input_data.items()
    }


def _flat(outputs):
    return keras.tree.flatten(outputs)


def assert_allclose(actual, expected, atol=1e-6, rtol=0.0, msg=""):
    actual = _to_numpy(actual) if not isinstance(actual, np.ndarray) else actual
    expected = _to_numpy(expected) if not isinstance(expected, np.ndarray) else expected
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=msg)


def check_config(layer_cls, init_kwargs, config_excludes=()):
    """Config round trip. `config_excludes`: constructor arguments that are
    references to other layers (e.g. a tied embedding) and so are re-linked by
    their owner rather than serialized."""
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    signature = inspect.signature(layer_cls.__init__)
    for name in signature.parameters:
        if name in ("self", "kwargs", "args"):
            continue
        assert hasattr(layer, name), f"{layer_cls.__name__} does not store `{name}` as an attribute."
        if name in config_excludes:
            continue
        assert name in config, f"{layer_cls.__name__}.get_config() lacks `{name}`."
    for base_key in ("name", "trainable", "dtype"):
        assert base_key in config, f"get_config() of {layer_cls.__name__} is not chained to super()."
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config, "from_config(get_config()) does not round-trip."
    if isinstance(layer, keras.Model) and layer.built:
        assert revived.count_params() == layer.count_params(), "from_config built a different parameter count"
    registered = keras.saving.get_registered_object(keras.saving.get_registered_name(layer_cls))
    assert registered is layer_cls, f"{layer_cls.__name__} is not registered as serializable."
    return layer


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    call_kwargs=None,
    expected_output_shape=None,
    expected_output_dtype=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    run_training_check=True,
    run_mixed_precision_check=True,
    run_saving_check=True,
    mixed_precision_output_dtype=None,
    frozen_weights_ok=(),
    config_excludes=(),
):
    """Runs the standard battery of checks; returns the eager output.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor keyword arguments.
        input_data: dict `{call_argument_name: numpy array}` of tensor inputs;
            the first dimension of each is the batch.
        call_kwargs: other (non-tensor) call keyword arguments.
        expected_output_shape: a shape tuple, or a structure of them matching
            the output.
        expected_output_dtype: dtype string of the (first) output.
        expected_num_trainable_weights / expected_num_non_trainable_weights:
            exact weight counts, if given.
        run_training_check: do one fit step and check trainable weights move.
        mixed_precision_output_dtype: output dtype under mixed precision when
            it is not the compute dtype (e.g. "int32" or "float32").
        frozen_weights_ok: names (substrings of paths) of trainable weights
            that legitimately get no gradient from this input.
        config_excludes: constructor arguments deliberately left out of the
            config (references to other layers, re-linked by their owner).
    """
    call_kwargs = call_kwargs or {}
    keras.utils.set_random_seed(1337)
    check_config(layer_cls, init_kwargs, config_excludes)

    # Eager call.
    layer = layer_cls(**init_kwargs)
    tensors = {k: ops.convert_to_tensor(v) for k, v in input_data.items()}
    eager = layer(**tensors, **call_kwargs)
    if expected_output_shape is not None:
        check_output_shapes(eager, expected_output_shape)
    if expected_output_dtype is not None:
        first = _flat(eager)[0]
        assert keras.backend.standardize_dtype(first.dtype) == expected_output_dtype
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, [
            w.path for w in layer.trainable_weights
        ]
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights

    # Symbolic call in a functional model with an unknown batch size.
    inner = layer_cls(**init_kwargs)
    model = _functional_model(lambda inputs: inner(**inputs, **call_kwargs), input_data, eager)
    batch_inputs = {k: np.asarray(v) for k, v in input_data.items()}
    reference = model.predict(batch_inputs, verbose=0)

    if run_training_check and inner.trainable_weights:
        _check_fit_step(model, inner, batch_inputs, frozen_weights_ok)
        reference = model.predict(batch_inputs, verbose=0)

    if run_saving_check:
        check_keras_round_trip(model, lambda m: m.predict(batch_inputs, verbose=0), reference)

    if run_mixed_precision_check:
        _check_mixed_precision(
            lambda dtype: layer_cls(**init_kwargs, dtype=dtype),
            lambda obj: obj(**tensors, **call_kwargs),
            layer,
            eager,
            mixed_precision_output_dtype,
        )
    return eager


def check_output_shapes(outputs, expected_output_shape):
    """The shapes of `outputs` (a tensor or a dict / list of them) equal the expected structure of shapes;
    a dict must have exactly the expected keys."""
    actual = keras.tree.map_structure(lambda x: tuple(x.shape), outputs)
    if isinstance(expected_output_shape, dict):
        expected = {k: tuple(v) for k, v in expected_output_shape.items()}
    elif isinstance(expected_output_shape, list):
        expected = [tuple(v) for v in expected_output_shape]
    else:
        expected = tuple(expected_output_shape)
    assert actual == expected, f"output shape {actual} != expected {expected}"


def _functional_model(call, input_data, eager_outputs):
    """`call` on symbolic inputs with batch size None, as a functional model; its output
    shapes (batch aside) must equal the eager ones."""
    inputs = _symbolic_inputs(input_data)
    model = keras.Model(inputs, call(inputs))
    for symbolic_out, eager_out in zip(_flat(model.outputs), _flat(eager_outputs)):
        assert tuple(symbolic_out.shape)[1:] == tuple(eager_out.shape)[1:], (
            f"symbolic shape {symbolic_out.shape} != eager shape {eager_out.shape}"
        )
    return model


def check_keras_round_trip(model, run, expected, cls=None, warnings_as_errors=False):
    """Saves `model` to `.keras`, reloads it in safe mode (every library class registered), and checks
    that `run(reloaded)` gives exactly `expected` (and the class is `cls`, if given). With
    `warnings_as_errors`, loading warns of nothing (e.g. Keras' "compile() was not called as part of
    model loading"). Returns the reloaded model."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with warnings.catch_warnings():
            if warnings_as_errors:
                warnings.simplefilter("error")
            revived = load_model(path)
    if cls is not None:
        assert type(revived) is cls, f"reloaded a {type(revived).__name__}, not a {cls.__name__}"
    restored = run(revived)
    flat_restored, flat_expected = _flat(restored), _flat(expected)
    assert len(flat_restored) == len(flat_expected)
    if isinstance(expected, dict):
        assert sorted(restored) == sorted(expected), f"reloaded output keys {sorted(restored)}"
    for a, b in zip(flat_restored, flat_expected):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg="reload changed outputs")
    return revived


def _check_fit_step(model, layer, batch_inputs, frozen_weights_ok):
    float_outputs = [i for i, out in enumerate(_flat(model.outputs)) if "float" in out.dtype]
    assert float_outputs, "the layer has trainable weights but no float output to train"
    before = {w.path: np.array(w.numpy()) for w in layer.trainable_weights}

    # Regress every float output onto fixed random targets: a gradient then
    # reaches every weight that affects an output. (A plain mean square of the
    # output would not: after a LayerNorm it is constant.)
    eager_outputs = _flat(model(batch_inputs))
    targets = {i: np.random.default_rng(i).standard_normal(eager_outputs[i].shape).astype("float32") for i in float_outputs}

    class RegressionModel(keras.Model):
        def __init__(self, inner_model):
            super().__init__()
            self.inner_model = inner_model

        def call(self, inputs):
            return self.inner_model(inputs)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            flat = _flat(y_pred)
            return sum(ops.mean(ops.square(ops.cast(flat[i], "float32") - targets[i])) for i in float_outputs)

    trainer = RegressionModel(model)
    trainer.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    batch = next(iter(batch_inputs.values())).shape[0]
    history = trainer.fit(batch_inputs, batch_size=batch, epochs=1, verbose=0)
    _check_fit_moved_weights(history, layer, before, frozen_weights_ok)


def _check_fit_moved_weights(history, layer, before, frozen_weights_ok):
    """A finite loss, and every trainable weight of `layer` changed from `before` (path -> value) but
    those whose path contains one of `frozen_weights_ok`."""
    assert np.isfinite(history.history["loss"][0]), "fit step gave a non-finite loss"
    unmoved = [
        w.path
        for w in layer.trainable_weights
        if np.array_equal(before[w.path], w.numpy()) and not any(k in w.path for k in frozen_weights_ok)
    ]
    assert not unmoved, f"these trainable weights did not change in a fit step: {unmoved}"


# Relative tolerance of a mixed-precision output against float32 with the same weights.
MIXED_PRECISION_TOLERANCE = {"mixed_float16": 1e-2, "mixed_bfloat16": 6e-2}


def _check_mixed_precision(build, call, reference, reference_outputs, output_dtype=None,
                           policies=("mixed_float16", "mixed_bfloat16")):
    """Under each policy, `build(policy)` given the weights of the float32 `reference`: float32 variables,
    outputs in the compute dtype (or `output_dtype`), finite, and close to `reference_outputs` (the
    reference's outputs from `call`)."""
    for policy in policies:
        obj = build(policy)
        call(obj)  # builds a lazily built layer
        obj.set_weights(reference.get_weights())
        outputs = call(obj)
        compute_dtype = keras.DTypePolicy(policy).compute_dtype
        for weight in obj.weights:
            assert weight.dtype == "float32", f"{weight.path} is {weight.dtype} under {policy}"
        for out in _flat(outputs):
            dtype = keras.backend.standardize_dtype(out.dtype)
            if "float" in dtype or output_dtype is None:
                expected = output_dtype if output_dtype is not None else compute_dtype
                assert dtype == expected, f"output dtype {dtype} under {policy}, expected {expected}"
            if "float" in dtype:
                assert np.all(np.isfinite(_to_numpy(out))), f"non-finite output under {policy}"
        # Same weights, same inputs: the low-precision result stays near float32's.
        tolerance = MIXED_PRECISION_TOLERANCE[policy]
        for out, ref in zip(_flat(outputs), _flat(reference_outputs)):
            if "float" in keras.backend.standardize_dtype(out.dtype):
                ref = _to_numpy(ref)
                scale = max(1.0, float(np.max(np.abs(ref))))
                np.testing.assert_allclose(
                    _to_numpy(out), ref, atol=tolerance * scale, rtol=0, err_msg=f"{policy} output far from float32"
                )


def run_tflite_parity_test(model, input_data, atol=1e-5, quantize=None):
    """Converts `model` to TFLite in a subprocess and compares with Keras.

    Args:
        model: a functional `keras.Model` with fixed-shape named inputs.
        input_data: dict of numpy arrays keyed by the model's input names.
        atol: allowed max abs difference.

    Returns:
        (max abs diff, sorted op names).
    """
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = os.path.join(tmp, "model.keras")
        tflite_path = os.path.join(tmp, "model.tflite")
        model.save(keras_path)
        convert_in_subprocess(keras_path, tflite_path, quantize=quantize)
        with open(tflite_path, "rb") as f:
            content = f.read()
    op_names = sorted(set(tflite_op_names(content)))
    flex = [op for op in op_names if op.startswith("Flex")]
    assert not flex, f"Flex ops present: {flex}"
    custom = [op for op in op_names if not op.isupper()]
    assert not custom, f"custom (non-builtin) ops present: {custom}"
    outputs = run_tflite(content, input_data)
    if isinstance(model.input, dict) or len(input_data) != 1:
        expected = model(input_data)
    else:  # a single-input model built without a dict
        expected = model(next(iter(input_data.values())))
    expected_flat = _flat(expected)
    # The converter names outputs output_0.. for lists and keeps dict keys.
    if isinstance(expected, dict):
        pairs = [(outputs[k], expected[k]) for k in expected]
    else:
        keys = sorted(outputs, key=lambda k: int(k.split("_")[-1]) if k.split("_")[-1].isdigit() else k)
        pairs = list(zip([outputs[k] for k in keys], expected_flat))
    worst = 0.0
    for lite, ref in pairs:
        ref = _to_numpy(ref)
        assert lite.shape == ref.shape, f"TFLite shape {lite.shape} != Keras shape {ref.shape}"
        worst = max(worst, float(np.max(np.abs(lite.astype(np.float64) - ref.astype(np.float64)))))
    assert worst <= atol, f"TFLite differs from Keras by {worst} > {atol}"
    return worst, op_names


def build_shapes_only(build, *args, **kwargs):
    """`build(*args, **kwargs)` with variables that have shapes but no values; returns its result.

    Inside `keras.StatelessScope(initialize_variables=False)` Keras gives every
    variable its shape and defers the initializer, so `count_params()` (a sum
    over shapes) is the real count without memory for the values. Keras lists
    the deferred variables in its global state (per thread) so that the exit of
    a later scope initialises them: building in a thread of its own leaves them
    in that thread's state, gone with it, so a billion unallocated parameters
    are never initialised by some unrelated later code.
    """
    result, error = [], []

    def target():
        try:
            with keras.StatelessScope(initialize_variables=False):
                result.append(build(*args, **kwargs))
        except BaseException as e:  # re-raised in the caller's thread
            error.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _check_stored_arguments(obj, init_kwargs):
    """Constructor arguments of plain values are stored as given, as attributes and in the config."""
    config = obj.get_config()
    for key, value in init_kwargs.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            assert getattr(obj, key) == value, f"{type(obj).__name__}.{key} is {getattr(obj, key)!r}, not {value!r}"
            assert config[key] == value, f"get_config()[{key!r}] is {config[key]!r}, not {value!r}"


def run_backbone_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    run_mixed_precision_check=True,
    mixed_precision_policies=("mixed_bfloat16",),
    config_excludes=(),
):
    """The standard checks of a backbone (a functional `Backbone` called on a dict of inputs).

    - config: every `__init__` argument is an attribute and in `get_config()`
      (plain values as given), `from_config` round-trips with the same
      parameter count, the class is registered as serializable;
    - the backbone's inputs are the keys of `input_data`; an eager call gives
      exactly the outputs (keys and shapes) of `expected_output_shape`;
    - a symbolic call in a functional model with batch size None gives the same
      shapes;
    - `.keras` save and safe-mode load: the same class, identical outputs;
    - mixed precision (each of `mixed_precision_policies`) with float32's
      weights: float32 variables, outputs in the compute dtype, close to float32.

    Returns:
        `(backbone, reloaded)`: the backbone checked and its `.keras` reload.
    """
    keras.utils.set_random_seed(1337)
    backbone = check_config(cls, init_kwargs, config_excludes)
    _check_stored_arguments(backbone, init_kwargs)

    if isinstance(input_data, dict):
        assert sorted(backbone.input) == sorted(input_data), f"inputs {sorted(backbone.input)}"
    outputs = backbone(input_data)
    check_output_shapes(outputs, expected_output_shape)

    _functional_model(backbone, input_data, outputs)

    reloaded = check_keras_round_trip(backbone, lambda m: m(input_data), outputs, cls=cls)

    if run_mixed_precision_check:
        _check_mixed_precision(
            lambda dtype: cls(**init_kwargs, dtype=dtype),
            lambda obj: obj(input_data),
            backbone,
            outputs,
            policies=mixed_precision_policies,
        )
    return backbone, reloaded


def _check_model_config(model):
    """`from_config(get_config())` of a model round-trips; its class is registered."""
    config = model.get_config()
    revived = type(model).from_config(config)
    assert revived.get_config() == config, "from_config(get_config()) does not round-trip."
    registered = keras.saving.get_registered_object(keras.saving.get_registered_name(type(model)))
    assert registered is type(model), f"{type(model).__name__} is not registered as serializable."


def run_task_test(
    cls,
    init_kwargs,
    train_data,
    expected_output_shape=None,
    batch_size=None,
    frozen_weights_ok=(),
    learning_rate=0.1,
):
    """The standard checks of a task (a backbone with a head, optionally with a preprocessor).

    - `from_config(get_config())` round-trips; the class is registered;
    - `predict` on the inputs of `train_data` (arrays, or raw text when
      `init_kwargs` holds a preprocessor) gives `expected_output_shape`;
    - compiled (`run_eagerly`) with an SGD optimizer and the task's default
      loss, one `fit` epoch gives a finite loss and moves every trainable weight (but those
      whose path contains one of `frozen_weights_ok`);
    - `.keras` save and safe-mode load: the same class (and preprocessor
      class), identical predictions.

    Args:
        train_data: `(x, y)` or `(x, y, sample_weight)`.
        batch_size: fit batch size; default the whole batch (one step).

    Returns:
        `(task, reloaded)`.
    """
    keras.utils.set_random_seed(1337)
    task = cls(**init_kwargs)
    _check_model_config(task)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(train_data)

    # Eager (no tracing of predict and train functions: tiny models run faster so).
    task.compile(optimizer=keras.optimizers.SGD(learning_rate), run_eagerly=True)
    output = task.predict(x, verbose=0)
    if expected_output_shape is not None:
        check_output_shapes(output, expected_output_shape)

    before = {w.path: np.array(w.numpy()) for w in task.trainable_weights}
    if batch_size is None:
        batch_size = _num_examples(x)
    history = task.fit(x, y, sample_weight=sample_weight, batch_size=batch_size, epochs=1, verbose=0)
    _check_fit_moved_weights(history, task, before, frozen_weights_ok)

    expected = task.predict(x, verbose=0)
    reloaded = check_keras_round_trip(task, lambda m: m.predict(x, verbose=0), expected, cls=cls)
    assert type(reloaded.preprocessor) is type(task.preprocessor)
    return task, reloaded


def _num_examples(x):
    if isinstance(x, dict):
        return _num_examples(next(iter(x.values())))
    if isinstance(x, tuple):  # sentence pairs
        return _num_examples(x[0])
    return len(x)


UNKNOWN_PRESET = "no_such_preset"


def run_preset_test(cls, preset, input_data=None, expected_output_shape=None, init_kwargs=None,
                    expected_num_params=None, rel_tol=0.0, shapes_only=None):
    """The standard checks of a preset (a name in `cls.PRESETS` or a preset directory).

    - an unknown preset name is a `ValueError` naming it and the class;
    - `cls.from_preset(preset, **init_kwargs)` builds; with `input_data`, it is
      called and gives `expected_output_shape`, and a `save_to_preset` /
      `from_preset` round trip gives the same class, the same weights and
      identical outputs;
    - `shapes_only` (default: when there is no `input_data`) builds it with
      shapes but no values (`build_shapes_only`): nothing is allocated;
    - `count_params()` is within `rel_tol * expected_num_params` of `expected_num_params`, if given.

    Returns:
        The model built from the preset.
    """
    init_kwargs = init_kwargs or {}
    with pytest.raises(ValueError, match=f"Unknown preset '{UNKNOWN_PRESET}' for {cls.__name__}"):
        cls.from_preset(UNKNOWN_PRESET, **init_kwargs)
    if shapes_only is None:
        shapes_only = input_data is None
    if shapes_only:
        model = build_shapes_only(cls.from_preset, preset, **init_kwargs)
        assert all(v._value is None for v in model.weights), "a shapes-only build allocated values"
    else:
        model = cls.from_preset(preset, **init_kwargs)
    if input_data is not None:
        outputs = model(input_data)
        if expected_output_shape is not None:
            check_output_shapes(outputs, expected_output_shape)
        with tempfile.TemporaryDirectory() as tmp:
            model.save_to_preset(tmp)
            loaded = cls.from_preset(tmp)
        assert type(loaded) is type(model)
        assert_same_weights(loaded, model)
        for a, b in zip(_flat(loaded(input_data)), _flat(outputs)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg="preset round trip changed outputs")
    if expected_num_params is not None:
        count = model.count_params()
        assert abs(count - expected_num_params) <= rel_tol * expected_num_params, (
            f"{preset}: {count / 1e6:.2f}M parameters, expected {expected_num_params / 1e6:.2f}M"
        )
    return model


def assert_same_weights(a, b):
    """Two models hold the same weights, in the same order."""
    assert len(a.weights) == len(b.weights)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
