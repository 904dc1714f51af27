import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from kerasnlp_lite.export.tflite import (
    FlexOpError,
    convert_in_subprocess,
    convert_keras_model,
    run_tflite,
    tflite_op_names,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _dense_model():
    inputs = keras.Input((3,), batch_size=1, name="features")
    return keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))


@pytest.mark.slow
@pytest.mark.tflite
def test_convert_run_and_list_ops(tmp_path):
    model = _dense_model()
    content = convert_keras_model(model)
    assert tflite_op_names(content) == ["FULLY_CONNECTED"]
    x = np.arange(3, dtype="float32").reshape(1, 3)
    outputs = run_tflite(content, {"features": x})
    np.testing.assert_allclose(next(iter(outputs.values())), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="takes inputs"):
        run_tflite(content, {"wrong_name": x})

    # The command-line checker accepts it and prints the op.
    path = tmp_path / "dense.tflite"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "export", "tflite_ops.py"), str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "FULLY_CONNECTED" in result.stdout and "ok: builtin ops only" in result.stdout


@pytest.mark.slow
@pytest.mark.tflite
def test_flex_op_is_refused_with_its_name_and_layer():
    inputs = keras.Input((4,), batch_size=1)
    model = keras.Model(inputs, ops.cumprod(inputs, axis=1))  # tf.Cumprod has no builtin kernel
    with pytest.raises(FlexOpError, match="Cumprod") as info:
        convert_keras_model(model)
    assert info.value.ops == ["Cumprod"]
    assert any("Cumprod" in location for location in info.value.locations)


@pytest.mark.slow
@pytest.mark.tflite
def test_rank_six_slice_is_refused():
    # A known trap: strided slices of rank-6 tensors need Flex.
    inputs = keras.Input((2, 2, 2, 2, 2), batch_size=1)
    with pytest.raises(FlexOpError, match="StridedSlice"):
        convert_keras_model(keras.Model(inputs, inputs[:, :, :, :, :, 1:]))


@pytest.mark.slow
@pytest.mark.tflite
def test_convert_in_subprocess_round_trip_and_errors(tmp_path):
    model = _dense_model()
    keras_path, tflite_path = str(tmp_path / "m.keras"), str(tmp_path / "m.tflite")
    model.save(keras_path)
    convert_in_subprocess(keras_path, tflite_path, quantize="dynamic_int8")
    with open(tflite_path, "rb") as f:
        content = f.read()
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(next(iter(run_tflite(content, {"features": x}).values())), model(x), atol=0.05)
    with pytest.raises(RuntimeError, match="missing.keras"):
        convert_in_subprocess(str(tmp_path / "missing.keras"), tflite_path)


def test_bad_quantize_mode():
    with pytest.raises(ValueError, match="`quantize` must be one of"):
        convert_keras_model(_dense_model(), quantize="int4")
    with pytest.raises(ValueError, match="representative_data"):
        convert_keras_model(_dense_model(), quantize="int8")


def test_tflite_ops_cli_rejects_flex(tmp_path):
    # A flatbuffer whose only op is a custom "FlexCumprod" is rejected by the checker.
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.CUSTOM
    code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "FlexCumprod"
    model.operatorCodes = [code]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs, op.outputs = [], []
    subgraph = schema.SubGraphT()
    subgraph.operators, subgraph.tensors, subgraph.inputs, subgraph.outputs = [op], [], [], []
    model.subgraphs = [subgraph]
    model.buffers = [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "flex.tflite"
    path.write_bytes(bytes(builder.Output()))
    assert tflite_op_names(path.read_bytes()) == ["FlexCumprod"]
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "export", "tflite_ops.py"), str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Flex ops ['FlexCumprod']" in result.stderr
