"""The `kerasnlp-lite` command: info, demo, train, export, generate, predict.

Building the parser imports nothing heavy: TensorFlow and Keras load inside
the command that runs, so `kerasnlp-lite --help` and every subcommand's
`--help` answer at once (tests/test_cli.py checks that parsing leaves them
unimported).
"""

import argparse
import json
import os
import sys

from kerasnlp_lite.export.format import CAUSAL_LM_QUANTIZATION_MODES, DETOKENIZE, GENERATE, PREFILL, TOKENIZE

# `train` flags, one per `TrainConfig` field (kerasnlp_lite/training/trainer.py): name -> (type,
# default, choices, help). Written out here rather than read from the dataclass because importing
# `kerasnlp_lite.training` imports TensorFlow; tests/training/test_cli.py checks that the names,
# types, defaults and choices are TrainConfig's. A None default is derived or left to the preset,
# and its help says how.
TRAIN_FLAGS = {
    "model": (str, "gpt2_tiny", None, "GPT preset (causal LM) or BERT preset (masked LM), e.g. gpt2_tiny, bert_tiny"),
    "data": (str, "builtin", ("builtin",),
             "training data: builtin (the stdlib-docstring corpus, SentencePiece vocabulary trained on it)"),
    "steps": (int, 500, None, "optimizer steps of the whole run"),
    "global_batch_size": (int, 16, None, "examples per step over all replicas and workers"),
    "sequence_length": (int, 64, None, "tokens per example"),
    "vocabulary_size": (int, 1000, None, "size of the built-in SentencePiece vocabulary"),
    "max_documents": (int, 1500, None, "built-in corpus documents used"),
    "learning_rate": (float, 1e-3, None, "peak learning rate (after warmup)"),
    "warmup_steps": (int, None, None, "linear warmup steps, < --steps (default: min(50, steps // 10))"),
    "decay": (str, "cosine", ("linear", "cosine"), "decay after warmup"),
    "end_learning_rate": (float, 0.0, None, "learning rate at the last step"),
    "weight_decay": (float, 0.01, None, "AdamW decoupled weight decay (not on biases and LayerNorm)"),
    "global_clipnorm": (float, 1.0, None, "clip gradients to this global norm"),
    "dropout": (float, None, None, "dropout rate (default: the preset's)"),
    "checkpoint_every": (
        int, None, None,
        "steps between checkpoints (written crash-safely, with a sha256; a killed run resumes from the last good "
        "one); when given, it must divide --steps (default: min(100, steps), rounded down to a multiple of "
        "--steps-per-execution; the last interval is shorter when that does not divide --steps)",
    ),
    "steps_per_execution": (int, 1, None, "train steps per compiled call; must divide --steps"),
    "jit_compile": (bool, False, None, "XLA-compile the train step (one replica on CPU/GPU; always on TPU)"),
    "dtype": (str, "float32", ("float32", "mixed_bfloat16", "mixed_float16"),
              "mixed_bfloat16 (TPU, CPU) or mixed_float16 (GPU, with loss scaling)"),
    "strategy": (str, "auto", ("auto", "default", "mirrored", "multi_worker", "tpu"),
                 "tf.distribute strategy (multi_worker reads TF_CONFIG)"),
    "tpu": (str, None, None, "TPU name or address for --strategy tpu (e.g. local on a TPU VM; default: none)"),
    "seed": (int, 0, None, "seed of weights, example order and masking"),
    "out": (str, "runs/default", None,
            "run directory: backup/ (checkpoints), logs/ (TensorBoard), model.keras (with its tokenizer), "
            "tokenizer.model, config.json"),
    "verbose": (int, 1, (0, 1, 2), "0 silent, 1 progress bar, 2 one line per checkpoint interval"),
}
SAMPLERS = ("greedy", "top_k", "top_p", "random", "beam")
LITE_SAMPLERS = ("greedy", "top_k")  # what the exported `generate` loop samples with
DEFAULT_TOP_K = 10  # TopKSampler's default


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _flag(name):
    return "--" + name.replace("_", "-")


