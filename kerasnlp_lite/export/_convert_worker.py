"""Child process for `convert_in_subprocess`: `.keras` in, `.tflite` out."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("keras_path")
    parser.add_argument("tflite_path")
    parser.add_argument("--quantize", default=None)
    args = parser.parse_args(argv)

    from kerasnlp_lite.export.tflite import convert_keras_model, write_conversion
    from kerasnlp_lite.saving import load_model  # registers every library class first

    model = load_model(args.keras_path)
    return write_conversion(lambda: convert_keras_model(model, quantize=args.quantize), args.tflite_path)


if __name__ == "__main__":
    sys.exit(main())
