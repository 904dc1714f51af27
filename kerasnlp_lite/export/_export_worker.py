"""Child process of `export_tflite`: a SavedModel directory in, a `.tflite` file out.

The TFLite converter leaks memory across conversions (see shared NOTES), so
`export_tflite` writes the SavedModel in the parent and converts it here, in
a fresh process (started by `tflite.convert_saved_model_in_child`). On
failure the child writes `<tflite>.error.json` (`type`, `message`, `ops`,
`locations`) so the parent can raise the same error with the op and layer
names.

Usage: python -m kerasnlp_lite.export._export_worker SAVED_MODEL TFLITE
           --signatures serving_default,classify [--quantize int8]
           [--representative samples.npz] [--tftext]
"""

import argparse
import sys


def convert(saved_model_dir, signature_keys, quantize, representative, tftext):
    """TFLite bytes of the given signatures, builtin ops (plus tf-text's custom ops if `tftext`).

    Args:
        representative: for "int8", a list of `(signature_key, {input name: numpy array})`.
    """
    from kerasnlp_lite.export.tflite import convert_saved_model

    return convert_saved_model(
        saved_model_dir, signature_keys, quantize=quantize, representative_data=representative, allow_tftext_ops=tftext
    )


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

    from kerasnlp_lite.export.tflite import write_conversion

    representative = None
    if args.representative:
        representative = _read_samples(args.representative)
    return write_conversion(
        lambda: convert(args.saved_model_dir, args.signatures.split(","), args.quantize, representative, args.tftext),
        args.tflite_path,
        error_path=args.tflite_path + ".error.json",
    )


if __name__ == "__main__":
    sys.exit(main())