# --- parsers -------------------------------------------------------------------------------------
def add_train_parser(subparsers):
    """Adds the `train` subcommand to an argparse `subparsers`; returns its parser.

    Every flag defaults to None here so that only the flags given override
    `--config`; unset ones take `TrainConfig`'s defaults (shown in --help).
    """
    parser = subparsers.add_parser(
        "train", help="train a model preset with tf.distribute (resumable)",
        description="Train a model preset on the built-in data with Keras fit under a tf.distribute strategy. "
        "Rerun the same command to resume from the last checkpoint: a damaged one is skipped for the previous "
        "one, with a warning; a checkpoint of a run with other settings is refused (the error names the fields) "
        "unless --force. A NaN or infinite loss stops the run (exit code 1) before anything is saved from it.",
    )
    parser.add_argument("--config", help="JSON file of TrainConfig fields; flags given on the command line win")
    parser.add_argument(
        "--force", action="store_true",
        help="resume the checkpoint in --out even though the flags that say what is trained (model, data, steps, "
        "learning rate, ...) differ from its run's; without it such a rerun is refused, naming the fields",
    )
    for name, (kind, default, choices, help_text) in TRAIN_FLAGS.items():
        if default is not None:
            help_text = f"{help_text} (default: {default})"
        if kind is bool:
            parser.add_argument(_flag(name), action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(_flag(name), type=kind, default=None, choices=choices, help=help_text)
    return parser


def _add_generate_parser(subparsers):
    parser = subparsers.add_parser(
        "generate", help="continue prompts with a .keras CausalLM / Seq2SeqLM or an exported .tflite",
        description="Generate text. A .keras model needs its tokenizer (a preprocessor, as `train` saves it); a "
        ".tflite file needs the tokenize/detokenize signatures (`export` adds them for such a model). Generation "
        "stops at the model's end token: the preprocessor's end_token_id, or the .tflite metadata's.",
    )
    parser.add_argument("prompts", nargs="+", metavar="PROMPT",
                        help="prompt text (CausalLM) or source text (Seq2SeqLM)")
    parser.add_argument("--model", required=True, help="a .keras file (loaded in safe mode) or a .tflite file")
    parser.add_argument(
        "--max-length", type=int, default=None,
        help="tokens per output, the prompt included (Seq2SeqLM: decoder tokens with the start token; default: the "
        "model's max_sequence_length, or the exported max_length)",
    )
    parser.add_argument("--sampler", choices=SAMPLERS, default="greedy",
                        help=f"decoding (default: %(default)s; .tflite: {' or '.join(LITE_SAMPLERS)})")
    parser.add_argument("--k", type=int, default=None,
                        help=f"top_k: sample among the k best (default: {DEFAULT_TOP_K})")
    parser.add_argument("--p", type=float, default=None, help="top_p: smallest set of tokens with this probability")
    parser.add_argument("--temperature", type=float, default=None, help="random, top_k, top_p: divides the logits")
    parser.add_argument("--num-beams", type=int, default=None, help="beam: beams kept")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random samplers (default: a fresh one)")
    parser.add_argument("--json", action="store_true", help='print one JSON object {"prompt", "text"} per line')
    return parser


def _add_predict_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help="class probabilities or embeddings of texts (.keras TextClassifier / TextEmbedder or .tflite)",
        description="Run a text classifier or embedder on texts; prints one JSON object per text: "
        '{"text", "label", "probabilities"} or {"text", "embedding"}. A .keras model needs its preprocessor; a '
        ".tflite file needs a string-in signature (`classify` or `embed`).",
    )
    parser.add_argument("texts", nargs="+", metavar="TEXT")
    parser.add_argument("--model", required=True, help="a .keras file (loaded in safe mode) or a .tflite file")
    return parser


