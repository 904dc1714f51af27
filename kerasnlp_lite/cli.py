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


def export(args, parser):
    """`kerasnlp-lite export`: .keras -> .tflite (checked, with a report) or a SavedModel."""
    if not os.path.isfile(args.model) or not args.model.endswith(".keras"):
        parser.error(f"--model must be an existing .keras file, got {args.model!r}")
    if args.max_length is not None and args.max_length < 1:
        parser.error("--max-length must be >= 1")
    from kerasnlp_lite.export import export_saved_model, export_tflite
    from kerasnlp_lite.models import CausalLM, Seq2SeqLM
    from kerasnlp_lite.saving import load_model

    model = load_model(args.model)
    os.makedirs(args.out, exist_ok=True)
    name = os.path.splitext(os.path.basename(args.model))[0]
    if args.format == "saved_model":
        if args.quantize != "none":
            parser.error("--quantize applies to --format tflite only")
        path = export_saved_model(model, os.path.join(args.out, name))
        print(json.dumps({"saved_model": path}, indent=2))
        return 0
    path = os.path.join(args.out, name + ".tflite")
    quantize = None if args.quantize == "none" else args.quantize
    if isinstance(model, (CausalLM, Seq2SeqLM)):
        max_length = args.max_length or model.backbone.max_sequence_length
        if max_length is None:
            parser.error("this model has no position limit (T5): pass --max-length")
        report = export_tflite(model, path, quantize=quantize, max_length=max_length)
        printable = {key: report[key] for key in ("path", "size_bytes", "custom_ops", "metadata") if key in report}
        printable["signatures"] = sorted(report["signatures"])
        printable["greedy_check"] = report.get("greedy_check")
        print(json.dumps(printable, indent=2, default=str))
        return 0
    report = export_tflite(model, path, quantize=quantize, max_sequence_length=args.max_length)
    print(report.summary())
    return 0


def main(argv=None):
    _quiet_tensorflow()
    parser = argparse.ArgumentParser(prog="kerasnlp-lite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info_parser = sub.add_parser("info", help="print versions, layers, models and tf-text TFLite op status")
    info_parser.add_argument("--json", action="store_true", help="print JSON")
    demo_parser = sub.add_parser(
        "demo", help="train a tiny GPT on built-in text, export it to TFLite with its tokenizer and KV cache, "
        "generate on-device"
    )
    demo_parser.add_argument("--out", default="kerasnlp_lite_demo", help="output folder (default: %(default)s)")
    demo_parser.add_argument("--steps", type=int, default=600, help="training steps (default: %(default)s)")
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    from kerasnlp_lite.training.cli import add_train_parser

    add_train_parser(sub)
    export_parser = sub.add_parser("export", help="export a saved .keras model to TFLite or SavedModel")
    export_parser.add_argument("--model", required=True, help="path of a .keras file (loaded in safe mode)")
    export_parser.add_argument("--format", choices=["tflite", "saved_model"], default="tflite")
    export_parser.add_argument(
        "--quantize", choices=["none", "float16", "dynamic_int8"], default="none",
        help="TFLite weight quantization (default: %(default)s; full int8 needs representative data: use the "
        "Python API export_tflite(..., quantize='int8', representative_data=...))",
    )
    export_parser.add_argument("--out", required=True, help="output folder")
    export_parser.add_argument(
        "--max-length", type=int, default=None,
        help="fixed sequence length of the export (CausalLM: prompt + generated tokens; Seq2SeqLM: source "
        "tokens and decoder tokens; default: the packer's "
        "sequence_length, else the backbone's max_sequence_length)",
    )
    args = parser.parse_args(argv)

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
        if args.steps < 8:
            parser.error("--steps must be >= 8")
        from kerasnlp_lite.demo import run_demo

        report = run_demo(out_dir=args.out, steps=args.steps, seed=args.seed)
        print(json.dumps(report, indent=2))
        agree, total = (int(n) for n in report["greedy_prompts_identical_keras_vs_tflite"].split("/"))
        ok = agree == total
        print(f"demo {'passed' if ok else 'FAILED'}: greedy text on-device (LiteRunner) "
              f"{'matches' if ok else 'does not match'} Keras on {agree}/{total} prompts; "
              f"{report['tflite_size_bytes'] / 2**20:.2f} MiB, {report['tflite_decode_ms_per_token']} ms per token; "
              f"artifacts in {args.out}/")
        return 0 if ok else 1

    if args.command == "export":
        return export(args, parser)

    if args.command == "train":
        from kerasnlp_lite.training.cli import run_train

        return run_train(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
