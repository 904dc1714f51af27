"""Keras -> SavedModel -> TFLite conversion with builtin ops only, and checks.

The route is the one that keeps the weights (see shared NOTES): export the
Keras model with `keras.export.ExportArchive` (via `model.export`), then
`TFLiteConverter.from_saved_model`. A Keras 3 model wrapped in a bare
`tf.Module` converts with no weights and outputs NaN.

Flex (TF Select) ops are never enabled: LiteRT 2.x cannot run Flex ops, so a
model that needs one is a bug to fix, reported here with the op's name.

The converter leaks memory across conversions (see shared NOTES): the
exports convert in a child process (`_convert_worker`, `_export_worker`,
`_generation_worker`), started by the `*_in_child` functions at the end.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from kerasnlp_lite.export.format import check_quantization, stamp_checksum


class FlexOpError(RuntimeError):
    """A model needs an op that LiteRT's builtins (and tf-text) do not have.

    `ops` lists the TF op names; `locations` the layer scopes they come from.
    """

    def __init__(self, message, ops=(), locations=()):
        super().__init__(message)
        self.ops = list(ops)
        self.locations = list(locations)


# tf-text's TFLite kernels (tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS);
# the others are named "TFText>...".
TFTEXT_TFLITE_OPS = frozenset(
    {
        "FastBertNormalize",
        "FastWordpieceTokenizeWithOffsets",
        "FastWordpieceDetokenize",
        "TFSentencepieceTokenizeOp",
        "TFSentencepieceDetokenizeOp",
        "FastSentencepieceTokenize",
        "FastSentencepieceDetokenize",
        "RaggedTensorToTensor",
    }
)


def is_tftext_op(op):
    """Whether a custom op name is one of tf-text's TFLite kernels."""
    return op in TFTEXT_TFLITE_OPS or op.startswith("TFText>")


def check_no_flex_ops(op_names, source):
    """Raises FlexOpError when some op is a Flex (TF Select) op; `source` names the file in the message."""
    flex = sorted({op for op in op_names if op.startswith("Flex")})
    if flex:
        raise FlexOpError(f"{source} needs Flex ops {flex}, which LiteRT 2.x cannot run: replace them with builtin ops.", ops=flex)


def check_ops(op_names, source, tftext=True):
    """Raises FlexOpError unless every op is a TFLite builtin or (with `tftext`) a tf-text custom op.

    With custom ops allowed (tf-text's tokenizers), the converter turns any TF
    op it cannot lower into a custom op of the same name instead of failing:
    those are refused here.
    """
    check_no_flex_ops(op_names, source)
    foreign = sorted({op for op in op_names if not op.isupper() and not (tftext and is_tftext_op(op))})
    if foreign:
        raise FlexOpError(
            f"{source} has custom op(s) {foreign} that neither TFLite's builtins nor tf-text implement (a TF op "
            "the converter could not lower: often its dtype, e.g. int64 sums, or a slice of rank > 5, a loop variable "
            "without a static shape, a dynamic TensorArray): LiteRT cannot run it. Rewrite that op (cast to int32 / "
            "float32, keep ranks <= 5) in the layer that uses it.",
            ops=foreign,
        )


def _unsupported_ops(error_text):
    """(op names, layer scopes) of the ops the converter could not lower."""
    ops = []
    for line in re.findall(r"TF Select ops: ([^\n]+)", error_text):
        ops += [op.strip() for op in line.split(",") if op.strip()]
    for op in re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", error_text):
        ops.append(op)
    locations = re.findall(r'fused\["(\w+):", "([^"@]+)@', error_text)
    ops = sorted(set(ops))
    scopes = sorted({scope for op, scope in locations if op in ops and not scope.startswith("PartitionedCall")})
    return ops, scopes


