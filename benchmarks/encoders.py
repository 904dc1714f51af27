"""Forward-pass speed of a MiniLM-sized BERT: kerasnlp_lite vs KerasHub vs Model Garden, one run.

    python benchmarks/encoders.py [--iterations 10] [--batch-sizes 1 32]

Shape: 6 layers, hidden 384, 12 heads, intermediate 1536, vocabulary 30522,
sequence length 128. Each model runs inside a `tf.function` (with
`jit_compile` off and on), after warm-up, on the same random inputs; the
median wall time of `--iterations` calls is reported, then each reference's
time divided by ours (a ratio > 1 means kerasnlp_lite is faster).
KerasHub and Model Garden are reference implementations installed with the
`test` extra; they are not dependencies of the library.
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

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SHAPE = dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536)
SEQUENCE_LENGTH = 128


def build_models():
    import keras_hub
    from official.nlp.modeling.networks import BertEncoderV2

    from kerasnlp_lite.models import BertBackbone

    ours = BertBackbone(**SHAPE, max_sequence_length=512, dropout=0.0)
    hub = keras_hub.models.BertBackbone(**SHAPE, max_sequence_length=512, dropout=0.0)
    garden = BertEncoderV2(
        vocab_size=SHAPE["vocabulary_size"], hidden_size=SHAPE["hidden_dim"], num_layers=SHAPE["num_layers"],
        num_attention_heads=SHAPE["num_heads"], inner_dim=SHAPE["intermediate_dim"], max_sequence_length=512,
        type_vocab_size=2, output_dropout=0.0, attention_dropout=0.0,
    )

    def keras_inputs(token_ids, segment_ids, padding_mask):
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}

    def garden_inputs(token_ids, segment_ids, padding_mask):
        return {"input_word_ids": token_ids, "input_type_ids": segment_ids, "input_mask": padding_mask}

    return {
        "kerasnlp_lite": lambda *a: ours(keras_inputs(*a), training=False)["sequence_output"],
        "keras_hub": lambda *a: hub(keras_inputs(*a), training=False)["sequence_output"],
        "model_garden": lambda *a: garden(garden_inputs(*a), training=False)["sequence_output"],
    }


def time_call(fn, inputs, iterations, jit):
    compiled = tf.function(fn, jit_compile=jit)
    for _ in range(2):  # trace + warm up
        compiled(*inputs).numpy()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        compiled(*inputs).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    models = build_models()
    rng = np.random.default_rng(0)
    results = []
    for batch in args.batch_sizes:
        token_ids = tf.constant(rng.integers(1, SHAPE["vocabulary_size"], (batch, SEQUENCE_LENGTH)), tf.int32)
        inputs = (token_ids, tf.zeros_like(token_ids), tf.ones_like(token_ids))
        for jit in (False, True):
            row = {"batch": batch, "jit_compile": jit}
            for name, fn in models.items():
                row[f"{name}_ms"] = round(1000 * time_call(fn, inputs, args.iterations, jit), 2)
            row["keras_hub_over_ours"] = round(row["keras_hub_ms"] / row["kerasnlp_lite_ms"], 2)
            row["model_garden_over_ours"] = round(row["model_garden_ms"] / row["kerasnlp_lite_ms"], 2)
            results.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
