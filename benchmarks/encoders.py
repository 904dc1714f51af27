"""Forward-pass speed of a MiniLM-sized BERT: kerasnlp_lite vs KerasHub vs Model Garden.

    python benchmarks/encoders.py [--rounds 5] [--batch 32] [--no-bf16] [--json out.json]

Shape: 6 layers, hidden 384, 12 heads, intermediate 1536, vocabulary 30522,
sequence length 128, batch 32, every token real (padding mask all ones).
Each model runs inside a `tf.function`, with `jit_compile` off and on, on
the same random inputs. Timing alternates: every round calls each
(model, dtype, jit) setting once, in an order rotated each round, so load
from other processes on a shared machine hits all sides alike; the median
of the rounds is reported with its spread (min, max), and so is the
process CPU time of each call (`cpu_ratio`): on a shared machine the wall
time mostly measures the other processes, the CPU time the work done.

Rows (ratio = our time / the anchor's, lower is better): float32 per jit
setting against each anchor; each side at its best jit setting (goal of
issue #19: <= 0.8x the faster anchor); our mixed_bfloat16 against the
faster anchor's float32 (goal <= 0.5x) and against KerasHub's own
mixed_bfloat16. Model Garden's encoder is tf-keras, whose bfloat16 policy
is process-global, so it has no bfloat16 row.

`TF_ENABLE_ONEDNN_OPTS` is set to 1 unless already set (see run_all.py):
a process setting shared by all sides. KerasHub and Model Garden are
reference implementations installed with the `test` extra, not library
dependencies.
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
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SHAPE = dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536)
SEQUENCE_LENGTH = 128
QUICK_SHAPE = dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64)
ANCHORS = ("keras_hub", "model_garden")


def _roofline():
    """benchmarks/roofline.py, loaded by path (this folder is off the import path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_benchmarks_roofline", os.path.join(_HERE, "roofline.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_models(shape, dtype="float32"):
    """`{name: fn(token_ids, segment_ids, padding_mask) -> sequence_output}`, random weights."""
    import keras_hub

    from kerasnlp_lite.models import BertBackbone

    ours = BertBackbone(**shape, max_sequence_length=512, dropout=0.0, dtype=dtype)
    hub = keras_hub.models.BertBackbone(**shape, max_sequence_length=512, dropout=0.0, dtype=dtype)

    def keras_inputs(token_ids, segment_ids, padding_mask):
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}

    models = {
        "kerasnlp_lite": lambda *a: ours(keras_inputs(*a), training=False)["sequence_output"],
        "keras_hub": lambda *a: hub(keras_inputs(*a), training=False)["sequence_output"],
    }
    if dtype == "float32":
        from official.nlp.modeling.networks import BertEncoderV2

        garden = BertEncoderV2(
            vocab_size=shape["vocabulary_size"], hidden_size=shape["hidden_dim"], num_layers=shape["num_layers"],
            num_attention_heads=shape["num_heads"], inner_dim=shape["intermediate_dim"], max_sequence_length=512,
            type_vocab_size=2, output_dropout=0.0, attention_dropout=0.0,
        )

        def garden_inputs(token_ids, segment_ids, padding_mask):
            return {"input_word_ids": token_ids, "input_type_ids": segment_ids, "input_mask": padding_mask}

        models["model_garden"] = lambda *a: garden(garden_inputs(*a), training=False)["sequence_output"]
    return models


def alternating_times(functions, inputs, rounds, warmup=2):
    """`{key: ([wall seconds], [process CPU seconds])}` per call: each round calls every function once,
    in an order rotated each round."""
    keys = list(functions)
    for key in keys:  # trace / compile, then warm up
        for _ in range(warmup):
            functions[key](*inputs).numpy()
    times = {key: ([], []) for key in keys}
    for r in range(rounds):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            start, cpu_start = time.perf_counter(), time.process_time()
            functions[key](*inputs).numpy()
            times[key][0].append(time.perf_counter() - start)
            times[key][1].append(time.process_time() - cpu_start)
    return times


def summary(seconds, cpu_seconds):
    # Process CPU time (all threads) is kept beside wall time: on a shared machine wall time
    # mostly measures the other processes, CPU time the work done.
    return {"median_ms": round(1000 * statistics.median(seconds), 2), "min_ms": round(1000 * min(seconds), 2),
            "max_ms": round(1000 * max(seconds), 2), "cpu_median_ms": round(1000 * statistics.median(cpu_seconds), 2),
            "cpu_min_ms": round(1000 * min(cpu_seconds), 2), "cpu_max_ms": round(1000 * max(cpu_seconds), 2),
            "n": len(seconds)}


def best(stats, name, dtype):
    """The faster jit setting of one model and dtype: (median ms, "jit=...")."""
    return min((stats[(name, dtype, jit)]["median_ms"], f"jit_compile={jit}") for jit in (False, True)
               if (name, dtype, jit) in stats)


