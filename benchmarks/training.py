"""Masked-LM training throughput: kerasnlp_lite BertPretrainer vs KerasHub BertMaskedLM.

    python benchmarks/training.py [--rounds 6] [--warmup 2] [--no-bf16] [--json out.json]

Both sides: MiniLM-sized BERT (6 layers, hidden 384, 12 heads,
feed-forward 1536, vocabulary 30522, dropout 0.1 as both libraries'
default), batch 32, sequence 128, 20 masked positions per sequence,
sparse cross-entropy from logits with a weight per masked position,
AdamW(1e-4), `train_on_batch` on the same batch; float32 with
`jit_compile` off and on, and mixed_bfloat16 (logits in float32 on both
sides) without jit. Every setting is compiled and warmed up first, then
each round runs one step of every setting in a rotated order, so the
load of a shared machine hits all sides alike. Tokens/s is
batch * sequence / the median step time; the spread (slowest and fastest
step) is kept, and so are tokens per process CPU-second (`cpu_ratio`),
the steadier measure on a shared machine. Ratios are ours / KerasHub (higher is better; goal of
issue #19: >= 1.2 at each side's best setting).

`TF_ENABLE_ONEDNN_OPTS` is set to 1 unless already set (see run_all.py).
"""

import argparse
import json
import os
import statistics
import sys
import time

# This folder holds a `tokenizers.py`, which would shadow the HF `tokenizers` package KerasHub imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

MINILM = dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536)
QUICK = dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64)


def make_batch(shape, batch, length, masked, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(2, shape["vocabulary_size"], (batch, length)).astype("int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
        "mask_positions": np.sort(
            rng.permuted(np.tile(np.arange(1, length - 1), (batch, 1)), axis=1)[:, :masked], 1
        ).astype("int32"),
    }
    y = rng.integers(2, shape["vocabulary_size"], (batch, masked)).astype("int32")
    return x, y, np.ones((batch, masked), "float32")


def ours(shape, dtype):
    from kerasnlp_lite.models import BertBackbone, BertPretrainer

    backbone = BertBackbone(max_sequence_length=512, dtype=dtype, **shape)
    return BertPretrainer(backbone, next_sentence=False), "mlm_logits"


def keras_hub_model(shape, dtype):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(max_sequence_length=512, dtype=dtype, **shape)
    return keras_hub.models.BertMaskedLM(backbone, preprocessor=None), None


def compiled_step(build, shape, dtype, jit, data):
    """A zero-argument function running one `train_on_batch` step of a freshly built, compiled model."""
    keras.utils.set_random_seed(0)
    model, output = build(shape, dtype)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4), loss={output: loss} if output else loss, jit_compile=jit)
    x, y, w = data
    if output:
        y, w = {output: y}, {output: w}
    return lambda: model.train_on_batch(x, y, sample_weight=w)


SETTINGS = [("float32", False), ("float32", True), ("mixed_bfloat16", False)]


