"""On-device text generation: a `CausalLM` as one TFLite file with a KV cache.

Signatures (batch size 1; L = the exported `max_length`, V = vocabulary,
N = heads, H = head size; every cache is `key_cache_i` / `value_cache_i`,
float32 `[1, N, L, H]`, one pair per decoder layer i, rank 4 because strided
slices above rank 5 need Flex ops):

- `tokenize`: `text` string `[]` -> `token_ids` int32 `[T]` (with a tokenizer).
- `detokenize`: `token_ids` int32 `[T]` -> `text` string `[]` (with a tokenizer).
- `prefill`: `token_ids` int32 `[1, L]` (right-padded prompt), `length`
  int32 `[1]` -> `logits` float32 `[1, V]` of position `length - 1`, and the
  caches. Slots at and after `length` hold padding keys; the causal mask
  hides them until `decode` overwrites them.
- `decode`: `token_id` int32 `[1, 1]`, `cache_index` int32 `[1]` (its
  position), the caches -> `logits` `[1, V]` of that position and the
  updated caches.
- `generate` (optional): the whole loop in one builtin `WHILE`:
  `token_ids` `[1, L]`, `length` `[1]`, `max_new_tokens` `[1]`,
  `stop_token_ids` int32 `[1, S]` (-1 = unused slot), `top_k` `[1]`
  (1 = greedy argmax, else top-k sampling among the `top_k` best, at most
  `max_top_k`), `temperature` float32 `[1]`, `seed` int32 `[1]` ->
  `token_ids` `[1, L]` (prompt + generated, then 0) and `length` `[1]`
  (prompt + generated; a stop token is kept and ends the loop).

Sampling draws uniforms from a Wichmann-Hill generator (Wichmann & Hill
1982, Applied Statistics 31:188): int32 multiply and modulo only, so it
converts to builtins, takes the seed as an input (TFLite's random ops take
their seed as an attribute) and is mirrored exactly in numpy by
`LiteRunner` for its prefill/decode loop.

Export route (see shared NOTES): `keras.export.ExportArchive` tracking the
model, one endpoint per signature, saved, then converted from the
SavedModel with builtins + tf-text custom ops, in a child process because
the converter leaks memory.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from kerasnlp_lite.export.tflite import FlexOpError, is_tftext_op, tflite_op_names

GENERATION_QUANTIZE_MODES = (None, "float16", "dynamic_int8")
METADATA_NAME = "kerasnlp_lite"
FORMAT = "kerasnlp_lite.causal_lm/1"
# Wichmann-Hill: three LCGs x <- a x mod m; u = frac(sum x / m).
WH_MULTIPLIERS = (171, 172, 170)
WH_MODULI = (30269, 30307, 30323)


def cache_names(num_layers):
    """`key_cache_0, value_cache_0, key_cache_1, ...`: the cache inputs/outputs in order."""
    return [f"{kind}_cache_{i}" for i in range(num_layers) for kind in ("key", "value")]


# --- sampling, in TF (numpy mirror in runner.py) ------------------------------
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


# --- the signatures -----------------------------------------------------------
def build_generation_archive(
    model, max_length, tokenizer=None, generate_signature=True, max_top_k=40, max_stop_tokens=4
):
    """A `keras.export.ExportArchive` with the generation endpoints (see module docstring).

    Returns:
        (archive, signature names).
    """
    import keras
    import tensorflow as tf

    backbone = model.backbone
    layers = backbone.num_layers
    heads, head_dim = backbone.num_heads, backbone.head_dim
    length_cap = int(max_length)
    names = cache_names(layers)
    vocabulary_size = backbone.vocabulary_size
    max_top_k = min(int(max_top_k), vocabulary_size)

    def flatten(cache):
        return {name: tensor for name, tensor in zip(names, [t for pair in cache for t in pair])}

    def nest(caches):
        return [(caches[f"key_cache_{i}"], caches[f"value_cache_{i}"]) for i in range(layers)]

    def run_prompt(token_ids, length):
        cache = backbone.init_cache(1, length_cap)
        hidden, cache = backbone.call_with_cache(token_ids, cache, 0)  # [1, L, D]
        last = tf.gather(hidden, length[0] - 1, axis=1)  # [1, D]
        return model.compute_logits(last), cache

    def step(token, cache, index):
        # token [1] at position `index` -> logits [1, V]; expand_dims, not x[:, None] (issue's trap).
        hidden, cache = backbone.call_with_cache(tf.expand_dims(token, 1), cache, index)
        return model.compute_logits(hidden[:, 0]), cache

    archive = keras.export.ExportArchive()
    # Tracking the model makes its variables the SavedModel's (a bare
    # tf.Module around a Keras 3 model converts without them: NaN outputs).
    archive.track(model)
    # The tokenizer has no variables: its tf-text model is a constant the endpoints capture.
    int_spec = lambda shape, name: tf.TensorSpec(shape, tf.int32, name=name)  # noqa: E731
    cache_specs = {name: tf.TensorSpec((1, heads, length_cap, head_dim), tf.float32, name=name) for name in names}

    def prefill(inputs):
        logits, cache = run_prompt(inputs["token_ids"], inputs["length"])
        return {"logits": logits, **flatten(cache)}

    prefill_spec = {"token_ids": int_spec((1, length_cap), "token_ids"), "length": int_spec((1,), "length")}
    archive.add_endpoint("prefill", prefill, input_signature=[prefill_spec])

    def decode(inputs):
        index = inputs["cache_index"][0]
        logits, cache = step(inputs["token_id"][:, 0], nest(inputs), index)
        return {"logits": logits, **flatten(cache)}

    decode_spec = {"token_id": int_spec((1, 1), "token_id"), "cache_index": int_spec((1,), "cache_index")}
    decode_spec.update(cache_specs)
    archive.add_endpoint("decode", decode, input_signature=[decode_spec])
    signatures = ["prefill", "decode"]

    if generate_signature:

        def generate(inputs):
            token_ids, length = inputs["token_ids"], inputs["length"]
            n = length[0]
            positions = tf.expand_dims(tf.range(length_cap), 0)  # [1, L]
            buffer = tf.where(positions < n, token_ids, tf.zeros_like(token_ids))
            logits, cache = run_prompt(token_ids, length)
            end = tf.minimum(n + tf.maximum(inputs["max_new_tokens"][0], 0), length_cap)

            def step_flat(token, flat, i):
                logits, cache = step(token, [(flat[2 * j], flat[2 * j + 1]) for j in range(layers)], i)
                return logits, tuple(t for pair in cache for t in pair)

            flat = tuple(t for pair in cache for t in pair)
            position, buffer = sampling_while_loop(step_flat, n, end, buffer, logits, flat, inputs, max_top_k)
            return {"token_ids": buffer, "length": tf.reshape(position, [1])}

        generate_spec = {
            "token_ids": int_spec((1, length_cap), "token_ids"),
            "length": int_spec((1,), "length"),
            **sampling_input_specs(max_stop_tokens),
        }
        archive.add_endpoint("generate", generate, input_signature=[generate_spec])
        signatures.append("generate")

    signatures += add_text_endpoints(archive, tokenizer)
    return archive, signatures


def add_text_endpoints(archive, tokenizer):
    """Adds `tokenize` (`text` string `[]` -> `token_ids` int32 `[T]`) and `detokenize` (the reverse)
    to an ExportArchive; returns their names ([] without a tokenizer)."""
    import tensorflow as tf

    if tokenizer is None:
        return []

    def tokenize(inputs):
        ids = tokenizer.tokenize(tf.reshape(inputs["text"], [1]))  # ragged [1, None]
        return {"token_ids": tf.cast(ids.flat_values, tf.int32)}

    def detokenize(inputs):
        # int64 row splits: FastWordpieceDetokenize accepts no others; FastSentencepiece takes both.
        count = tf.shape(inputs["token_ids"], out_type=tf.int64)[0]
        ids = tf.RaggedTensor.from_row_splits(
            inputs["token_ids"], tf.stack([tf.constant(0, tf.int64), count]), validate=False
        )
        return {"text": tf.reshape(tokenizer.detokenize(ids), [])}

    text_spec = {"text": tf.TensorSpec((), tf.string, name="text")}
    ids_spec = {"token_ids": tf.TensorSpec((None,), tf.int32, name="token_ids")}
    archive.add_endpoint("tokenize", tokenize, input_signature=[text_spec])
    archive.add_endpoint("detokenize", detokenize, input_signature=[ids_spec])
    return ["tokenize", "detokenize"]


def convert_in_worker(model, spec, metadata, path, timeout, what):
    """Saves `model`, converts it in `_generation_worker` with `spec`, checks the ops (builtins and
    tf-text only), writes `path` with `metadata` and returns `(content, op names)`.

    A LoRA model is saved merged (`merge_lora`): plain kernels, no per-step A @ B in the file."""
    from kerasnlp_lite.models.backbone import has_lora, merge_lora

    with tempfile.TemporaryDirectory() as tmp:
        keras_path = os.path.join(tmp, "model.keras")
        (merge_lora(model) if has_lora(model) else model).save(keras_path)
        spec = dict(spec, keras_path=keras_path, tflite_path=os.path.join(tmp, "model.tflite"))
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        command = [sys.executable, "-m", "kerasnlp_lite.export._generation_worker", spec_path]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-30:])
            error = FlexOpError if "FlexOpError" in result.stderr else RuntimeError
            raise error(f"TFLite conversion of the {what} failed:\n{tail}")
        with open(spec["tflite_path"], "rb") as f:
            content = f.read()
    op_names = tflite_op_names(content)
    check_generation_ops(op_names)
    content = add_metadata(content, metadata)
    with open(path, "wb") as f:
        f.write(content)
    return content, op_names


# --- metadata -----------------------------------------------------------------
def add_metadata(content, metadata):
    """TFLite bytes with a `kerasnlp_lite` metadata entry holding `metadata` as JSON."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_NAME, METADATA_NAME.encode())]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_metadata(content):
    """The `kerasnlp_lite` metadata dict of TFLite bytes, or {} when it has none."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(content), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() in (METADATA_NAME, METADATA_NAME.encode()):
            data = model.Buffers(entry.Buffer()).DataAsNumpy()
            return json.loads(bytes(data).decode())
    return {}


# --- export -------------------------------------------------------------------
def _check_args(model, max_length, quantize, max_top_k, max_stop_tokens):
    backbone = getattr(model, "backbone", None)
    if backbone is None or not hasattr(backbone, "call_with_cache") or not hasattr(model, "compute_logits"):
        raise TypeError(f"`model` must be a CausalLM (a backbone with `call_with_cache`), got {type(model).__name__}.")
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 2:
        raise ValueError(f"`max_length` must be an int >= 2, got {max_length!r}.")
    if max_length > backbone.max_sequence_length:
        raise ValueError(
            f"`max_length`={max_length} exceeds the backbone's max_sequence_length={backbone.max_sequence_length} "
            "(the learned position table): lower `max_length`."
        )
    if quantize not in GENERATION_QUANTIZE_MODES:
        raise ValueError(
            f"`quantize` must be one of {GENERATION_QUANTIZE_MODES} for a generation bundle, got {quantize!r} "
            "(full int8 needs representative caches, not supported here)."
        )
    for name, value in (("max_top_k", max_top_k), ("max_stop_tokens", max_stop_tokens)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1, got {value!r}.")


def export_causal_lm(
    model,
    path,
    max_length,
    tokenizer=None,
    quantize=None,
    generate_signature=True,
    max_top_k=40,
    max_stop_tokens=4,
    check=True,
    timeout=900,
    format="tflite",
):
    """Writes a `CausalLM` as one `.tflite` file for on-device generation (batch size 1).

    Args:
        model: a `CausalLM`.
        path: the `.tflite` file to write.
        max_length: L, the longest sequence (prompt + generated tokens) the
            file handles; the cache is `[1, N, L, H]` per layer and K, V.
        tokenizer: a `SentencePieceTokenizer` or `WordPieceTokenizer` (tf-text
            fast kernels) for `tokenize` / `detokenize`; defaults to the
            model's preprocessor's tokenizer, if any. False (or None without
            a preprocessor): no text signatures, builtins only.
        quantize: None, "float16" or "dynamic_int8".
        generate_signature: add the single-call `generate` loop.
        max_top_k: the largest `top_k` the `generate` signature samples
            among (a static `TOPK_V2` width; larger requests are clamped).
        max_stop_tokens: S, slots of `generate`'s `stop_token_ids` input.
        check: after converting, compare greedy tokens of the file (both the
            prefill/decode loop and `generate`) with `CausalLM.generate` on a
            short prompt, and report them (never raises on a mismatch: an
            int8 file may legitimately differ).
        timeout: seconds allowed for the conversion child process.
        format: "tflite", or "litertlm" for a LiteRT-LM bundle
            (`kerasnlp_lite.export.litertlm.export_litertlm`, which takes
            `tokenizer`, `quantize` and `timeout`; the other options are
            this format's).

    Returns:
        A report dict: `path`, `size_bytes`, `ops` (sorted op names),
        `custom_ops`, `signatures` (name -> inputs/outputs with shapes and
        dtypes), `metadata`, and `greedy_check` when `check`.

    Raises:
        FlexOpError: when the model needs a Flex op (its name and layer).
        ValueError: for bad arguments.
    """
    import keras

    if format != "tflite":
        from kerasnlp_lite.export.litertlm import export_causal_lm_litertlm

        return export_causal_lm_litertlm(model, path, max_length, format, tokenizer, quantize, timeout)
    _check_args(model, max_length, quantize, max_top_k, max_stop_tokens)
    if tokenizer is None and getattr(model, "preprocessor", None) is not None:
        tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
    elif tokenizer is False:
        tokenizer = None
    path = os.fspath(path)
    metadata = {
        "format": FORMAT,
        "max_length": int(max_length),
        "vocabulary_size": int(model.backbone.vocabulary_size),
        "num_layers": int(model.backbone.num_layers),
        "max_top_k": min(int(max_top_k), int(model.backbone.vocabulary_size)),
        "max_stop_tokens": int(max_stop_tokens),
        "quantize": quantize,
        "batch_size": 1,
    }
    # The text framing of training (CausalLMPreprocessor), so an app or `kerasnlp-lite generate` frames prompts
    # and stops as `CausalLM.generate` does.
    for key in ("start_token_id", "end_token_id"):
        value = getattr(getattr(model, "preprocessor", None), key, None)
        if value is not None:
            metadata[key] = int(value)
    spec = {
        "tokenizer": keras.saving.serialize_keras_object(tokenizer) if tokenizer is not None else None,
        "max_length": int(max_length),
        "quantize": quantize,
        "generate_signature": bool(generate_signature),
        "max_top_k": int(max_top_k),
        "max_stop_tokens": int(max_stop_tokens),
    }
    content, op_names = convert_in_worker(model, spec, metadata, path, timeout, "CausalLM for generation")

    from kerasnlp_lite.export.runner import LiteRunner

    runner = LiteRunner(content)
    report = {
        "path": path,
        "size_bytes": len(content),
        "ops": sorted(set(op_names)),
        "custom_ops": sorted({op for op in op_names if not op.isupper()}),
        "signatures": runner.signatures,
        "metadata": metadata,
    }
    if check:
        report["greedy_check"] = greedy_check(model, runner, min(8, int(max_length) // 2))
    return report


def check_generation_ops(op_names):
    """Raises FlexOpError unless every op is a builtin or a tf-text custom op."""
    unknown = sorted({op for op in op_names if not op.isupper() and not is_tftext_op(op)})
    if unknown:
        raise FlexOpError(
            f"The generation bundle needs ops {unknown} that are neither TFLite builtins nor tf-text custom ops; "
            "LiteRT 2.x cannot run Flex ops. Replace the op in the model (rank > 5 slices, loop variables "
            "without static shapes and dynamic TensorArrays are the usual causes).",
            ops=unknown,
        )


def greedy_check(model, runner, num_new_tokens):
    """Greedy tokens of `CausalLM.generate` vs the file (both loops) on a fixed 3-token prompt."""
    vocabulary_size = model.backbone.vocabulary_size
    prompt = [int(t) % vocabulary_size for t in (5, 11, 17)]
    keras_ids = model.generate([prompt], max_length=len(prompt) + num_new_tokens, sampler="greedy")["token_ids"][0]
    check = {"prompt": prompt, "keras": keras_ids.tolist()}
    check["loop"] = runner.generate(prompt, num_new_tokens, use_generate_signature=False).tolist()
    if "generate" in runner.signatures:
        check["generate"] = runner.generate(prompt, num_new_tokens, use_generate_signature=True).tolist()
    check["equal"] = all(check[key] == check["keras"] for key in ("loop", "generate") if key in check)
    return check
