"""LiteRT-LM bundles: a `CausalLM` as one `.litertlm` file that `litert_lm.Engine` loads and generates from.

A `.litertlm` file holds sections (litert-lm-builder writes them): an
`LlmMetadata` proto (generic model type, start and stop tokens, the context
length), the model's own tokenizer, and one TFLite model of type
`prefill_decode`. LiteRT-LM's executor finds everything in that TFLite model
by name, so the signatures follow its conventions (batch size 1; L = the
exported `max_length`, V = vocabulary, N = heads, H = head size):

- `prefill_<T>`, one per prefill length T (default 1 and 32): `tokens`
  int32 `[1, T]`, `input_pos` int32 `[T]` (absolute positions), and the
  caches -> the updated caches (no logits: the executor keeps the last prompt
  token pending and runs it through `decode`).
- `decode`: `tokens` int32 `[1, 1]`, `input_pos` int32 `[1]`, the caches ->
  `logits` float32 `[1, 1, V]` and the updated caches.
- Caches: `kv_cache_k_<i>` / `kv_cache_v_<i>`, float32 `[1, N, L, H]` per
  decoder layer i, each an input and an output of the same name: on CPU the
  executor binds one buffer to both (updated in place), so every output is
  the whole updated cache. L is read from dimension 2 of `kv_cache_k_0`.
- No attention-mask input: it is optional, and the backbone's own causal mask
  (query at position p sees cache slots 0..p) is the mask LiteRT-LM would
  pass for a generic causal model.

Where that comes from (google-ai-edge/LiteRT-LM, runtime/executor/):
`litert_compiled_model_executor_utils.cc` (`kInputTokensNames` "token_ids" /
"tokens", `kInputPositionsNames` "positions" / "input_pos", mask names
"attn_mask" / "mask", `kOutputLogitsNames` "logits"; `GetKVCacheRootNames`:
"kv_cache_k_" / "kv_cache_v_"; `GetPrefillRunnerSetFromModel`: signatures whose
key starts with "prefill", their length read from `input_pos`;
`GetOptimizedPrefillWorkGroups`: on CPU a prompt is cut greedily into the
available lengths, largest first), `llm_litert_compiled_model_executor.cc`
(the "decode" signature, logits `[batch, 1, V]`, `input_pos` `[1]` at decode,
prefill positions zero-filled past the real tokens, `kInplace` cache policy on
CPU), `litert/state.cc` (`HeuristicBasedCreate`: cache buffers named after the
inputs, context size from the mask or `kv_cache_k_0` dimension 2) and
`llm_litert_compiled_model_executor_factory.cc` (static shapes select the
static executor).

Prefill writes its T keys/values at `input_pos[0] .. input_pos[0] + T - 1`
(one DYNAMIC_UPDATE_SLICE, as `call_with_cache` does). A prompt chunk shorter
than T (zero-padded by the executor) writes padding keys past the real tokens;
the causal mask hides them and later steps overwrite them. With a length-1
prefill (the default), CPU chunking never pads beyond the prompt, so every
write stays inside the cache.
"""

import json
import os
import tempfile

from kerasnlp_lite.layers.attention import single_query_reductions
from kerasnlp_lite.utils.validation import is_int

DEFAULT_PREFILL_LENGTHS = (1, 32)


def kv_cache_names(num_layers):
    """`kv_cache_k_0, kv_cache_v_0, kv_cache_k_1, ...`: LiteRT-LM's cache names, in order."""
    return [f"kv_cache_{kind}_{i}" for i in range(num_layers) for kind in ("k", "v")]


def prefill_signature_names(prefill_lengths):
    return [f"prefill_{int(t)}" for t in prefill_lengths]