def _roofline():
    """benchmarks/roofline.py, loaded by path (this folder is off the import path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_benchmarks_roofline", os.path.join(_HERE, "roofline.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compute_bound_tokens_per_s(shape, batch, length, masked):
    """Training tokens/s at the compute bound: 3x the blocks' forward matmul FLOPs (forward, and backward for
    inputs and weights) plus the MLM head's logits over the masked positions, at the best float32 rate of a
    feed-forward-shaped matmul (benchmarks/roofline.py). Returns (tokens/s, GFLOP per step, rate)."""
    roofline = _roofline()
    d, v = shape["hidden_dim"], shape["vocabulary_size"]
    forward = roofline.transformer_matmul_flops(shape["num_layers"], d, shape["intermediate_dim"], length,
                                                batch * length)
    head = 2 * batch * masked * (d * d + d * v)  # the head's dense transform and the tied logits
    flops = 3 * (forward + head)
    rate = roofline.matmul_gflops(batch * length, d, shape["intermediate_dim"])
    return batch * length / (flops / (rate * 1e9)), flops / 1e9, rate


def run(quick=False, rounds=None, warmup=None, bf16=True):
    """Tokens/s of every (model, dtype, jit) setting from alternating rounds; returns `{"rows": [...], ...}`.

    Args:
        quick: tiny model, batch 2, sequence 16, 2 rounds: a smoke run.
        rounds: timed steps per setting (default 6, quick 2).
        warmup: untimed steps per setting after compiling (default 2, quick 1).
        bf16: also time mixed_bfloat16 (without jit).
    """
    shape, batch, length, masked = (QUICK, 2, 16, 4) if quick else (MINILM, 32, 128, 20)
    rounds = rounds or (2 if quick else 6)
    warmup = warmup or (1 if quick else 2)
    data = make_batch(shape, batch, length, masked)
    steps = {}
    for dtype, jit in SETTINGS if bf16 else SETTINGS[:2]:
        for name, build in (("kerasnlp_lite", ours), ("keras_hub", keras_hub_model)):
            steps[(name, dtype, jit)] = compiled_step(build, shape, dtype, jit, data)
    keys = list(steps)
    for key in keys:
        for _ in range(warmup):
            steps[key]()
    load_before = os.getloadavg()
    times = {key: [] for key in keys}
    cpu_times = {key: [] for key in keys}
    for r in range(rounds):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            start, cpu_start = time.perf_counter(), time.process_time()
            steps[key]()
            times[key].append(time.perf_counter() - start)
            cpu_times[key].append(time.process_time() - cpu_start)
    tokens = batch * length
    # Tokens per CPU-second (all threads) beside tokens per wall second: on a shared machine the
    # wall time mostly measures the other processes.
    stats = {
        key: {"tokens_per_s": round(tokens / statistics.median(t), 1), "slowest": round(tokens / max(t), 1),
              "fastest": round(tokens / min(t), 1),
              "tokens_per_cpu_s": round(tokens / statistics.median(cpu_times[key]), 1), "n": len(t)}
        for key, t in times.items()
    }
    rows = []

    def row(name, ours_tps, anchor_tps, goal=None, **settings):
        rows.append({"name": name, "ours": ours_tps, "anchor": anchor_tps, "ratio": round(ours_tps / anchor_tps, 3),
                     "unit": "tokens/s", "better": "higher", "goal": goal, **settings})

    for dtype, jit in SETTINGS if bf16 else SETTINGS[:2]:
        mine, hub = stats[("kerasnlp_lite", dtype, jit)], stats[("keras_hub", dtype, jit)]
        row(f"MLM train {dtype} jit={jit} vs keras_hub", mine["tokens_per_s"], hub["tokens_per_s"],
            ours_spread=[mine["slowest"], mine["fastest"]], anchor_spread=[hub["slowest"], hub["fastest"]],
            ours_tokens_per_cpu_s=mine["tokens_per_cpu_s"], anchor_tokens_per_cpu_s=hub["tokens_per_cpu_s"],
            cpu_ratio=round(mine["tokens_per_cpu_s"] / hub["tokens_per_cpu_s"], 3))

    def best(name, dtype):
        return max((s["tokens_per_s"], f"{d} jit_compile={j}") for (m, d, j), s in stats.items() if m == name and d == dtype)

    ours_best, ours_setting = best("kerasnlp_lite", "float32")
    hub_best, hub_setting = best("keras_hub", "float32")
    row("MLM train f32 best vs keras_hub best", ours_best, hub_best, goal=1.2,
        ours_setting=ours_setting, anchor_setting=hub_setting)
    bound, gflops, rate = compute_bound_tokens_per_s(shape, batch, length, masked)
    # Over 1: the goal's speed is under the compute bound (reachable in principle); under 1: above it.
    row("MLM train f32: compute bound vs the goal's speed (1.2x keras_hub best)", round(bound, 1),
        round(1.2 * hub_best, 1), gflops_per_step=round(gflops, 1), matmul_rate_gflops_per_s=round(rate, 1))
    if bf16:
        bf16_tps = stats[("kerasnlp_lite", "mixed_bfloat16", False)]["tokens_per_s"]
        row("MLM train bf16 vs keras_hub f32 best", bf16_tps, hub_best,
            ours_setting="mixed_bfloat16 jit_compile=False", anchor_setting=hub_setting)
    return {
        "rows": rows,
        "settings": {"shape": shape, "batch": batch, "sequence_length": length, "masked_positions": masked,
                     "optimizer": "AdamW(1e-4)", "dropout": 0.1, "rounds": rounds, "warmup": warmup,
                     "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                     "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "timings": [{"model": m, "dtype": d, "jit_compile": j, **s} for (m, d, j), s in stats.items()],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, rounds=args.rounds, warmup=args.warmup, bf16=not args.no_bf16)
    for timing in result["timings"]:
        print(json.dumps(timing))
    for row in result["rows"]:
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
