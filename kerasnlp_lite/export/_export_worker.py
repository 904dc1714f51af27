"""Child process of `export_tflite`: a SavedModel directory in, a `.tflite` file out.

The TFLite converter leaks memory across conversions (see shared NOTES), so
`kerasnlp_lite.export.api` writes the SavedModel in the parent and converts
it here, in a fresh process. On failure the child writes `<tflite>.error.json`
(`type`, `message`, `ops`, `locations`) so the parent can raise the same
error with the op and layer names.

Usage: python -m kerasnlp_lite.export._export_worker SAVED_MODEL TFLITE
           --signatures serving_default,classify [--quantize int8]
           [--representative samples.pkl] [--tftext]
"""

import argparse
import json
import sys


def convert(saved_model_dir, signature_keys, quantize=None, representative=None, tftext=False):
    """TFLite bytes of the given signatures, builtin ops (plus tf-text's custom ops if `tftext`).

    Args:
        representative: for "int8", a list of `(signature_key, {input name: numpy array})`.
    """
    import numpy as np
    import tensorflow as tf

    from kerasnlp_lite.export.tflite import FlexOpError, _unsupported_ops

    if tftext:
        import tensorflow_text  # noqa: F401  (registers the TF ops so the SavedModel loads)

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=signature_keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if tftext:
        converter.allow_custom_ops = True
        # Calibration (int8) runs the model in an interpreter, which must know
        # tf-text's kernels too; TF exposes this only as a private attribute.
        converter.target_spec._experimental_custom_op_registerers = list(
            tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS
        )
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        samples = list(representative)
        if len(signature_keys) == 1:
            # One signature: the calibrator wants plain input dicts.
            converter.representative_dataset = lambda: iter(
                {k: np.asarray(v) for k, v in inputs.items()} for _, inputs in samples
            )
        else:
            converter.representative_dataset = lambda: iter(
                (key, {k: np.asarray(v) for k, v in inputs.items()}) for key, inputs in samples
            )
    try:
        return converter.convert()
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


def _read_samples(path):
    """[(signature_key, {input name: array})] from the parent's npz, in order."""
    import numpy as np

    samples = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            index, signature, name = key.split("|", 2)
            samples.setdefault(int(index), (signature, {}))[1][name] = data[key]
    return [samples[i] for i in sorted(samples)]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("saved_model_dir")
    parser.add_argument("tflite_path")
    parser.add_argument("--signatures", required=True, help="comma-separated signature keys")
    parser.add_argument("--quantize", default=None)
    parser.add_argument("--representative", default=None, help="npz of the [(signature_key, inputs dict)] samples, keys 'index|signature|input'")
    parser.add_argument("--tftext", action="store_true")
    args = parser.parse_args(argv)

    from kerasnlp_lite.export.tflite import FlexOpError

    representative = None
    if args.representative:
        representative = _read_samples(args.representative)
    error_path = args.tflite_path + ".error.json"
    try:
        content = convert(
            args.saved_model_dir, args.signatures.split(","), args.quantize, representative, args.tftext
        )
    except FlexOpError as error:
        with open(error_path, "w") as f:
            json.dump({"type": "FlexOpError", "message": str(error), "ops": error.ops, "locations": error.locations}, f)
        print(f"FlexOpError: {error}", file=sys.stderr)
        return 3
    with open(args.tflite_path, "wb") as f:
        f.write(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
