"""Greedy generation speed of a GPT-2-small-shaped model: kerasnlp_lite (cache, no cache) vs KerasHub, one run.

    python benchmarks/generation.py [--new-tokens 128] [--prompt-length 32] [--repeats 3]

Shape: GPT-2 small (12 layers, hidden 768, 12 heads, intermediate 3072,
vocabulary 50257), random weights, batch 1, a `--prompt-length` token prompt
and `--new-tokens` generated tokens (no stop token, so every run generates
them all). Timed after a warm-up call that traces/compiles the loop; the
median of `--repeats` calls (the uncached path: one call, it is slow) is
reported as new tokens per second, prefill included. Ratios are ours
divided by KerasHub's `GPT2CausalLM.generate` (greedy, its default XLA
compilation): > 1 means kerasnlp_lite is faster. KerasHub is a reference
implementation installed with the `test` extra, not a library dependency.
"""

import argparse
import json
import os
import statistics
import sys
import time

# benchmarks/tokenizers.py would shadow the `tokenizers` package that
# keras_hub imports: take this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

SHAPE = dict(vocabulary_size=50257, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072)


def timed(function, repeats):
    function()  # warm-up: trace and compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-uncached", action="store_true")
    args = parser.parse_args()

    import keras_hub

    from kerasnlp_lite.models import CausalLM, GPTBackbone

    max_length = args.prompt_length + args.new_tokens
    keras.utils.set_random_seed(0)
    ours = CausalLM(GPTBackbone(**SHAPE, max_sequence_length=1024, dropout=0.0))
    theirs = keras_hub.models.GPT2CausalLM(
        keras_hub.models.GPT2Backbone(**SHAPE, max_sequence_length=1024, dropout=0.0), preprocessor=None
    )
    theirs.compile(sampler="greedy")
    prompt = np.random.default_rng(0).integers(0, SHAPE["vocabulary_size"], (1, args.prompt_length)).astype("int32")
    # KerasHub without a preprocessor takes the padded buffer; its length is max_length.
    padded = np.zeros((1, max_length), "int32")
    padded[:, : args.prompt_length] = prompt
    mask = np.zeros((1, max_length), bool)
    mask[:, : args.prompt_length] = True

    runs = {
        "kerasnlp_lite cache, jit": lambda: ours.generate(prompt, max_length, jit_compile=True),
        "kerasnlp_lite cache, no jit": lambda: ours.generate(prompt, max_length),
        "keras_hub GPT2CausalLM.generate": lambda: theirs.generate(
            {"token_ids": padded, "padding_mask": mask}, stop_token_ids=None
        ),
    }
    if not args.skip_uncached:
        runs["kerasnlp_lite no cache (recompute prefix)"] = lambda: ours.generate(prompt, max_length, use_cache=False)

    # Same weights would need a transfer; instead check each produces full-length output.
    results = {}
    for name, function in runs.items():
        repeats = 1 if "no cache" in name else args.repeats
        seconds = timed(function, repeats)
        results[name] = {"seconds": round(seconds, 3), "tokens_per_second": round(args.new_tokens / seconds, 2)}
        print(f"{name:45s} {seconds:8.3f} s  {args.new_tokens / seconds:8.2f} tokens/s", flush=True)
    reference = results["keras_hub GPT2CausalLM.generate"]["seconds"]
    print("\nspeed relative to KerasHub (> 1: faster):")
    for name, result in results.items():
        result["ratio_vs_keras_hub"] = round(reference / result["seconds"], 2)
        print(f"  {name:45s} {result['ratio_vs_keras_hub']:6.2f}x")
    print(json.dumps({"new_tokens": args.new_tokens, "prompt_length": args.prompt_length, "results": results}))


if __name__ == "__main__":
    main()
