"""On-device decode at the GPT-2-small shape, 1 thread: where a decode step's time goes, and tokens/s per path.

The model: `GPTBackbone.from_preset("gpt2_small")` (12 x 768, 12 heads, vocabulary 50257, 124M
parameters, random weights), max_length 256, exported with `export_causal_lm` (no tokenizer). Every row
uses the same file, the same prompt, 1 interpreter thread; each timing is repeated and reported as
min / median / max (the machine may be shared; the rows use medians, prefill its minimum).

Per file (float32, dynamic int8, `int4` (what `export_causal_lm(..., quantize="int4")` writes with Google's
litert-quantizer: int4 feed-forward, int8 attention and logits), `int4_attention_int4` (attention int4 too;
both recipes of benchmarks/on_device_quality.py), and any extra files given with --extra NAME=PATH):

- `generate_tokens_per_s`: the in-graph loop, (generate(P + 2n) - generate(P + n)) / n tokens.
- `stepwise_tokens_per_s`: the step of `LiteRunner.generate(..., use_generate_signature=False)`:
  `CompiledDecoder` (export/bound_decoder.py: LiteRT's CompiledModel with each cache one buffer bound as
  decode's input and output, so DYNAMIC_UPDATE_SLICE writes one slot in place), per call (`compiled_step_ms`);
  `bound_step_ms` is `BoundDecoder`'s (caches in the interpreter's input tensors, one slot copied back).
- the decode-step breakdown (ms): `invoke` (the decode subgraph alone, caches already in place),
  `set_caches` (copying all caches into the interpreter), `get_caches` (copying them out),
  `check_inputs` (LiteRunner's dtype/shape check of the caches, an `astype` copy each), and
  `copying_step` (one `LiteRunner.run("decode", ...)` with the caches fed back: today's copying loop).
- `prefill_128_ms`: one `prefill` of a 128-token prompt.
- `decode_bytes`: what one `decode` call reads (its constant weights, one row of a GATHER table, every
  cache whole) and `floor_tokens_per_s`: those bytes at the best single-thread read bandwidth seen here
  (numpy, or the float32 file's own decode): the bandwidth bound, the speed no kernel reading each weight
  once per token beats.

Run from the repository root (conversions of the 124M model take minutes; pass --cache-dir to keep them):

    python benchmarks/on_device_decode.py --cache-dir /tmp/gpt2_small --json on_device_decode.json
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

MAX_LENGTH = 256
PROMPT_LENGTH = 16


def export_gpt2_small(path, quantize):
    """Exports the random-weight GPT-2-small `CausalLM` (seed 0) once; returns the path."""
    if os.path.exists(path):
        return path
    import keras

    from kerasnlp_lite.export import export_causal_lm
    from kerasnlp_lite.models import CausalLM, GPTBackbone

    keras.utils.set_random_seed(0)
    backbone = GPTBackbone.from_preset("gpt2_small", max_sequence_length=MAX_LENGTH, dropout=0.0)
    export_causal_lm(CausalLM(backbone), path, MAX_LENGTH, tokenizer=False, quantize=quantize, check=False)
    return path


def _summary(values):
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def _per_token_ms(generate, prompt, new_tokens, repeats):
    """ms per generated token, prefill excluded: the difference of two generation lengths (1 and 1 + n tokens).

    Each length is timed `repeats` times and the minimum kept: on a shared machine other processes only
    add time, so the minimum is the least disturbed run (the medians are reported beside it).
    """
    times = {1: [], 1 + new_tokens: []}
    for _ in range(repeats):
        for length in times:
            start = time.perf_counter()
            generate(prompt, length)
            times[length].append(time.perf_counter() - start)
    short, long = times[1], times[1 + new_tokens]
    return {"min": 1000 * (min(long) - min(short)) / new_tokens,
            "median": 1000 * (statistics.median(long) - statistics.median(short)) / new_tokens}


def step_ms(decoder, prompt, steps):
    """Per-call ms of `decoder.decode` after one `prefill` of `prompt`: a `BoundDecoder` (caches in the
    interpreter's input tensors, one slot copied back) or a `CompiledDecoder` (LiteRT's CompiledModel, caches
    in buffers bound as decode's input and output: updated in place; what `LiteRunner`'s step-wise loop runs)."""
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, : len(prompt)] = prompt
    logits, times = decoder.prefill(padded, np.array([len(prompt)], np.int32)), []
    for step in range(steps):
        start = time.perf_counter()
        logits = decoder.decode(int(np.argmax(logits)), len(prompt) + step)
        times.append(1000 * (time.perf_counter() - start))
    return times


def step_breakdown(interpreter, num_layers, prompt, steps):
    """Median ms of the parts of one decode step, driven through the interpreter wrapper directly."""
    from kerasnlp_lite.export.format import DECODE, cache_names

    wrapper = interpreter._interpreter  # the calls SignatureRunner makes, timed one by one
    signature = interpreter._get_full_signature_list()[DECODE]
    graph = wrapper.GetSubgraphIndexFromSignature(DECODE)
    wrapper.AllocateTensors(graph)
    names = cache_names(num_layers)
    shape = wrapper.tensor(wrapper, signature["inputs"][names[0]], graph).shape
    caches = {name: np.zeros(shape, np.float32) for name in names}
    parts = {"set_caches": [], "invoke": [], "get_caches": [], "check_inputs": []}
    for step in range(steps):
        start = time.perf_counter()
        # as LiteRunner's input check does: an astype copy of each cache
        checked = {name: np.asarray(value).astype(np.float32) for name, value in caches.items()}
        parts["check_inputs"].append(time.perf_counter() - start)
        start = time.perf_counter()
        for name in names:
            wrapper.SetTensor(signature["inputs"][name], checked[name], graph)
        parts["set_caches"].append(time.perf_counter() - start)
        wrapper.SetTensor(signature["inputs"]["token_id"], np.array([[7]], np.int32), graph)
        wrapper.SetTensor(signature["inputs"]["cache_index"], np.array([len(prompt) + step], np.int32), graph)
        start = time.perf_counter()
        wrapper.Invoke(graph)
        parts["invoke"].append(time.perf_counter() - start)
        start = time.perf_counter()
        caches = {name: wrapper.GetTensor(signature["outputs"][name], graph) for name in names}
        parts["get_caches"].append(time.perf_counter() - start)
    return {key: 1000 * statistics.median(values) for key, values in parts.items()}


def copying_step_ms(runner, num_layers, prompt, steps):
    """Median ms of `LiteRunner.run("decode", ...)` with the caches fed back through Python (the old loop)."""
    from kerasnlp_lite.export.format import DECODE, PREFILL, cache_names

    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, : len(prompt)] = prompt
    out = runner.run(PREFILL, token_ids=padded, length=np.array([len(prompt)], np.int32))
    names, times = cache_names(num_layers), []
    for step in range(steps):
        token = int(np.argmax(out["logits"][0]))
        start = time.perf_counter()
        out = runner.run(
            DECODE, token_id=np.array([[token]], np.int32), cache_index=np.array([len(prompt) + step], np.int32),
            **{name: out[name] for name in names},
        )
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def prefill_ms(runner, length):
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, :length] = np.arange(1, length + 1)
    start = time.perf_counter()
    runner.run("prefill", token_ids=padded, length=np.array([length], np.int32))
    return 1000 * (time.perf_counter() - start)


def measure_file(path, repeats, new_tokens, num_layers=12):
    """All timings of one file (see module docstring); each a {median, min, max} over `repeats`."""
    from kerasnlp_lite.export.bound_decoder import BoundDecoder, CompiledDecoder
    from kerasnlp_lite.export.format import cache_names
    from kerasnlp_lite.export.latency import decode_bytes_per_token
    from kerasnlp_lite.export.runner import LiteRunner
    from kerasnlp_lite.export.tflite import make_interpreter

    runner = LiteRunner(path, num_threads=1)
    prompt = list(range(1, PROMPT_LENGTH + 1))
    runner.generate(prompt, 2)  # warm up both paths
    runner.generate(prompt, 2, use_generate_signature=False)
    with open(path, "rb") as f:
        content = f.read()
    interpreter = make_interpreter(model_content=content, num_threads=1)
    rows = {key: [] for key in ("copying_step_ms", "prefill_128_ms", "invoke", "set_caches", "get_caches",
                                "check_inputs", "bound_step_ms", "compiled_step_ms")}
    generate = _per_token_ms(runner.generate, prompt, new_tokens, repeats)
    stepwise = _per_token_ms(lambda p, n: runner.generate(p, n, use_generate_signature=False), prompt, new_tokens,
                             repeats)
    for _ in range(repeats):
        rows["copying_step_ms"].append(copying_step_ms(runner, num_layers, prompt, new_tokens))
        rows["bound_step_ms"].append(statistics.median(step_ms(
            BoundDecoder(interpreter, cache_names(num_layers), MAX_LENGTH), prompt, new_tokens)))
        rows["compiled_step_ms"].append(statistics.median(step_ms(
            CompiledDecoder(content, cache_names(num_layers), MAX_LENGTH, num_threads=1), prompt, new_tokens)))
        rows["prefill_128_ms"].append(prefill_ms(runner, 128))
        for key, value in step_breakdown(interpreter, num_layers, prompt, new_tokens).items():
            rows[key].append(value)
    result = {key: _summary(values) for key, values in rows.items()}
    result["generate_ms"] = {key: round(value, 3) for key, value in generate.items()}
    result["stepwise_ms"] = {key: round(value, 3) for key, value in stepwise.items()}
    result["size_mb"] = round(os.path.getsize(path) / 2**20, 1)
    result["generate_tokens_per_s"] = round(1000 / result["generate_ms"]["median"], 1)
    result["stepwise_tokens_per_s"] = round(1000 / result["compiled_step_ms"]["median"], 1)
    result["step_decoder"] = runner.step_decoder
    result["decode_bytes"] = decode_bytes_per_token(content)  # kerasnlp_lite.export.latency
    return result


# Issue #19's absolute goals for the in-graph loop, 1 thread (tokens/s), and for the step-wise loop (its step
# time within 1.2x of the in-graph loop's).
TOKENS_PER_S_GOALS = {"dynamic_int8": 130.0, "int4": 200.0, "int4_attention_int4": 200.0}
STEPWISE_GOAL = 1.2


def add_bandwidth_floors(results):
    """Adds `floor_tokens_per_s` per file: the bytes one decode step reads (`decode_bytes`) at the best read
    bandwidth seen on this machine, 1 thread: numpy's, or the float32 file's own decode (its bytes / its step
    time), whichever is higher. No kernel reading those bytes once per token can beat it."""
    achieved = [sum(r["decode_bytes"].values()) / (r["compiled_step_ms"]["median"] / 1000) / 1e9
                for name, r in results.items() if name == "float32"]
    from kerasnlp_lite.export.latency import read_bandwidth_gb_s

    bandwidth = max([read_bandwidth_gb_s()] + achieved)
    for r in results.values():
        r["bandwidth_gb_s"] = round(bandwidth, 2)
        r["floor_tokens_per_s"] = round(bandwidth * 1e9 / sum(r["decode_bytes"].values()), 1)


def rows_of(results):
    """{"rows": [...]} for benchmarks/run_all.py: name, ours, anchor, ratio, unit, goal, better.

    Tokens/s rows with an absolute goal use that goal as the anchor (`anchor_is_goal`): ratio >= 1 meets it.
    Rows without a goal or an anchor are informational (ratio None).
    """
    rows = []
    for name, r in results.items():
        goal = TOKENS_PER_S_GOALS.get(name)
        # The step-wise loop's step timed per call (robust to load); the in-graph loop only as a difference of
        # two lengths (medians: the minimum of a difference is not the least disturbed run).
        # The step-wise loop LiteRunner runs: CompiledDecoder (caches bound in place).
        generate, stepwise = r["generate_ms"]["median"], r["compiled_step_ms"]["median"]
        rows.append({"name": f"{name} step-wise decode vs in-graph generate", "ours": stepwise, "anchor": generate,
                     "ratio": round(stepwise / generate, 3), "unit": "ms/token", "goal": STEPWISE_GOAL,
                     "better": "lower"})
        rows.append({"name": f"{name} step-wise decode, caches bound in place vs kept in the interpreter",
                     "ours": stepwise, "anchor": r["bound_step_ms"]["median"],
                     "ratio": round(stepwise / r["bound_step_ms"]["median"], 3), "unit": "ms/token",
                     "better": "lower"})
        rows.append({"name": f"{name} step-wise decode tokens/s" + (f" vs goal {goal:.0f}" if goal else ""),
                     "ours": r["stepwise_tokens_per_s"], "anchor": goal, "anchor_is_goal": goal is not None,
                     "ratio": round(r["stepwise_tokens_per_s"] / goal, 3) if goal else None, "unit": "tokens/s",
                     "goal": 1.0 if goal else None, "better": "higher"})
        rows.append({"name": f"{name} step-wise decode vs copying loop", "ours": stepwise,
                     "anchor": r["copying_step_ms"]["median"],
                     "ratio": round(stepwise / r["copying_step_ms"]["median"], 3), "unit": "ms/token",
                     "better": "lower"})
        tokens_per_s = r["generate_tokens_per_s"]
        rows.append({"name": f"{name} in-graph generate tokens/s" + (f" vs goal {goal:.0f}" if goal else ""),
                     "ours": tokens_per_s, "anchor": goal, "anchor_is_goal": goal is not None,
                     "ratio": round(tokens_per_s / goal, 3) if goal else None, "unit": "tokens/s",
                     "goal": 1.0 if goal else None, "better": "higher"})
        if "floor_tokens_per_s" in r:
            floor = r["floor_tokens_per_s"]
            rows.append({"name": f"{name} bandwidth bound tokens/s" + (f" vs goal {goal:.0f}" if goal else ""),
                         "ours": floor, "anchor": goal, "anchor_is_goal": goal is not None,
                         "ratio": round(floor / goal, 3) if goal else None, "unit": "tokens/s", "better": "higher",
                         "bandwidth_gb_s": r["bandwidth_gb_s"]})
            rows.append({"name": f"{name} step-wise decode vs its bandwidth bound", "ours": r["stepwise_tokens_per_s"],
                         "anchor": floor, "ratio": round(r["stepwise_tokens_per_s"] / floor, 3), "unit": "tokens/s",
                         "better": "higher"})
            rows.append({"name": f"{name} bytes read per decode step", "ours": round(
                sum(r["decode_bytes"].values()) / 2**20, 1), "anchor": None, "ratio": None, "unit": "MB"})
        rows.append({"name": f"{name} prefill 128 tokens", "ours": r["prefill_128_ms"]["min"], "anchor": None,
                     "ratio": None, "unit": "ms"})
        rows.append({"name": f"{name} file size", "ours": r["size_mb"], "anchor": None, "ratio": None, "unit": "MB"})
        for part in ("invoke", "set_caches", "get_caches", "check_inputs"):
            rows.append({"name": f"{name} decode step: {part}", "ours": r[part]["median"], "anchor": None,
                         "ratio": None, "unit": "ms"})
    return rows


def quantize_int4(float_path, path, recipe):
    """A litert-quantizer int4 recipe of benchmarks/on_device_quality.py (imported by file: this folder is
    not a package), applied to the GPT-2-small float32 file; reuses `path` when present."""
    if os.path.exists(path):
        return path
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_on_device_quality", os.path.join(os.path.dirname(os.path.abspath(__file__)), "on_device_quality.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quantize_int4(float_path, path, recipe, num_layers=12)


def run(quick=False, cache_dir=None, extra=None, json_path=None):
    """Exports (or reuses) the files, measures them, writes JSON; returns {"rows": [...], "results": {...}}.

    Args:
        quick: dynamic int8 only, 1 repeat of 8 tokens (a smoke run; still one 124M conversion unless cached).
        cache_dir: folder for the exported files (default: `$KERASNLP_LITE_BENCHMARK_CACHE/on_device_decode`
            when that variable is set, else a temporary folder).
        extra: {name: path} of more files of the same model to measure (e.g. a litert-quantizer int4 file).
        json_path: where to write the JSON (default: on_device_decode.json in `cache_dir`).
    """
    import tempfile

    if cache_dir is None and os.environ.get("KERASNLP_LITE_BENCHMARK_CACHE"):
        # run_all passes only `quick`: this variable lets it reuse exported files between runs.
        cache_dir = os.path.join(os.environ["KERASNLP_LITE_BENCHMARK_CACHE"], "on_device_decode")
    cache_dir = cache_dir or tempfile.mkdtemp(prefix="on_device_decode_")
    os.makedirs(cache_dir, exist_ok=True)
    modes = {"dynamic_int8": "dynamic_int8"} if quick else {"float32": None, "dynamic_int8": "dynamic_int8"}
    files = {name: export_gpt2_small(os.path.join(cache_dir, f"gpt2_small_{name}.tflite"), mode)
             for name, mode in modes.items()}
    if not quick:
        # Google's litert-quantizer (test extra): export_causal_lm(..., quantize="int4")'s recipe, and the same
        # with int4 attention (their quality: benchmarks/on_device_quality.py).
        for recipe in ("int4", "int4_attention_int4"):
            files[recipe] = quantize_int4(
                files["float32"], os.path.join(cache_dir, f"gpt2_small_{recipe}.tflite"), recipe)
    files.update(extra or {})
    repeats, new_tokens = (1, 8) if quick else (5, 24)
    results = {name: measure_file(path, repeats, new_tokens) for name, path in files.items()}
    add_bandwidth_floors(results)
    out = {"shape": "gpt2_small (12 x 768, 12 heads, vocabulary 50257), random weights, max_length 256, 1 thread",
           "prompt_length": PROMPT_LENGTH, "repeats": repeats, "new_tokens": new_tokens,
           "results": results, "rows": rows_of(results)}
    with open(json_path or os.path.join(cache_dir, "on_device_decode.json"), "w") as f:
        json.dump(out, f, indent=2)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--extra", nargs="*", default=[], help="NAME=PATH of more .tflite files to measure")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.extra)
    print(json.dumps(run(args.quick, args.cache_dir, extra, args.json), indent=2))


if __name__ == "__main__":
    main()