# --- the signatures -----------------------------------------------------------
def build_litertlm_archive(model, max_length, prefill_lengths=DEFAULT_PREFILL_LENGTHS):
    """A `keras.export.ExportArchive` with `prefill_<T>` and `decode` (see module docstring).

    Returns:
        (archive, signature names).
    """
    import keras
    import tensorflow as tf

    backbone = model.backbone
    layers = backbone.num_layers
    length_cap = int(max_length)
    names = kv_cache_names(layers)
    cache_shape = (1, backbone.num_heads, length_cap, backbone.head_dim)  # [1, N, L, H]
    cache_specs = {name: tf.TensorSpec(cache_shape, tf.float32, name=name) for name in names}
    int_spec = lambda shape, name: tf.TensorSpec(shape, tf.int32, name=name)  # noqa: E731

    def run(inputs):
        # Positions are consecutive within a call (the executor numbers them), so the
        # first one places the whole chunk.
        cache = [(inputs[f"kv_cache_k_{i}"], inputs[f"kv_cache_v_{i}"]) for i in range(layers)]
        with single_query_reductions():  # decode and prefill_1: attention as MUL + SUM (layers/attention.py)
            hidden, cache = backbone.call_with_cache(inputs["tokens"], cache, inputs["input_pos"][0])  # [1, T, D]
        return hidden, {name: t for name, t in zip(names, [t for pair in cache for t in pair])}

    archive = keras.export.ExportArchive()
    # Tracking makes the variables the SavedModel's (see generation.py and the shared NOTES). The backbone
    # holds them all (the LM head is the tied embedding); the model would also bring its preprocessor's
    # lookup tables (a ByteBPETokenizer's with special_tokens_in_strings), which need Flex ops.
    archive.track(model.backbone)

    def prefill(inputs):
        return run(inputs)[1]

    signatures = []
    for length, name in zip(prefill_lengths, prefill_signature_names(prefill_lengths)):
        spec = {"tokens": int_spec((1, int(length)), "tokens"), "input_pos": int_spec((int(length),), "input_pos")}
        archive.add_endpoint(name, prefill, input_signature=[{**spec, **cache_specs}])
        signatures.append(name)

    def decode(inputs):
        hidden, caches = run(inputs)
        return {"logits": model.compute_logits(hidden), **caches}  # [1, 1, V]

    spec = {"tokens": int_spec((1, 1), "tokens"), "input_pos": int_spec((1,), "input_pos")}
    archive.add_endpoint("decode", decode, input_signature=[{**spec, **cache_specs}])
    signatures.append("decode")
    return archive, signatures


# --- tokenizer sections -------------------------------------------------------
def hf_tokenizer_json(tokenizer):
    """A Hugging Face `tokenizer.json` dict for a `ByteBPETokenizer` (GPT-2's pipeline).

    ByteLevel pre-tokenizer (GPT-2's regex, bytes mapped to printable
    characters), BPE over `vocabulary` and `merges`, ByteLevel decoder. Special
    tokens become "added tokens" (matched inside text) only when the tokenizer
    maps them inside strings (`special_tokens_in_strings`), so both split the
    same text the same way.
    """
    byte_level = {"type": "ByteLevel", "add_prefix_space": bool(tokenizer.add_prefix_space), "trim_offsets": False,
                  "use_regex": True}
    added = []
    if tokenizer.special_tokens_in_strings:
        for token in sorted(set(tokenizer.special_tokens.values()), key=tokenizer.vocabulary.get):
            added.append({"id": int(tokenizer.vocabulary[token]), "content": token, "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": dict(byte_level),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": tokenizer.unknown_token,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": {token: int(i) for token, i in tokenizer.vocabulary.items()},
            "merges": list(tokenizer.merges),
        },
    }


def _tokenizer_kind(tokenizer):
    from kerasnlp_lite.tokenizers import ByteBPETokenizer, SentencePieceTokenizer

    if isinstance(tokenizer, SentencePieceTokenizer):
        return "sentencepiece"
    if isinstance(tokenizer, ByteBPETokenizer):
        return "hf"
    raise TypeError(
        "A LiteRT-LM bundle needs the model's tokenizer, a SentencePieceTokenizer or a ByteBPETokenizer; got "
        f"{type(tokenizer).__name__}. Pass `tokenizer=` or attach a preprocessor to the model."
    )


# --- metadata -----------------------------------------------------------------
def framing_tokens(model, tokenizer):
    """`(start_token_id or None, stop_token_ids)` of the model's text framing.

    Start: the preprocessor's `start_token_id` (what `CausalLM.generate` puts
    before a prompt). Stops: the preprocessor's `end_token_id` (what training
    put after each text), else the tokenizer's end-of-sequence token.
    """
    preprocessor = getattr(model, "preprocessor", None)
    start = getattr(preprocessor, "start_token_id", None)
    stop = getattr(preprocessor, "end_token_id", None)
    if stop is None:
        stop = getattr(tokenizer, "eos_token_id", None)
    return (None if start is None else int(start)), ([] if stop is None else [int(stop)])