def convert_saved_model(
    saved_model_dir,
    signature_keys=None,
    quantize=None,
    representative_data=None,
    allow_tftext_ops=False,
):
    """Converts a SavedModel to TFLite flatbuffer bytes with builtins only.

    Args:
        saved_model_dir: path of the SavedModel.
        signature_keys: signatures to convert; default all.
        quantize: one of `format.QUANTIZATION_MODES`.
        representative_data: for "int8": a list of dicts of numpy inputs (one
            signature), or of `(signature_key, inputs dict)` pairs (several).
        allow_tftext_ops: allow tf-text's TFLite custom ops (tokenizers).

    Raises:
        FlexOpError: when some op has no builtin (or tf-text) kernel.
    """
    import tensorflow as tf

    check_quantization(quantize, representative_data)
    if allow_tftext_ops:
        import tensorflow_text  # registers tf-text's TF ops, so the SavedModel loads

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=signature_keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if allow_tftext_ops:
        # tf-text kernels (FastWordpieceTokenizer, ...) registered at run time
        # with tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS. Calibration
        # (int8) runs the model in an interpreter that must know them too; TF
        # exposes that only as a private attribute.
        converter.allow_custom_ops = True
        converter.target_spec._experimental_custom_op_registerers = list(
            tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS
        )
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        samples = list(representative_data)

        def as_arrays(inputs):
            return {k: np.asarray(v) for k, v in inputs.items()}

        if samples and isinstance(samples[0], tuple):
            if signature_keys is not None and len(signature_keys) == 1:
                # One signature: the calibrator wants plain input dicts.
                converter.representative_dataset = lambda: iter(as_arrays(inputs) for _, inputs in samples)
            else:
                converter.representative_dataset = lambda: iter((key, as_arrays(inputs)) for key, inputs in samples)
        else:
            converter.representative_dataset = lambda: iter(as_arrays(sample) for sample in samples)
    try:
        content = converter.convert()
    except Exception as error:  # the converter raises ConverterError
        ops, scopes = _unsupported_ops(str(error))
        if not ops:
            raise
        raise FlexOpError(
            f"TFLite conversion with builtin ops failed: no builtin kernel for TF op(s) {ops}, used in "
            f"{scopes or 'an unnamed scope'}. LiteRT 2.x cannot run Flex (TF Select) ops: replace the op in that "
            "layer (common causes: slices of rank > 5 tensors, loop variables without static shapes, ops such as "
            "cumprod or string ops outside tf-text's TFLite set).",
            ops=ops,
            locations=scopes,
        ) from error
    check_no_flex_ops(tflite_op_names(content), "The converted model")
    return content


def convert_keras_model(model, **kwargs):
    """Exports a built Keras model's forward pass and converts it to TFLite bytes.

    Runs in this process: prefer `convert_in_subprocess` when converting
    many models (the converter leaks memory).
    """
    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = os.path.join(tmp, "saved_model")
        model.export(saved_model_dir, format="tf_saved_model", verbose=False)
        return convert_saved_model(saved_model_dir, signature_keys=["serving_default"], **kwargs)


def check_tflite_content(model_content, name="model_content"):
    """Raises TypeError/ValueError naming `name` unless it is the bytes of a TFLite flatbuffer.

    A TFLite file carries the flatbuffer file identifier "TFL3" at bytes 4..8;
    without this check other bytes fail deep in the flatbuffer parser.
    """
    if not isinstance(model_content, (bytes, bytearray, memoryview)):
        raise TypeError(f"`{name}` must be the bytes of a .tflite file, got {type(model_content).__name__}.")
    if bytes(model_content[4:8]) != b"TFL3":
        raise ValueError(
            f"`{name}` is not a TFLite file: {len(model_content)} bytes without the \"TFL3\" identifier at offset 4 "
            f"(starts with {bytes(model_content[:8])!r})."
        )


def builtin_codes(model):
    """The builtin operator code of each opcode index of a flatbuffer-reader `schema.Model` (files written
    before codes passed 127 keep them in the deprecated field: the larger of the two is the code)."""
    return [max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
            for i in range(model.OperatorCodesLength())]


def tflite_op_names(model_content):
    """Names of the ops in a TFLite flatbuffer (builtin names, or custom codes)."""
    from ai_edge_litert import schema_py_generated as schema

    check_tflite_content(model_content)
    model = schema.ModelT.InitFromPackedBuf(bytearray(model_content), 0)
    builtin_names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    names = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin == schema.BuiltinOperator.CUSTOM:
                custom = code.customCode
                names.append(custom.decode() if isinstance(custom, bytes) else str(custom))
            else:
                names.append(builtin_names.get(builtin, str(builtin)))
    return names


def make_interpreter(model_content=None, model_path=None, num_threads=1, tftext_ops=False):
    """An `ai_edge_litert` interpreter; registers tf-text ops when asked."""
    from ai_edge_litert import interpreter as litert

    if tftext_ops:
        import tensorflow_text

        return litert.InterpreterWithCustomOps(
            model_content=model_content,
            model_path=model_path,
            num_threads=num_threads,
            custom_op_registerers=tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS,
        )
    return litert.Interpreter(model_content=model_content, model_path=model_path, num_threads=num_threads)


def run_tflite(model_content, inputs, signature_key=None, tftext_ops=False):
    """Runs one signature of a TFLite model on a dict of numpy inputs.

    Returns a dict of numpy outputs keyed by the signature's output names.
    """
    check_tflite_content(model_content)
    interpreter = make_interpreter(model_content=model_content, tftext_ops=tftext_ops)
    signatures = interpreter.get_signature_list()
    if signature_key is None:
        if len(signatures) != 1:
            raise ValueError(f"The model has signatures {sorted(signatures)}; pass `signature_key`.")
        signature_key = next(iter(signatures))
    runner = interpreter.get_signature_runner(signature_key)
    expected = set(signatures[signature_key]["inputs"])
    if set(inputs) != expected:
        raise ValueError(f"Signature {signature_key!r} takes inputs {sorted(expected)}, got {sorted(inputs)}.")
    return runner(**{name: np.asarray(value) for name, value in inputs.items()})