def make_rows(stats, batch, bounds=None):
    """Rows of `ratio = ours / anchor` (time) from `{(model, dtype, jit): summary}`; with `bounds`
    (`{dtype: compute-bound ms}`), rows of each bound against its goal's time."""
    rows = []

    def row(name, ours, anchor, goal=None, **settings):
        rows.append({"name": name, "ours": ours, "anchor": anchor, "ratio": round(ours / anchor, 3), "unit": "ms",
                     "better": "lower", "goal": goal, "batch": batch, **settings})

    for jit in (False, True):
        for anchor in ANCHORS:
            ours, theirs = stats[("kerasnlp_lite", "float32", jit)], stats[(anchor, "float32", jit)]
            row(f"forward f32 jit={jit} vs {anchor}", ours["median_ms"], theirs["median_ms"],
                ours_spread_ms=[ours["min_ms"], ours["max_ms"]], anchor_spread_ms=[theirs["min_ms"], theirs["max_ms"]],
                ours_cpu_ms=ours["cpu_median_ms"], anchor_cpu_ms=theirs["cpu_median_ms"],
                cpu_ratio=round(ours["cpu_median_ms"] / theirs["cpu_median_ms"], 3))
    ours_f32, ours_setting = best(stats, "kerasnlp_lite", "float32")
    anchor_f32, anchor_setting, anchor = min(best(stats, a, "float32") + (a,) for a in ANCHORS)
    row("forward f32 best vs faster anchor", ours_f32, anchor_f32, goal=0.8,
        ours_setting=ours_setting, anchor_setting=f"{anchor} {anchor_setting}")
    if ("kerasnlp_lite", "mixed_bfloat16", False) in stats:
        ours_bf16, bf16_setting = best(stats, "kerasnlp_lite", "mixed_bfloat16")
        row("forward bf16 best vs faster anchor f32", ours_bf16, anchor_f32, goal=0.5,
            ours_setting=f"mixed_bfloat16 {bf16_setting}", anchor_setting=f"{anchor} float32 {anchor_setting}")
        hub_bf16, hub_setting = best(stats, "keras_hub", "mixed_bfloat16")
        row("forward bf16 best vs keras_hub bf16", ours_bf16, hub_bf16,
            ours_setting=f"mixed_bfloat16 {bf16_setting}", anchor_setting=f"keras_hub mixed_bfloat16 {hub_setting}")
    for dtype, goal in (("float32", 0.8), ("mixed_bfloat16", 0.5)):
        if bounds and dtype in bounds:
            # Under 1: the goal's time is above the compute bound (reachable in principle); over 1: below it.
            row(f"forward {dtype}: compute bound vs the goal's time ({goal}x the faster anchor f32)",
                round(bounds[dtype]["ms"], 2), round(goal * anchor_f32, 2), gflops=bounds[dtype]["gflops"],
                matmul_rate_gflops_per_s=bounds[dtype]["rate"])
    return rows


def compute_bounds(shape, length, batch, dtypes):
    """`{dtype: {"ms", "gflops", "rate"}}`: the blocks' matmul FLOPs at the best rate of a feed-forward-shaped
    matmul in that dtype (benchmarks/roofline.py)."""
    roofline = _roofline()
    flops = roofline.transformer_matmul_flops(shape["num_layers"], shape["hidden_dim"], shape["intermediate_dim"],
                                              length, batch * length)
    bounds = {}
    for dtype in dtypes:
        compute = "bfloat16" if dtype == "mixed_bfloat16" else dtype
        rate = roofline.matmul_gflops(batch * length, shape["hidden_dim"], shape["intermediate_dim"], compute)
        bounds[dtype] = {"ms": 1000 * flops / (rate * 1e9), "gflops": round(flops / 1e9, 1), "rate": round(rate, 1)}
    return bounds


def run(quick=False, rounds=None, batch=None, bf16=True):
    """Times every (model, dtype, jit) setting in alternating rounds; returns `{"rows": [...], ...}`.

    Args:
        quick: tiny shapes (2 layers, hidden 32, sequence 16, batch 2) and 2 rounds: a smoke run.
        rounds: timed rounds (default 5, quick 2).
        batch: batch size (default 32, quick 2).
        bf16: also time the mixed_bfloat16 models.
    """
    import keras

    shape, length = (QUICK_SHAPE, 16) if quick else (SHAPE, SEQUENCE_LENGTH)
    batch = batch or (2 if quick else 32)
    rounds = rounds or (2 if quick else 5)
    keras.utils.set_random_seed(0)
    functions = {}
    for dtype in ("float32", "mixed_bfloat16") if bf16 else ("float32",):
        for name, fn in build_models(shape, dtype).items():
            for jit in (False, True):
                functions[(name, dtype, jit)] = tf.function(fn, jit_compile=jit)
    rng = np.random.default_rng(0)
    token_ids = tf.constant(rng.integers(1, shape["vocabulary_size"], (batch, length)), tf.int32)
    inputs = (token_ids, tf.zeros_like(token_ids), tf.ones_like(token_ids))
    load_before = os.getloadavg()
    times = alternating_times(functions, inputs, rounds)
    stats = {key: summary(*seconds) for key, seconds in times.items()}
    bounds = compute_bounds(shape, length, batch, ("float32", "mixed_bfloat16") if bf16 else ("float32",))
    return {
        "rows": make_rows(stats, batch, bounds),
        "settings": {"shape": shape, "sequence_length": length, "batch": batch, "rounds": rounds,
                     "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                     "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "timings": [{"model": m, "dtype": d, "jit_compile": j, **s} for (m, d, j), s in stats.items()],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, rounds=args.rounds, batch=args.batch, bf16=not args.no_bf16)
    for timing in result["timings"]:
        print(json.dumps(timing))
    for row in result["rows"]:
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