def build_parser():
    """The `kerasnlp-lite` parser and its subparsers by name (nothing heavy imported)."""
    parser = argparse.ArgumentParser(prog="kerasnlp-lite", description=__doc__.split("\n\n")[0])
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
    train_parser = add_train_parser(sub)
    export_parser = sub.add_parser("export", help="export a saved .keras model to TFLite or SavedModel")
    export_parser.add_argument("--model", required=True, help="path of a .keras file (loaded in safe mode)")
    export_parser.add_argument("--format", choices=["tflite", "saved_model", "litertlm"], default="tflite")
    export_parser.add_argument(
        "--quantize", choices=["none", *(mode for mode in CAUSAL_LM_QUANTIZATION_MODES if mode)], default="none",
        help="TFLite weight quantization (default: %(default)s; int4: CausalLM only, needs litert-quantizer; full "
        "int8 needs representative data: use the Python API export_tflite(..., quantize='int8', "
        "representative_data=...))",
    )
    export_parser.add_argument("--out", required=True, help="output folder")
    export_parser.add_argument(
        "--max-length", type=int, default=None,
        help="CausalLM / Seq2SeqLM only: tokens per generated row, the prompt included (Seq2SeqLM: also the "
        "source length); default: the backbone's max_sequence_length",
    )
    export_parser.add_argument(
        "--sequence-length", type=int, default=None,
        help="encoder tasks only: the fixed packed length of the file's inputs (default: the packer's "
        "sequence_length, else the backbone's max_sequence_length)",
    )
    parsers = {
        "info": info_parser, "demo": demo_parser, "train": train_parser, "export": export_parser,
        "generate": _add_generate_parser(sub), "predict": _add_predict_parser(sub),
    }
    return parser, parsers


