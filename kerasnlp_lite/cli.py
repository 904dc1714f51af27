"""The `kerasnlp-lite` command."""

import argparse
import json
import os
import sys


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def tftext_tflite_status():
    """Which tf-text TFLite op registerers exist and whether LiteRT accepts them."""
    try:
        import tensorflow_text
    except Exception as error:  # pragma: no cover - tf-text is a dependency
        return {"available": False, "error": str(error)}
    registerers = list(tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS)
    names = [getattr(r, "__name__", str(r)).removeprefix("Add") for r in registerers]
    status = {"available": True, "ops": names}
    try:
        import tensorflow as tf

        from kerasnlp_lite.export.tflite import make_interpreter

        @tf.function(input_signature=[tf.TensorSpec([1], tf.float32)])
        def plus_one(x):
            return x + 1.0

        converter = tf.lite.TFLiteConverter.from_concrete_functions([plus_one.get_concrete_function()], plus_one)
        interpreter = make_interpreter(model_content=converter.convert(), tftext_ops=True)
        interpreter.allocate_tensors()
        status["registered_with_litert"] = True
    except Exception as error:
        status["registered_with_litert"] = False
        status["error"] = f"{type(error).__name__}: {error}"
    return status


def info():
    """Versions, available layers and models, tf-text TFLite op status."""
    from importlib import metadata

    import keras

    import kerasnlp_lite
    from kerasnlp_lite import layers

    versions = {"kerasnlp_lite": kerasnlp_lite.__version__}
    for package in ("tensorflow", "keras", "tensorflow-text", "ai-edge-litert", "numpy", "sentencepiece", "safetensors"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    public = {name: getattr(layers, name) for name in dir(layers) if not name.startswith("_")}
    layer_names = sorted(n for n, v in public.items() if isinstance(v, type) and issubclass(v, keras.layers.Layer))
    functions = sorted(n for n, v in public.items() if callable(v) and not isinstance(v, type))
    try:
        from kerasnlp_lite import models

        model_names = sorted(models.AVAILABLE_MODELS)
    except ImportError:  # the model families land with later issues
        model_names = []
    return {
        "versions": versions,
        "layers": layer_names,
        "layer_functions": functions,
        "models": model_names,
        "tftext_tflite_ops": tftext_tflite_status(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kerasnlp-lite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info_parser = sub.add_parser("info", help="print versions, layers, models and tf-text TFLite op status")
    info_parser.add_argument("--json", action="store_true", help="print JSON")
    demo_parser = sub.add_parser("demo", help="train a tiny model on built-in data, export it to TFLite, run it")
    demo_parser.add_argument("--out", default="kerasnlp_lite_demo", help="output folder (default: %(default)s)")
    demo_parser.add_argument("--epochs", type=int, default=8, help="training epochs (default: %(default)s)")
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    _quiet_tensorflow()

    if args.command == "info":
        result = info()
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            for key, value in result["versions"].items():
                print(f"{key:16s} {value}")
            print("layers:          " + ", ".join(result["layers"]))
            print("layer functions: " + ", ".join(result["layer_functions"]))
            print("models:          " + (", ".join(result["models"]) or "(none yet)"))
            status = result["tftext_tflite_ops"]
            registered = status.get("registered_with_litert")
            print(f"tf-text TFLite ops: {'registered' if registered else 'NOT registered'} with ai_edge_litert "
                  f"({', '.join(status.get('ops', []))})" + (f" error: {status['error']}" if "error" in status else ""))
        return 0 if result["tftext_tflite_ops"].get("registered_with_litert") else 1

    if args.command == "demo":
        if args.epochs < 1:
            parser.error("--epochs must be >= 1")
        from kerasnlp_lite.demo import run_demo

        report = run_demo(out_dir=args.out, epochs=args.epochs, seed=args.seed)
        print(json.dumps(report, indent=2))
        ok = report["tflite_keras_prediction_agreement"] >= 0.99 and report["tflite_keras_max_abs_diff"] <= 1e-3
        print("demo " + ("passed" if ok else "FAILED") + ": TFLite on-device predictions "
              + ("match" if ok else "do not match") + " Keras")
        return 0 if ok else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
