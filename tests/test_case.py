"""The one shared test helper for every layer (after KerasHub's `run_layer_test`).

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

`shapes_only()` builds a model's variables with shapes but no values, so
`count_params()` of a billion-parameter preset costs nothing.

`run_tflite_parity_test` converts a small functional model to TFLite in a
subprocess (the converter leaks memory), checks that no Flex op is present,
runs it with `ai_edge_litert` and compares with Keras (max abs diff <= atol).
"""

import contextlib
import inspect
import os
import tempfile

import keras
import numpy as np
from keras import ops
from keras.src.backend.common import global_state

from kerasnlp_lite.export.tflite import convert_in_subprocess, run_tflite, tflite_op_names

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
    eager = layer(**{k: ops.convert_to_tensor(v) for k, v in input_data.items()}, **call_kwargs)
    if expected_output_shape is not None:
        actual = keras.tree.map_structure(lambda x: tuple(x.shape), eager)
        expected = keras.tree.map_structure(tuple, expected_output_shape) if isinstance(
            expected_output_shape, (dict, list)
        ) else tuple(expected_output_shape)
        assert actual == expected, f"output shape {actual} != expected {expected}"
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
    def build_model(dtype=None):
        inputs = _symbolic_inputs(input_data)
        kwargs = dict(init_kwargs)
        if dtype is not None:
            kwargs["dtype"] = dtype
        inner = layer_cls(**kwargs)
        outputs = inner(**inputs, **call_kwargs)
        return keras.Model(inputs, outputs), inner

    model, inner = build_model()
    for symbolic_out, eager_out in zip(_flat(model.outputs), _flat(eager)):
        assert tuple(symbolic_out.shape)[1:] == tuple(eager_out.shape)[1:], (
            f"symbolic shape {symbolic_out.shape} != eager shape {eager_out.shape}"
        )
    batch_inputs = {k: np.asarray(v) for k, v in input_data.items()}
    reference = model.predict(batch_inputs, verbose=0)

    if run_training_check and inner.trainable_weights:
        _check_fit_step(model, inner, batch_inputs, frozen_weights_ok)
        reference = model.predict(batch_inputs, verbose=0)

    if run_saving_check:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            revived = keras.saving.load_model(path, safe_mode=True)
            restored = revived.predict(batch_inputs, verbose=0)
            for a, b in zip(_flat(restored), _flat(reference)):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg="reload changed outputs")

    if run_mixed_precision_check:
        for policy in ("mixed_float16", "mixed_bfloat16"):
            _check_mixed_precision(
                layer_cls, init_kwargs, input_data, call_kwargs, policy, mixed_precision_output_dtype
            )
    return eager


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
    assert np.isfinite(history.history["loss"][0]), "fit step gave a non-finite loss"
    unmoved = [
        w.path
        for w in layer.trainable_weights
        if np.array_equal(before[w.path], w.numpy()) and not any(k in w.path for k in frozen_weights_ok)
    ]
    assert not unmoved, f"these trainable weights did not change in a fit step: {unmoved}"


# Relative tolerance of a mixed-precision output against float32 with the same weights.
MIXED_PRECISION_TOLERANCE = {"mixed_float16": 1e-2, "mixed_bfloat16": 6e-2}


def _check_mixed_precision(layer_cls, init_kwargs, input_data, call_kwargs, policy, output_dtype):
    tensors = {k: ops.convert_to_tensor(v) for k, v in input_data.items()}
    reference_layer = layer_cls(**init_kwargs)
    reference = reference_layer(**tensors, **call_kwargs)
    layer = layer_cls(**init_kwargs, dtype=policy)
    layer(**tensors, **call_kwargs)
    layer.set_weights(reference_layer.get_weights())
    outputs = layer(**tensors, **call_kwargs)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for weight in layer.weights:
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
    for out, ref in zip(_flat(outputs), _flat(reference)):
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


@contextlib.contextmanager
def shapes_only():
    """Builds variables with shapes but no values; forgets them on exit.

    Inside `keras.StatelessScope(initialize_variables=False)` Keras gives every
    variable its shape and defers the initializer, so `count_params()` (a sum
    over shapes) is the real count without memory for the values. Keras lists
    the deferred variables globally so that a later scope exit can initialise
    them; restoring the list keeps a billion unallocated parameters from being
    initialised by some unrelated later code.
    """
    pending = list(global_state.get_global_attribute("uninitialized_variables", []))
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)


def check_backbone_mixed_precision(backbone_cls, kwargs, data, atol=0.1):
    """A backbone under mixed_bfloat16 with float32's weights: float32 variables,
    bfloat16 sequence output, pooled output near float32's."""
    reference = backbone_cls(**kwargs)
    mixed = backbone_cls(**kwargs, dtype="mixed_bfloat16")
    mixed.set_weights(reference.get_weights())
    out, ref = mixed(data), reference(data)
    assert keras.backend.standardize_dtype(out["sequence_output"].dtype) == "bfloat16"
    assert all(w.dtype == "float32" for w in mixed.weights)
    assert_allclose(ops.cast(out["pooled_output"], "float32"), ref["pooled_output"], atol=atol)