# --- conversion in a child process ----------------------------------------------
def run_worker(module, args, timeout, what, error_path=None):
    """Runs `python -m kerasnlp_lite.export.<module> args`; raises FlexOpError or RuntimeError with its message.

    A worker that writes `error_path` (JSON `message`, `ops`, `locations`) on a
    FlexOpError gets it raised here with the op and layer names.
    """
    command = [sys.executable, "-m", f"kerasnlp_lite.export.{module}", *args]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if error_path is not None and os.path.exists(error_path):
        with open(error_path) as f:
            error = json.load(f)
        os.remove(error_path)
        raise FlexOpError(error["message"], ops=error["ops"], locations=error["locations"])
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-30:])
        error = FlexOpError if "FlexOpError" in result.stderr else RuntimeError
        raise error(f"TFLite conversion of {what} failed:\n{tail}")


def write_conversion(convert, tflite_path, error_path=None, stamp=True):
    """The end of a worker: writes the bytes `convert()` returns, stamped with their weights checksum
    (`format.stamp_checksum`) unless `stamp` is False, and gives exit code 0; or reports its FlexOpError on
    stderr (and as JSON in `error_path`, if given) and gives 3."""
    try:
        content = convert()
        content = stamp_checksum(content) if stamp else content
    except FlexOpError as error:
        if error_path is not None:
            with open(error_path, "w") as f:
                json.dump({"type": "FlexOpError", "message": str(error), "ops": error.ops, "locations": error.locations}, f)
        print(f"FlexOpError: {error}", file=sys.stderr)
        return 3
    with open(tflite_path, "wb") as f:
        f.write(content)
    return 0


def convert_in_subprocess(keras_path, tflite_path, quantize=None, timeout=600):
    """Converts a `.keras` file to a `.tflite` file in a fresh Python process.

    The TFLite converter leaks memory across conversions, so each conversion
    gets its own process. Raises FlexOpError or RuntimeError with the
    child's message.
    """
    check_quantization(quantize)
    args = [keras_path, tflite_path] + (["--quantize", quantize] if quantize else [])
    run_worker("_convert_worker", args, timeout, keras_path)
    return tflite_path


def convert_saved_model_in_child(saved_model_dir, tflite_path, signatures, quantize, representative, tftext, timeout):
    """`convert_saved_model` in `_export_worker`: writes `tflite_path`.

    Args:
        representative: for "int8", a list of `(signature_key, {input name: array})`.
        tftext: allow tf-text's custom ops (string signatures).
    """
    args = [saved_model_dir, tflite_path, "--signatures", ",".join(signatures)]
    if quantize:
        args += ["--quantize", quantize]
    if tftext:
        args.append("--tftext")
    with tempfile.TemporaryDirectory() as tmp:
        if representative is not None:
            # npz of plain arrays (no pickles, even between our own processes).
            samples_path = os.path.join(tmp, "representative.npz")
            np.savez(samples_path, **{
                f"{i}|{signature}|{name}": _plain_array(value)
                for i, (signature, inputs) in enumerate(representative)
                for name, value in inputs.items()
            })
            args += ["--representative", samples_path]
        run_worker("_export_worker", args, timeout, saved_model_dir, error_path=tflite_path + ".error.json")


def _plain_array(value):
    """numpy array without Python objects: strings become fixed-width UTF-8 bytes (dtype S)."""
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind == "U":
        items = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.reshape(-1).tolist()]
        array = np.array(items, dtype=bytes).reshape(array.shape)
    return array


def convert_bundle_in_child(model, tokenizer, timeout, what, **spec):
    """A generation bundle's TFLite bytes, built and converted in `_generation_worker`.

    Args:
        model: the `CausalLM` or `Seq2SeqLM`, saved for the child. A LoRA model
            is saved merged (`merge_lora`): plain kernels, no per-step A @ B in
            the file.
        tokenizer: the tokenizer of the text signatures, or None.
        what: the model, for error messages.
        **spec: the builder's arguments, read by the worker: `kind`
            ("causal_lm" or "seq2seq"), `max_length`, `quantize`, ...
    """
    import keras

    from kerasnlp_lite.models.backbone import has_lora, merge_lora

    with tempfile.TemporaryDirectory() as tmp:
        keras_path = os.path.join(tmp, "model.keras")
        (merge_lora(model) if has_lora(model) else model).save(keras_path)
        spec = dict(
            spec,
            tokenizer=keras.saving.serialize_keras_object(tokenizer) if tokenizer is not None else None,
            keras_path=keras_path,
            tflite_path=os.path.join(tmp, "model.tflite"),
        )
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        run_worker("_generation_worker", [spec_path], timeout, f"the {what}")
        with open(spec["tflite_path"], "rb") as f:
            return f.read()
