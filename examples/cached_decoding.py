"""Decode step by step with a fixed-shape KV cache, then run that step on-device.

A tiny GPT-2-style (pre-LN) decoder stack built from kerasnlp_lite layers:
1. a full causal forward pass over a sequence;
2. the same sequence fed one token at a time through per-layer KV caches
   `[batch, heads, max_length, head_dim]`, written in place at `cache_index`;
3. the single-step model converted to TFLite (builtin ops only) and run with
   the LiteRT interpreter.
All three agree. Run: python examples/cached_decoding.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasnlp_lite.export import convert_keras_model, run_tflite  # noqa: E402
from kerasnlp_lite.layers import TextEmbedding, TransformerDecoderBlock  # noqa: E402

VOCABULARY_SIZE, HIDDEN_DIM, NUM_HEADS, NUM_LAYERS, MAX_LENGTH = 100, 32, 4, 2, 12
HEAD_DIM = HIDDEN_DIM // NUM_HEADS


def main():
    keras.utils.set_random_seed(0)
    embedding = TextEmbedding(VOCABULARY_SIZE, HIDDEN_DIM, max_sequence_length=MAX_LENGTH, name="embedding")
    blocks = [
        TransformerDecoderBlock(NUM_HEADS, 4 * HIDDEN_DIM, cross_attention=False, norm_first=True, name=f"block_{i}")
        for i in range(NUM_LAYERS)
    ]

    # 1. Full causal pass.
    token_ids = np.random.default_rng(0).integers(0, VOCABULARY_SIZE, size=(1, MAX_LENGTH)).astype("int32")
    x = embedding(token_ids)
    for block in blocks:
        x = block(x)
    full = np.asarray(x)

    # 2. A one-token step model with explicit caches, as a phone would run it.
    step_ids = keras.Input((1,), batch_size=1, dtype="int32", name="token_id")
    index = keras.Input((), batch_size=1, dtype="int32", name="cache_index")
    cache_shape = (NUM_HEADS, MAX_LENGTH, HEAD_DIM)
    caches = {
        f"{kind}_cache_{i}": keras.Input(cache_shape, batch_size=1, name=f"{kind}_cache_{i}")
        for i in range(NUM_LAYERS)
        for kind in ("key", "value")
    }
    h = embedding(step_ids, start_index=index[0])
    outputs = {}
    for i, block in enumerate(blocks):
        h, (keys, values) = block(
            h,
            self_attention_cache=(caches[f"key_cache_{i}"], caches[f"value_cache_{i}"]),
            self_attention_cache_index=index[0],
        )
        outputs[f"key_cache_{i}"], outputs[f"value_cache_{i}"] = keys, values
    outputs["hidden"] = h
    step_model = keras.Model({"token_id": step_ids, "cache_index": index, **caches}, outputs)

    state = {name: np.zeros((1,) + cache_shape, "float32") for name in caches}
    stepped = []
    for t in range(MAX_LENGTH):
        result = step_model({"token_id": token_ids[:, t : t + 1], "cache_index": np.array([t], "int32"), **state})
        state = {name: np.asarray(result[name]) for name in caches}
        stepped.append(np.asarray(result["hidden"]))
    stepped = np.concatenate(stepped, axis=1)
    print(f"Keras: cached step-by-step vs full pass, max abs diff {np.max(np.abs(stepped - full)):.2e}")

    # 3. The same step on-device.
    tflite = convert_keras_model(step_model)
    state = {name: np.zeros((1,) + cache_shape, "float32") for name in caches}
    on_device = []
    for t in range(MAX_LENGTH):
        result = run_tflite(tflite, {"token_id": token_ids[:, t : t + 1], "cache_index": np.array([t], "int32"), **state})
        state = {name: result[name] for name in caches}
        on_device.append(result["hidden"])
    on_device = np.concatenate(on_device, axis=1)
    print(f"TFLite ({len(tflite) / 1024:.0f} KiB): step-by-step vs Keras full pass, "
          f"max abs diff {np.max(np.abs(on_device - full)):.2e}")
    assert np.max(np.abs(on_device - full)) < 1e-4


if __name__ == "__main__":
    main()
