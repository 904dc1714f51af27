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
1982, Applied Statistics 31:188; bundle_signatures.py): int32 multiply and
modulo only, so it converts to builtins, takes the seed as an input
(TFLite's random ops take their seed as an attribute) and is mirrored
exactly in numpy by `LiteRunner` for its prefill/decode loop.

Export route (see shared NOTES): `keras.export.ExportArchive` tracking the
model, one endpoint per signature, saved, then converted from the
SavedModel with builtins + tf-text custom ops, in a child process because
the converter leaks memory (`_generation_worker`).
"""

import os

from kerasnlp_lite.export.bundle_signatures import (
    add_text_endpoints,
    bundle_tokenizer,
    sampling_input_specs,
    sampling_while_loop,
)
from kerasnlp_lite.export.format import (
    CAUSAL_LM_FORMAT,
    CAUSAL_LM_QUANTIZATION_MODES,
    DECODE,
    GENERATE,
    PREFILL,
    bundle_metadata,
    cache_names,
    check_quantization,
)
from kerasnlp_lite.export.tflite import convert_bundle_in_child
from kerasnlp_lite.export.verify import check_and_write_bundle, greedy_check
from kerasnlp_lite.export.weight_sharing import share_tied_embedding
from kerasnlp_lite.layers.attention import single_query_reductions
from kerasnlp_lite.utils.validation import is_int


# --- the signatures -----------------------------------------------------------
def build_causal_lm_archive(
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
        with single_query_reductions():  # attention of one position as MUL + SUM (layers/attention.py)
            hidden, cache = backbone.call_with_cache(tf.expand_dims(token, 1), cache, index)
        return model.compute_logits(hidden[:, 0]), cache

    archive = keras.export.ExportArchive()
    # Tracking the model makes its variables the SavedModel's (a bare
    # tf.Module around a Keras 3 model converts without them: NaN outputs).
    archive.track(model)
    # The tokenizer has no variables: its tf-text model or BPE tables are constants the endpoints capture.
    int_spec = lambda shape, name: tf.TensorSpec(shape, tf.int32, name=name)  # noqa: E731
    cache_specs = {name: tf.TensorSpec((1, heads, length_cap, head_dim), tf.float32, name=name) for name in names}

    def prefill(inputs):
        logits, cache = run_prompt(inputs["token_ids"], inputs["length"])
        return {"logits": logits, **flatten(cache)}

    prefill_spec = {"token_ids": int_spec((1, length_cap), "token_ids"), "length": int_spec((1,), "length")}
    archive.add_endpoint(PREFILL, prefill, input_signature=[prefill_spec])

    def decode(inputs):
        index = inputs["cache_index"][0]
        logits, cache = step(inputs["token_id"][:, 0], nest(inputs), index)
        return {"logits": logits, **flatten(cache)}

    decode_spec = {"token_id": int_spec((1, 1), "token_id"), "cache_index": int_spec((1,), "cache_index")}
    decode_spec.update(cache_specs)
    archive.add_endpoint(DECODE, decode, input_signature=[decode_spec])
    signatures = [PREFILL, DECODE]

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
        archive.add_endpoint(GENERATE, generate, input_signature=[generate_spec])
        signatures.append(GENERATE)

    signatures += add_text_endpoints(archive, tokenizer)
    return archive, signatures


# --- export -------------------------------------------------------------------
def check_export_args(model, max_length, quantize, max_top_k, max_stop_tokens):
    backbone = getattr(model, "backbone", None)
    if backbone is None or not hasattr(backbone, "call_with_cache") or not hasattr(model, "compute_logits"):
        raise TypeError(f"`model` must be a CausalLM (a backbone with `call_with_cache`), got {type(model).__name__}.")
    if not is_int(max_length) or max_length < 2:
        raise ValueError(f"`max_length` must be an int >= 2, got {max_length!r}.")
    if max_length > backbone.max_sequence_length:
        raise ValueError(
            f"`max_length`={max_length} exceeds the backbone's max_sequence_length={backbone.max_sequence_length} "
            "(the learned position table): lower `max_length`."
        )
    check_quantization(quantize, calibrated=False, modes=CAUSAL_LM_QUANTIZATION_MODES)
    if quantize == "int4":
        from kerasnlp_lite.export.int4 import require_quantizer

        if not getattr(backbone, "decoder_blocks", None):
            raise ValueError(f"quantize='int4' needs a backbone with `decoder_blocks`, got {type(backbone).__name__}.")
        require_quantizer()  # before the minutes of conversion
    for name, value in (("max_top_k", max_top_k), ("max_stop_tokens", max_stop_tokens)):
        if not is_int(value) or value < 1:
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
    """Writes a `CausalLM` as one `.tflite` file for on-device generation (batch size 1), or as a LiteRT-LM bundle.

    Args:
        model: a `CausalLM`.
        path: the `.tflite` file to write.
        max_length: L, the longest sequence (prompt + generated tokens) the
            file handles; the cache is `[1, N, L, H]` per layer and K, V.
        tokenizer: a `SentencePieceTokenizer`, `WordPieceTokenizer` (tf-text
            fast kernels) or `ByteBPETokenizer` (GPT-2's byte-level BPE graph)
            for `tokenize` / `detokenize` (text_graph.py); defaults to the
            model's preprocessor's tokenizer, if any. False (or None without
            a preprocessor): no text signatures, builtins only.
        quantize: None, "float16", "dynamic_int8" or "int4"
            (`format.CAUSAL_LM_QUANTIZATION_MODES`). "int4" converts float32,
            then Google's litert-quantizer (installed separately) writes the
            decoder blocks' feed-forward weights as int4 (blocks of 32) and
            the attention and logits weights as int8 (int4.py).
        generate_signature: add the single-call `generate` loop.
        max_top_k: the largest `top_k` the `generate` signature samples
            among (a static `TOPK_V2` width; larger requests are clamped).
        max_stop_tokens: S, slots of `generate`'s `stop_token_ids` input.
        check: after converting, compare greedy tokens of the file (both the
            prefill/decode loop and `generate`) with `CausalLM.generate` on a
            short prompt, and report them (never raises on a mismatch: an
            int8 file may legitimately differ).
        timeout: seconds allowed for the conversion child process.
        format: "tflite", or "litertlm" for a `.litertlm` bundle that Google's
            LiteRT-LM runtime runs (`kerasnlp_lite.export.litertlm`; it takes
            `tokenizer`, `quantize` and `timeout`, the other options are this
            format's).

    Returns:
        A `TFLiteExportReport` (verify.py): `path`, `size_bytes`, `quantize`,
        `ops`, `custom_ops`, `signatures` (`LiteRunner.signatures`),
        `metadata`, and `greedy_check` when `check`.

    Raises:
        FlexOpError: when the model needs a Flex op (its name and layer).
        ValueError: for bad arguments, or a tokenizer that cannot go to TFLite.
    """
    if format == "litertlm":
        from kerasnlp_lite.export.litertlm import export_litertlm

        return export_litertlm(model, path, max_length, tokenizer=tokenizer or None, quantize=quantize, timeout=timeout)
    if format != "tflite":
        raise ValueError(f"`format` must be 'tflite' or 'litertlm', got {format!r}.")
    check_export_args(model, max_length, quantize, max_top_k, max_stop_tokens)
    tokenizer = bundle_tokenizer(model, tokenizer)
    path = os.fspath(path)
    backbone = model.backbone
    metadata = bundle_metadata(
        CAUSAL_LM_FORMAT, max_length, backbone.vocabulary_size, max_top_k, max_stop_tokens, quantize,
        vocabulary_size=int(backbone.vocabulary_size), num_layers=int(backbone.num_layers),
    )
    # The text framing of training (CausalLMPreprocessor), so an app or `kerasnlp-lite generate` frames prompts
    # and stops as `CausalLM.generate` does.
    for key in ("start_token_id", "end_token_id"):
        value = getattr(getattr(model, "preprocessor", None), key, None)
        if value is not None:
            metadata[key] = int(value)
    content = convert_bundle_in_child(
        model, tokenizer, timeout, "CausalLM for generation",
        kind="causal_lm", max_length=int(max_length), quantize=None if quantize == "int4" else quantize,
        generate_signature=bool(generate_signature),
        max_top_k=int(max_top_k), max_stop_tokens=int(max_stop_tokens),
    )
    if quantize == "dynamic_int8":
        # The converter quantizes the tied embedding twice (lookup table and logits weight): keep one
        # (weight_sharing.py; at GPT-2 small 170 -> 129 MB, perplexity unchanged in benchmarks/on_device_quality.py).
        content, saved = share_tied_embedding(content)
        metadata["tied_embedding_stored_once"] = saved > 0
    elif quantize == "int4":
        from kerasnlp_lite.export.int4 import quantize_int4

        content, counts = quantize_int4(content, [block.name for block in backbone.decoder_blocks])
        metadata["fully_connected_weights"] = counts
    runner, report = check_and_write_bundle(content, metadata, path)
    if check:
        report.greedy_check = greedy_check(model, runner, min(8, int(max_length) // 2))
    return report
