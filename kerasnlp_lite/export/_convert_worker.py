"""Child process for `convert_in_subprocess`: `.keras` in, `.tflite` out."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("keras_path")
    parser.add_argument("tflite_path")
    parser.add_argument("--quantize", default=None)
    args = parser.parse_args(argv)

    import keras

    # Register every serializable class of the library before loading.
    import kerasnlp_lite.heads  # noqa: F401
    import kerasnlp_lite.layers  # noqa: F401
    import kerasnlp_lite.models  # noqa: F401
    import kerasnlp_lite.tokenizers  # noqa: F401
    from kerasnlp_lite.export.tflite import FlexOpError, convert_keras_model

    model = keras.saving.load_model(args.keras_path, safe_mode=True)
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
