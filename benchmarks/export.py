"""On-device cost of exported models: kerasnlp_lite vs KerasHub's LiteRT export, one run.

    python benchmarks/export.py [--runs 20] [--out DIR] [--skip-decode]

Encoder: a MiniLM-shaped BERT (6 layers, hidden 384, 12 heads, intermediate
1536, vocabulary 30522), batch 1, sequence length 128, random weights, float32
and dynamic-range int8. Ours goes through `kerasnlp_lite.export.export_tflite`;
KerasHub's `BertBackbone` through `model.export(format="litert")` (with
`optimizations=[tf.lite.Optimize.DEFAULT]` for int8). Every conversion runs
in its own child process (the converter leaks memory). Each file is then run
with the `ai_edge_litert` interpreter on 1 thread: the median latency of
`--runs` calls after warm-up, the file size, and the ratios KerasHub / ours
(> 1: ours is faster or smaller).

Decode: a tiny GPT exported with the KV cache (`export_causal_lm`); the
per-token cost of a `decode` step at several prompt lengths, against
recomputing the whole prefix with the exported full forward pass (what an
export without a cache must do). With the cache the cost is flat in the
prompt length.

KerasHub is a reference implementation installed with the `test` extra; it is
not a dependency of the library.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# benchmarks/tokenizers.py would shadow the `tokenizers` package that
# keras_hub imports: take this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHAPE = dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536)
SEQUENCE_LENGTH = 128
INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


def _convert_child(kind, quantize, path):
    """Runs in a child process: builds one model and writes its .tflite file."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    if kind == "ours":
        from kerasnlp_lite.export import export_tflite
        from kerasnlp_lite.models import BertBackbone

        model = BertBackbone(**SHAPE, max_sequence_length=512, dropout=0.0)
        export_tflite(model, path, quantize=quantize, max_sequence_length=SEQUENCE_LENGTH)
    else:
        import keras_hub

        model = keras_hub.models.BertBackbone(**SHAPE, max_sequence_length=512, dropout=0.0)
        signature = {name: tf.TensorSpec([1, SEQUENCE_LENGTH], tf.int32, name=name) for name in INPUT_NAMES}
        kwargs = {"optimizations": [tf.lite.Optimize.DEFAULT]} if quantize == "dynamic_int8" else {}
        model.export(path, format="litert", input_signature=[signature], verbose=False, **kwargs)


def _time(runner, inputs, runs):
    for _ in range(3):
        runner(**inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(**inputs)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def encoder_benchmark(out_dir, runs):
    import numpy as np

    from kerasnlp_lite.export.tflite import make_interpreter

    rng = np.random.default_rng(0)
    mask = np.ones((1, SEQUENCE_LENGTH), "int32")
    data = {
        "token_ids": rng.integers(1, SHAPE["vocabulary_size"], (1, SEQUENCE_LENGTH)).astype("int32"),
        "segment_ids": np.zeros((1, SEQUENCE_LENGTH), "int32"),
        "padding_mask": mask,
    }
    results = {}
    for quantize in ("float32", "dynamic_int8"):
        for kind in ("ours", "keras_hub"):
            path = os.path.join(out_dir, f"{kind}_{quantize}.tflite")
            command = [sys.executable, os.path.abspath(__file__), "--child", kind, quantize, path]
            subprocess.run(command, check=True, timeout=1200)
            interpreter = make_interpreter(model_path=path, num_threads=1)
            signature = next(iter(interpreter.get_signature_list()))
            runner = interpreter.get_signature_runner(signature)
            names = runner.get_input_details()
            # KerasHub's LiteRT signature may rename inputs (e.g. a prefix); match by suffix.
            inputs = {name: data[next(n for n in INPUT_NAMES if name.endswith(n))] for name in names}
            results[f"{kind}_{quantize}"] = {
                "latency_ms": round(_time(runner, inputs, runs), 2),
                "size_mb": round(os.path.getsize(path) / 2**20, 2),
            }
    ratios = {}
    for quantize in ("float32", "dynamic_int8"):
        ours, hub = results[f"ours_{quantize}"], results[f"keras_hub_{quantize}"]
        ratios[quantize] = {
            "latency_keras_hub_over_ours": round(hub["latency_ms"] / ours["latency_ms"], 3),
            "size_keras_hub_over_ours": round(hub["size_mb"] / ours["size_mb"], 3),
        }
    return {"models": results, "ratios": ratios}


def decode_benchmark(out_dir, runs, prompt_lengths=(8, 32, 64, 112)):
    """Per-token decode cost with the cache vs recomputing the prefix, exported GPT."""
    import keras
    import numpy as np

    from kerasnlp_lite.export import LiteRunner, export_causal_lm, export_tflite
    from kerasnlp_lite.export.latency import decode_latency_ms
    from kerasnlp_lite.export.tflite import make_interpreter
    from kerasnlp_lite.models import CausalLM, GPTBackbone

    keras.utils.set_random_seed(0)
    max_length = 128
    gpt = dict(vocabulary_size=8000, num_layers=6, num_heads=6, hidden_dim=384, intermediate_dim=1536)
    lm = CausalLM(GPTBackbone(**gpt, max_sequence_length=max_length, dropout=0.0))
    cached_path = os.path.join(out_dir, "gpt_cached.tflite")
    export_causal_lm(lm, cached_path, max_length=max_length, generate_signature=False, check=False)
    runner = LiteRunner(cached_path)
    # Without a cache: the full forward pass over a fixed [1, max_length] window, its logits read at the
    # last real position (what an export of the forward pass alone gives an app).
    full_path = os.path.join(out_dir, "gpt_full.tflite")
    export_tflite(lm.backbone, full_path, max_sequence_length=max_length)
    full = make_interpreter(model_path=full_path, num_threads=1)
    full_runner = full.get_signature_runner(next(iter(full.get_signature_list())))
    rng = np.random.default_rng(0)
    rows = {}
    for length in prompt_lengths:
        prompt = rng.integers(1, gpt["vocabulary_size"], length).tolist()
        cached_ms = decode_latency_ms(runner, prompt, steps=min(runs, max_length - length - 2))
        ids = np.zeros((1, max_length), "int32")
        ids[0, :length] = prompt
        mask = (np.arange(max_length)[None] < length).astype("int32")
        recompute_ms = _time(full_runner, {"token_ids": ids, "padding_mask": mask}, runs)
        rows[length] = {"cached_ms_per_token": round(cached_ms, 2), "recompute_ms_per_token": round(recompute_ms, 2)}
    lengths = list(rows)
    flatness = rows[lengths[-1]]["cached_ms_per_token"] / rows[lengths[0]]["cached_ms_per_token"]
    return {"per_token": rows, "cached_last_over_first_prompt_length": round(flatness, 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", default=None, help="folder for the .tflite files (default: a temporary one)")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "QUANTIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, quantize, path = args.child
        _convert_child(kind, None if quantize == "float32" else quantize, path)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or tmp
        os.makedirs(out_dir, exist_ok=True)
        report = {"encoder": encoder_benchmark(out_dir, args.runs)}
        print(json.dumps(report, indent=2), flush=True)
        if not args.skip_decode:
            report["decode"] = decode_benchmark(out_dir, args.runs)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