# --- info, export ----------------------------------------------------------------------------------
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
    for flag, value in (("--max-length", args.max_length), ("--sequence-length", args.sequence_length)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1")
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
    if args.format == "litertlm":  # a LiteRT-LM bundle of a CausalLM
        from kerasnlp_lite.export.litertlm import cli_export

        return cli_export(model, args, name, parser)
    path = os.path.join(args.out, name + ".tflite")
    quantize = None if args.quantize == "none" else args.quantize
    generates = isinstance(model, (CausalLM, Seq2SeqLM))
    if quantize == "int4":
        from kerasnlp_lite.export.int4 import require_quantizer

        if not isinstance(model, CausalLM):
            parser.error(f"--quantize int4 is for a CausalLM, got a {type(model).__name__}")
        try:
            require_quantizer()
        except ImportError as error:
            parser.error(str(error))
    if generates and args.sequence_length is not None:
        parser.error("--sequence-length is for encoder tasks; a CausalLM / Seq2SeqLM takes --max-length")
    if not generates and args.max_length is not None:
        parser.error("--max-length is the generation length of a CausalLM / Seq2SeqLM; an encoder task takes "
                     "--sequence-length")
    if generates:
        max_length = args.max_length or model.backbone.max_sequence_length
        if max_length is None:
            parser.error("this model has no position limit (T5): pass --max-length")
        report = export_tflite(model, path, quantize=quantize, max_length=max_length)
        printable = {key: getattr(report, key) for key in ("path", "size_bytes", "custom_ops", "metadata")}
        printable["signatures"] = sorted(report.signatures)
        printable["greedy_check"] = report.greedy_check
        print(json.dumps(printable, indent=2, default=str))
        return 0
    report = export_tflite(model, path, quantize=quantize, max_sequence_length=args.sequence_length)
    print(report.summary())
    return 0


# --- generate, predict -----------------------------------------------------------------------------
def _first_line(error):
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _load(path, parser):
    """(kind, object): ("keras", the loaded model) or ("tflite", a LiteRunner); parser.error otherwise."""
    if not os.path.isfile(path):
        parser.error(f"--model: no file at {path!r}")
    if path.endswith(".keras"):
        from kerasnlp_lite.saving import load_model

        try:
            return "keras", load_model(path)
        except Exception as error:  # a damaged file or a class this library does not know
            parser.error(f"--model: cannot load {path!r} as a Keras model: {_first_line(error)}")
    if path.endswith(".tflite"):
        from kerasnlp_lite.export.runner import LiteRunner

        try:
            return "tflite", LiteRunner(path)
        except Exception as error:  # Flex ops, or not a TFLite flatbuffer
            parser.error(f"--model: cannot load {path!r} as a TFLite model: {_first_line(error)}")
    parser.error(f"--model must be a .keras or .tflite file, got {path!r}")


def _sampler_arguments(args):
    """The sampler's keyword arguments from the flags given (the sampler checks they fit)."""
    given = {"k": args.k, "p": args.p, "temperature": args.temperature, "num_beams": args.num_beams}
    return {name: value for name, value in given.items() if value is not None}


def _keras_tokenizer_or_error(model, path, parser):
    preprocessor = getattr(model, "preprocessor", None)
    tokenizer = getattr(preprocessor, "tokenizer", preprocessor)
    if not hasattr(tokenizer, "tokenize") or not hasattr(tokenizer, "detokenize"):
        parser.error(
            f"--model: {path!r} holds a {type(model).__name__} without a tokenizer (no preprocessor), so it cannot "
            "take text: rebuild it with `preprocessor=` and save it again (models from `kerasnlp-lite train` have one)"
        )
    return tokenizer


def generate(args, parser):
    """`kerasnlp-lite generate`: texts from a .keras CausalLM / Seq2SeqLM or an exported .tflite file."""
    if args.max_length is not None and args.max_length < 2:
        parser.error("--max-length must be >= 2 (a prompt token and a generated one)")
    if args.seed is not None and not 0 <= args.seed < 2**31:
        parser.error("--seed must be in [0, 2**31)")
    kind, model = _load(args.model, parser)
    try:
        if kind == "keras":
            texts = _generate_keras(model, args, parser)
        else:
            texts = _generate_lite(model, args, parser)
    except (ValueError, TypeError) as error:  # the prompt or flags do not fit the model: say which
        parser.error(_first_line(error))
    for prompt, text in zip(args.prompts, texts):
        print(json.dumps({"prompt": prompt, "text": text}) if args.json else text)
    return 0


def _generate_keras(model, args, parser):
    from kerasnlp_lite.models import CausalLM, Seq2SeqLM

    if not isinstance(model, (CausalLM, Seq2SeqLM)):
        parser.error(
            f"--model: {args.model!r} holds a {type(model).__name__}; generate needs a CausalLM or a Seq2SeqLM "
            "(use `kerasnlp-lite predict` for classifiers and embedders)"
        )
    _keras_tokenizer_or_error(model, args.model, parser)
    max_length = args.max_length or model.backbone.max_sequence_length
    if max_length is None:
        parser.error("this model has no position limit (T5): pass --max-length")
    kwargs = _sampler_arguments(args)
    if isinstance(model, CausalLM):
        end = getattr(model.preprocessor, "end_token_id", None)
        kwargs["stop_token_ids"] = None if end is None else [end]
    return model.generate(list(args.prompts), max_length=max_length, sampler=args.sampler, seed=args.seed, **kwargs)


def _generate_lite(runner, args, parser):
    import numpy as np

    signatures = runner.signatures
    if PREFILL not in signatures and "encoder_token_ids" not in signatures.get(GENERATE, {}).get("inputs", {}):
        parser.error(
            f"--model: {args.model!r} is not a generation export (its signatures: {sorted(signatures)}); generate "
            "takes a .tflite written by `kerasnlp-lite export` from a CausalLM or Seq2SeqLM"
        )
    if TOKENIZE not in signatures or DETOKENIZE not in signatures:
        parser.error(
            f"--model: {args.model!r} has no tokenize/detokenize signatures (it was exported without a tokenizer), so "
            "it cannot take text: export a model that has a preprocessor"
        )
    if args.sampler not in LITE_SAMPLERS:
        parser.error(f"--sampler {args.sampler} is not in the .tflite generate loop: use {' or '.join(LITE_SAMPLERS)}")
    unused = sorted(set(_sampler_arguments(args)) - ({"k", "temperature"} if args.sampler == "top_k" else set()))
    if unused:
        parser.error(f"--sampler {args.sampler} takes no {', '.join(_flag(name) for name in unused)}")
    top_k = (DEFAULT_TOP_K if args.k is None else args.k) if args.sampler == "top_k" else 1
    temperature = 1.0 if args.temperature is None else args.temperature
    seed = int(np.random.randint(0, 2**31 - 1)) if args.seed is None else args.seed
    metadata = runner.metadata
    end = metadata.get("end_token_id")
    stops = [] if end is None else [int(end)]
    texts = []
    if PREFILL in signatures:  # CausalLM: prompt + continuation
        max_length = args.max_length or runner.max_length
        start = metadata.get("start_token_id")  # as CausalLMPreprocessor.prompt_ids, when the file records one
        prefix = [] if start is None else [int(start)]
        sampler = {"sampler": "top_k", "k": top_k} if args.sampler == "top_k" else {"sampler": "greedy"}
        for prompt in args.prompts:
            ids = prefix + runner.tokenize(prompt).tolist()
            if max_length - len(ids) < 1:
                raise ValueError(f"The prompt {prompt!r} ({len(ids)} tokens) leaves no room below --max-length "
                                 f"{max_length}.")
            ids = runner.generate(ids, max_length - len(ids), temperature=temperature, seed=seed,
                                  stop_token_ids=stops, **sampler)
            texts.append(runner.detokenize([t for t in ids.tolist() if t not in set(stops + prefix)]))
        return texts
    from kerasnlp_lite.export.seq2seq import run_seq2seq_generate

    exported = int(metadata["max_length"])
    max_length = args.max_length or exported
    if max_length > exported:
        raise ValueError(f"--max-length {max_length} exceeds the exported max_length={exported}.")
    start = metadata.get("encoder_start_token_id")
    for source in args.prompts:  # Seq2SeqLM: [start] source [end], as Seq2SeqPreprocessor frames it
        ids = ([] if start is None else [int(start)]) + runner.tokenize(source).tolist() + [int(end)]
        # The decoder start token counts in max_length.
        output = run_seq2seq_generate(runner, ids, max_length - 1, stop_token_ids=stops, top_k=top_k,
                                      temperature=temperature, seed=seed)
        # As Seq2SeqLM.generate on strings: the start and stop tokens are not text.
        skip = set(stops) | {int(metadata["decoder_start_token_id"])}
        texts.append(runner.detokenize([t for t in output.tolist() if t not in skip]))
    return texts


def predict(args, parser):
    """`kerasnlp-lite predict`: class probabilities (and argmax) or embeddings of texts."""
    import numpy as np

    kind, model = _load(args.model, parser)
    texts = list(args.texts)
    try:
        if kind == "keras":
            from kerasnlp_lite.models import TextClassifier, TextEmbedder

            if not isinstance(model, (TextClassifier, TextEmbedder)):
                parser.error(
                    f"--model: {args.model!r} holds a {type(model).__name__}; predict needs a TextClassifier or a "
                    "TextEmbedder (use `kerasnlp-lite generate` for language models)"
                )
            _keras_tokenizer_or_error(model, args.model, parser)
            outputs = np.asarray(model.predict(texts, verbose=0))
            is_classifier = isinstance(model, TextClassifier)
        else:
            signatures = model.signatures
            if "classify" in signatures:
                outputs, is_classifier = model.classify(texts), True
            elif "embed" in signatures:
                outputs, is_classifier = model.embed(texts), False
            else:
                parser.error(
                    f"--model: {args.model!r} has no string-in signature ('classify' or 'embed'; it has "
                    f"{sorted(signatures)}): export a TextClassifier or TextEmbedder that has a preprocessor"
                )
    except (ValueError, TypeError) as error:
        parser.error(_first_line(error))
    for text, row in zip(texts, np.asarray(outputs, "float64")):
        if is_classifier:
            probabilities = np.exp(row - row.max())
            probabilities /= probabilities.sum()
            probabilities = [round(p, 6) for p in probabilities.tolist()]
            result = {"text": text, "label": int(np.argmax(row)), "probabilities": probabilities}
        else:
            result = {"text": text, "embedding": [round(v, 6) for v in row.tolist()]}
        print(json.dumps(result))
    return 0


# --- main --------------------------------------------------------------------------------------------
def main(argv=None):
    _quiet_tensorflow()
    parser, parsers = build_parser()
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
            parsers["demo"].error("--steps must be >= 8")
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
        return export(args, parsers["export"])
    if args.command == "generate":
        return generate(args, parsers["generate"])
    if args.command == "predict":
        return predict(args, parsers["predict"])
    if args.command == "train":
        from kerasnlp_lite.training.cli import run_train

        return run_train(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
