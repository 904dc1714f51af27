"""Child process for `convert_in_subprocess`: `.keras` in, `.tflite` out."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("keras_path")
    parser.add_argument("tflite_path")
    parser.add_argument("--quantize", default=None)
    args = parser.parse_args(argv)

    from kerasnlp_lite.export.tflite import FlexOpError, convert_keras_model
    from kerasnlp_lite.saving import load_model  # registers every library class first

    model = load_model(args.keras_path)
    try:
        content = convert_keras_model(model, quantize=args.quantize)
    except FlexOpError as error:
        print(f"FlexOpError: {error}", file=sys.stderr)
        return 3
    with open(args.tflite_path, "wb") as f:
        f.write(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