def llm_metadata(start_token_id, stop_token_ids, max_num_tokens):
    """LiteRT-LM's `LlmMetadata` proto: generic model type, start/stop tokens, context length."""
    from litert_lm_builder.runtime.proto import llm_metadata_pb2

    metadata = llm_metadata_pb2.LlmMetadata()
    metadata.llm_model_type.generic_model.SetInParent()
    metadata.max_num_tokens = int(max_num_tokens)
    if start_token_id is not None:
        metadata.start_token.token_ids.ids.append(int(start_token_id))
    for token in stop_token_ids:
        metadata.stop_tokens.add().token_ids.ids.append(int(token))
    return metadata


def write_bundle(path, tflite_path, tokenizer, metadata, work_dir):
    """Writes the `.litertlm` file: LlmMetadata, tokenizer, prefill_decode TFLite model."""
    try:
        import litert_lm_builder as builder
    except ImportError:
        raise ImportError("Writing a .litertlm bundle needs `pip install litert-lm-builder`.") from None

    metadata_path = os.path.join(work_dir, "llm_metadata.pb")
    with open(metadata_path, "wb") as f:
        f.write(metadata.SerializeToString())
    bundle = builder.LitertLmFileBuilder()
    bundle.add_system_metadata(builder.Metadata(key="Authors", value="kerasnlp_lite", dtype=builder.DType.STRING))
    bundle.add_llm_metadata(metadata_path)
    if _tokenizer_kind(tokenizer) == "sentencepiece":
        tokenizer_path = os.path.join(work_dir, "tokenizer.model")
        with open(tokenizer_path, "wb") as f:
            f.write(tokenizer.proto)
        bundle.add_sentencepiece_tokenizer(tokenizer_path)
    else:
        tokenizer_path = os.path.join(work_dir, "tokenizer.json")
        with open(tokenizer_path, "w", encoding="utf-8") as f:
            json.dump(hf_tokenizer_json(tokenizer), f, ensure_ascii=False)
        bundle.add_hf_tokenizer(tokenizer_path)
    bundle.add_tflite_model(tflite_path, builder.TfLiteModelType.PREFILL_DECODE)
    with open(path, "wb") as f:
        bundle.build(f)


# --- export -------------------------------------------------------------------
def _check_prefill_lengths(prefill_lengths, max_length):
    lengths = list(prefill_lengths)
    if not lengths or any(not is_int(t) or t < 1 for t in lengths):
        raise ValueError(f"`prefill_lengths` must be a non-empty list of ints >= 1, got {prefill_lengths!r}.")
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"`prefill_lengths` must not repeat a length, got {prefill_lengths!r}.")
    if max(lengths) > max_length:
        raise ValueError(f"`prefill_lengths` {prefill_lengths!r} must not exceed `max_length`={max_length}.")
    return sorted(int(t) for t in lengths)


