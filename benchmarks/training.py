"""Masked-LM training throughput: kerasnlp_lite BertPretrainer vs KerasHub BertMaskedLM.

MiniLM-sized BERT (6 layers, hidden 384, 12 heads, feed-forward 1536,
vocabulary 30522), batch 32, sequence 128, 20 masked positions per
sequence, AdamW; with and without `jit_compile`, in the same process on the
same data. Reports tokens/s (batch * sequence / step time, median over the
timed steps after warmup) and the ratio ours / KerasHub.

    python benchmarks/training.py [--steps 10] [--warmup 3] [--json out.json]
"""

import argparse
import json
import os
import sys
import time

# This folder holds a `tokenizers.py`, which would shadow the HF `tokenizers` package KerasHub imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

MINILM = dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536)
BATCH, LENGTH, MASKED = 32, 128, 20


def batch(seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(1000, MINILM["vocabulary_size"], (BATCH, LENGTH)).astype("int32"),
        "segment_ids": np.zeros((BATCH, LENGTH), "int32"),
        "padding_mask": np.ones((BATCH, LENGTH), "int32"),
        "mask_positions": np.sort(rng.permuted(np.tile(np.arange(1, LENGTH - 1), (BATCH, 1)), axis=1)[:, :MASKED], 1).astype("int32"),
    }
    y = rng.integers(1000, MINILM["vocabulary_size"], (BATCH, MASKED)).astype("int32")
    return x, y, np.ones((BATCH, MASKED), "float32")


def ours():
    from kerasnlp_lite.models import BertBackbone, BertPretrainer

    backbone = BertBackbone(max_sequence_length=512, **MINILM)
    return BertPretrainer(backbone, next_sentence=False), "mlm_logits"


def keras_hub_model():
    import keras_hub

    backbone = keras_hub.models.BertBackbone(max_sequence_length=512, **MINILM)
    return keras_hub.models.BertMaskedLM(backbone, preprocessor=None), None


def tokens_per_second(build, jit, steps, warmup):
    keras.utils.set_random_seed(0)
    model, output = build()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4), loss={output: loss} if output else loss, jit_compile=jit)
    x, y, w = batch()
    if output:
        y, w = {output: y}, {output: w}
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        model.train_on_batch(x, y, sample_weight=w)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return BATCH * LENGTH / float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = {}
    for jit in (False, True):
        mine = tokens_per_second(ours, jit, args.steps, args.warmup)
        hub = tokens_per_second(keras_hub_model, jit, args.steps, args.warmup)
        results[f"jit={jit}"] = {"kerasnlp_lite_tokens_per_s": mine, "keras_hub_tokens_per_s": hub, "ratio": mine / hub}
        print(f"jit_compile={jit!s:5}  ours {mine:8.0f} tok/s  KerasHub {hub:8.0f} tok/s  ratio {mine / hub:.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
