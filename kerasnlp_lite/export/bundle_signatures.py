"""The TF pieces both generation bundles share: the sampling loop of `generate` and the text signatures.

`export_causal_lm` (lm_bundle.py) and `export_seq2seq_lm` (seq2seq.py) build
their `generate` signature around `sampling_while_loop` and add `tokenize` /
`detokenize` with `add_text_endpoints` (on `bundle_tokenizer`).

Sampling draws uniforms from the Wichmann-Hill generator of `format.py`
(int32 multiply and modulo only, so it converts to builtins and takes the
seed as an input: TFLite's random ops take their seed as an attribute).
"""

from kerasnlp_lite.export.format import DETOKENIZE, TOKENIZE, WH_MODULI, WH_MULTIPLIERS


# --- sampling, in TF ----------------------------------------------------------
# On-device top-k sampling exists twice and the two must stay exact mirrors (same seed, same tokens):
# `_seed_state`, `_next_uniform` and `_sample` here, inside the `generate` signature, and their numpy
# replay `_WichmannHill` / `_sample` in runner.py, used by `LiteRunner`'s prefill/decode loop. Change
# one, change the other (`test_top_k_is_valid_and_reproducible` in tests/export/test_generation_export.py
# checks that both give the same tokens). The Keras samplers
# (kerasnlp_lite/generation/samplers.py, `TopKSampler`) are the third implementation: the same
# distribution from TF's random ops, not the same draws.
def _seed_state(seed):
    """int32 scalar seed >= 0 -> Wichmann-Hill state int32 `[3]`, every part in [1, m)."""
    import tensorflow as tf

    moduli = tf.constant(WH_MODULI, tf.int32)
    parts = tf.stack([seed, seed // (WH_MODULI[0] - 1), seed // ((WH_MODULI[0] - 1) * (WH_MODULI[1] - 1))])
    return tf.math.floormod(parts, moduli - 1) + 1


def _next_uniform(state):
    """(u in [0, 1) float32, next state). Products stay below 2^23: no int32 overflow."""
    import tensorflow as tf

    state = tf.math.floormod(state * tf.constant(WH_MULTIPLIERS, tf.int32), tf.constant(WH_MODULI, tf.int32))
    total = tf.reduce_sum(tf.cast(state, tf.float32) / tf.constant(WH_MODULI, tf.float32))
    return total - tf.floor(total), state


def _sample(logits, top_k, temperature, state, max_top_k):
    """Next token int32 `[1]` from logits `[1, V]`: argmax if top_k <= 1, else top-k sampling."""
    import tensorflow as tf

    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)  # [1], ties -> lowest id, as Keras
    values, indices = tf.math.top_k(logits, k=max_top_k)  # [1, K], descending
    k = tf.clip_by_value(top_k, 1, max_top_k)  # [1]
    keep = tf.expand_dims(tf.range(max_top_k), 0) < tf.expand_dims(k, 1)  # [1, K]
    # Inverse CDF over exp((v - v_max) / T): no log-sum-exp needed, weights in (0, 1].
    weights = tf.where(keep, tf.exp((values - values[:, :1]) / tf.expand_dims(temperature, 1)), 0.0)
    cdf = tf.cumsum(weights, axis=1)
    u, state = _next_uniform(state)
    choice = tf.reduce_sum(tf.cast(cdf <= u * cdf[:, -1:], tf.int32), axis=1)  # [1]
    choice = tf.minimum(choice, k - 1)
    sampled = tf.gather(indices, choice, axis=1, batch_dims=1)  # [1]
    return tf.where(top_k <= 1, greedy, sampled), state


def sampling_input_specs(max_stop_tokens):
    """The inputs of a `generate` signature that steer `sampling_while_loop`."""
    import tensorflow as tf

    int_spec = lambda shape, name: tf.TensorSpec(shape, tf.int32, name=name)  # noqa: E731
    return {
        "max_new_tokens": int_spec((1,), "max_new_tokens"),
        "stop_token_ids": int_spec((1, int(max_stop_tokens)), "stop_token_ids"),
        "top_k": int_spec((1,), "top_k"),
        "temperature": tf.TensorSpec((1,), tf.float32, name="temperature"),
        "seed": int_spec((1,), "seed"),
    }


def sampling_while_loop(step, start, end, buffer, logits, flat, inputs, max_top_k):
    """The on-device decode loop (one builtin WHILE) shared by the generation exports.

    From position `start` until `end` or a stop token: sample a token from
    `logits` (`_sample`, with `inputs["top_k"]`, `["temperature"]`,
    `["seed"]`), write it to column i of the fixed `[1, L]` `buffer`
    (DYNAMIC_UPDATE_SLICE), then `step(token [1], flat, i) -> (logits, flat)`.
    `flat` is the cache as a flat tuple of rank-4 tensors: loop variables keep
    static shapes (else the converter inserts a Flex Identity).

    Returns `(position after the last token, buffer)`.
    """
    import keras
    import tensorflow as tf

    stops = inputs["stop_token_ids"]  # [1, S]

    def cond(i, buffer, done, logits, state, *flat):
        return tf.logical_and(i < end, tf.logical_not(done))

    def body(i, buffer, done, logits, state, *flat):
        token, state = _sample(logits, inputs["top_k"], inputs["temperature"], state, max_top_k)
        buffer = keras.ops.slice_update(buffer, [tf.constant(0), i], tf.reshape(token, [1, 1]))
        done = tf.reduce_any(tf.equal(stops, tf.expand_dims(token, 1)))
        logits, flat = step(token, flat, i)
        return (i + 1, buffer, done, logits, state) + tuple(flat)

    state = _seed_state(tf.abs(inputs["seed"][0]))
    results = tf.while_loop(cond, body, (start, buffer, tf.constant(False), logits, state) + tuple(flat))
    return results[0], results[1]


def add_text_endpoints(archive, tokenizer):
    """Adds `tokenize` (`text` string `[]` -> `token_ids` int32 `[T]`) and `detokenize` (the reverse)
    to an ExportArchive; returns their names ([] without a tokenizer).

    Any tokenizer `TokenizerGraph` (text_graph.py) takes: WordPiece, SentencePiece, byte-level BPE.

    Raises:
        ValueError: a tokenizer that cannot go to TFLite (`TokenizerGraph`).
    """
    import tensorflow as tf

    from kerasnlp_lite.export.text_graph import TokenizerGraph

    if tokenizer is None:
        return []
    graph = TokenizerGraph(tokenizer)

    def tokenize(inputs):
        token_ids, _ = graph.tokenize(tf.reshape(inputs["text"], [1]))
        return {"token_ids": token_ids}

    def detokenize(inputs):
        token_ids = inputs["token_ids"]
        return {"text": tf.reshape(graph.detokenize(token_ids, tf.shape(token_ids)[:1]), [])}

    text_spec = {"text": tf.TensorSpec((), tf.string, name="text")}
    ids_spec = {"token_ids": tf.TensorSpec((None,), tf.int32, name="token_ids")}
    archive.add_endpoint(TOKENIZE, tokenize, input_signature=[text_spec])
    archive.add_endpoint(DETOKENIZE, detokenize, input_signature=[ids_spec])
    return [TOKENIZE, DETOKENIZE]


def bundle_tokenizer(model, tokenizer):
    """The tokenizer of a bundle's text signatures: `tokenizer`; by default (None) the model's preprocessor's
    tokenizer (a CausalLM's preprocessor may be the tokenizer itself), if any; False: none.

    Raises:
        ValueError: here, before any conversion, when the tokenizer cannot go to TFLite (`TokenizerGraph`).
    """
    from kerasnlp_lite.export.text_graph import TokenizerGraph

    if tokenizer is False:
        return None
    if tokenizer is None and getattr(model, "preprocessor", None) is not None:
        tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
    if tokenizer is not None:
        TokenizerGraph(tokenizer)
    return tokenizer