def export_litertlm(
    model,
    path,
    max_length,
    tokenizer=None,
    quantize=None,
    prefill_lengths=DEFAULT_PREFILL_LENGTHS,
    timeout=900,
):
    """Writes a `CausalLM` as a `.litertlm` bundle for LiteRT-LM (`litert_lm.Engine(path)`).

    Args:
        model: a `CausalLM` (a backbone with `call_with_cache`).
        path: the `.litertlm` file to write.
        max_length: L, the context (prompt + generated tokens) LiteRT-LM may
            fill; the caches are `[1, N, L, H]` per layer and K, V.
        tokenizer: a `SentencePieceTokenizer` (a SentencePiece section) or a
            `ByteBPETokenizer` (a Hugging Face `tokenizer.json` section);
            defaults to the model's preprocessor's tokenizer.
        quantize: None (float32) or "dynamic_int8" (int8 weights, float
            activations and caches).
        prefill_lengths: the prefill signatures' lengths. Keep 1 among them:
            LiteRT-LM on CPU then cuts any prompt into exact chunks.
        timeout: seconds allowed for the conversion child process.

    Returns:
        A `TFLiteExportReport` (verify.py): `path` and `size_bytes` of the
        bundle, `quantize`, `ops`, `signatures` (the prefill and decode
        names), and `metadata` with `format` ("litertlm"),
        `tflite_size_bytes`, `start_token_id`, `stop_token_ids`, `tokenizer`
        ("sentencepiece" or "hf") and `max_length`.

    Raises:
        FlexOpError: when the model needs a Flex op.
        TypeError / ValueError: for bad arguments.
    """
    from kerasnlp_lite.export.format import LITERTLM_QUANTIZATION_MODES, check_quantization
    from kerasnlp_lite.export.lm_bundle import check_export_args
    from kerasnlp_lite.export.tflite import check_ops, run_worker, tflite_op_names
    from kerasnlp_lite.export.verify import TFLiteExportReport, count_ops
    from kerasnlp_lite.models.backbone import has_lora, merge_lora

    check_export_args(model, max_length, None, 1, 1)
    if quantize not in LITERTLM_QUANTIZATION_MODES:
        raise ValueError(
            f"`quantize` must be one of {LITERTLM_QUANTIZATION_MODES} for a LiteRT-LM bundle, got {quantize!r}."
        )
    check_quantization(quantize, calibrated=False)
    lengths = _check_prefill_lengths(prefill_lengths, int(max_length))
    if tokenizer is None and getattr(model, "preprocessor", None) is not None:
        tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
    kind = _tokenizer_kind(tokenizer)
    if tokenizer.vocabulary_size > model.backbone.vocabulary_size:
        raise ValueError(
            f"The tokenizer has {tokenizer.vocabulary_size} tokens but the model only "
            f"{model.backbone.vocabulary_size} logits."
        )
    start, stops = framing_tokens(model, tokenizer)
    path = os.fspath(path)
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = os.path.join(tmp, "model.keras")
        (merge_lora(model) if has_lora(model) else model).save(keras_path)
        tflite_path = os.path.join(tmp, "model.tflite")
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump({"keras_path": keras_path, "tflite_path": tflite_path, "max_length": int(max_length),
                       "quantize": quantize, "prefill_lengths": lengths}, f)
        # The converter leaks memory: one conversion per child process.
        run_worker("_litertlm_worker", [spec_path], timeout, "the CausalLM for a LiteRT-LM bundle")
        with open(tflite_path, "rb") as f:
            content = f.read()
        op_names = tflite_op_names(content)
        check_ops(op_names, "The LiteRT-LM bundle's model", tftext=False)  # the tokenizer runs outside the model
        write_bundle(path, tflite_path, tokenizer, llm_metadata(start, stops, max_length), tmp)
    ops, custom = count_ops(op_names)
    return TFLiteExportReport(
        path=path,
        size_bytes=os.path.getsize(path),
        quantize=quantize,
        ops=ops,
        custom_ops=custom,
        signatures={name: {} for name in prefill_signature_names(lengths) + ["decode"]},
        metadata={
            "format": "litertlm",
            "tflite_size_bytes": len(content),
            "start_token_id": start,
            "stop_token_ids": stops,
            "tokenizer": kind,
            "max_length": int(max_length),
        },
    )


def cli_export(model, args, name, parser):
    """`kerasnlp-lite export --format litertlm`: a CausalLM's `.keras` -> `<out>/<name>.litertlm`."""
    from kerasnlp_lite.models import CausalLM

    if not isinstance(model, CausalLM):
        parser.error(f"--format litertlm takes a CausalLM, got {type(model).__name__}")
    quantize = None if args.quantize == "none" else args.quantize
    from kerasnlp_lite.export.format import LITERTLM_QUANTIZATION_MODES

    if quantize not in LITERTLM_QUANTIZATION_MODES:
        parser.error("--format litertlm takes --quantize none or dynamic_int8")
    max_length = args.max_length or model.backbone.max_sequence_length
    report = export_litertlm(model, os.path.join(args.out, name + ".litertlm"), max_length, quantize=quantize)
    print(json.dumps({"path": report.path, "size_bytes": report.size_bytes, "signatures": sorted(report.signatures),
                      **report.metadata}, indent=2))
    return 0
