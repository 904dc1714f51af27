"""Compute bounds for the encoder and training benchmarks: a Transformer's matmul FLOPs at the best matmul rate
TensorFlow reaches on this machine. Not a benchmark of its own (no `run`); encoders.py and training.py load it
by path, as they take this folder off the import path.

The rate is that of one large matmul of the model's own feed-forward shape (`[B*T, D] x [D, F]`, oneDNN), the
fastest kind of op in the model: the whole model, with its smaller attention matmuls, softmax, LayerNorm and
memory traffic, runs slower than this bound, so a goal whose time is under the bound cannot be met here.
"""

import time


def transformer_matmul_flops(num_layers, hidden_dim, intermediate_dim, sequence_length, tokens):
    """Forward FLOPs (2 per multiply-add) of the encoder blocks' matmuls over `tokens` tokens: q, k, v and
    output projections (4 D^2), the feed-forward layer (2 D F) and the attention products (2 T D) per token."""
    d, f, t = hidden_dim, intermediate_dim, sequence_length
    return 2 * num_layers * tokens * (4 * d * d + 2 * d * f + 2 * t * d)


def matmul_gflops(m, k, n, dtype="float32", repeats=10):
    """The best GFLOP/s of `[m, k] x [k, n]` in a `tf.function`, with TensorFlow's thread settings."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((m, k)), dtype)
    b = tf.cast(tf.random.normal((k, n)), dtype)
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9

