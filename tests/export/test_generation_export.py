"""On-device generation bundle: a tiny GPT CausalLM + SentencePiece, exported once per module.

Two conversions in the whole file (float32 and dynamic int8), each in a child process.
Numbers are printed (run with `-s` to see them).
"""

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.data.corpora import stdlib_sentences
from kerasnlp_lite.export.latency import bandwidth_bound_tokens_per_s, decode_bytes_per_token, decode_latency_ms
from kerasnlp_lite.export.format import cache_names
from kerasnlp_lite.export.lm_bundle import export_causal_lm
from kerasnlp_lite.export.runner import LiteRunner
from kerasnlp_lite.models.causal_lm import CausalLM
from kerasnlp_lite.models.gpt.gpt_backbone import GPTBackbone
from kerasnlp_lite.tokenizers import SentencePieceTokenizer, train_sentencepiece

pytestmark = [pytest.mark.slow, pytest.mark.tflite]

VOCABULARY_SIZE, NUM_LAYERS, NUM_HEADS, HIDDEN_DIM, MAX_LENGTH = 300, 2, 2, 32, 64
HEAD_DIM = HIDDEN_DIM // NUM_HEADS
PROMPTS = [
    "Return",
    "Return the value of the key.",
    "Create a new object and raise an error if the file does not exist.",
    "The default is None, which means the current time is used.",
]


@pytest.fixture(scope="module")
def lm():
    sentences = stdlib_sentences(max_sentences=400)
    tokenizer = SentencePieceTokenizer(train_sentencepiece(sentences, vocabulary_size=VOCABULARY_SIZE))
    keras.utils.set_random_seed(0)
    backbone = GPTBackbone(
        vocabulary_size=VOCABULARY_SIZE,
        num_layers=NUM_LAYERS,
        num_heads=NUM_HEADS,
        hidden_dim=HIDDEN_DIM,
        intermediate_dim=4 * HIDDEN_DIM,
        max_sequence_length=MAX_LENGTH,
        dropout=0.0,
    )
    return CausalLM(backbone, preprocessor=tokenizer)


@pytest.fixture(scope="module")
def bundle(lm, tmp_path_factory):
    path = tmp_path_factory.mktemp("generation") / "causal_lm.tflite"
    start = time.perf_counter()
    report = export_causal_lm(lm, path, max_length=MAX_LENGTH)
    print(f"\nfloat32 export {time.perf_counter() - start:.1f} s, {report.size_bytes} bytes")
    return report, LiteRunner(str(path), num_threads=1)


@pytest.fixture(scope="module")
def int8_bundle(lm, tmp_path_factory):
    path = tmp_path_factory.mktemp("generation_int8") / "causal_lm_int8.tflite"
    report = export_causal_lm(lm, path, max_length=MAX_LENGTH, quantize="dynamic_int8", check=False)
    return report, LiteRunner(str(path), num_threads=1)


@pytest.fixture(scope="module")
def float16_bundle(lm, tmp_path_factory):
    # Signatures only, no tokenizer: the third (and last) conversion of the file, kept small.
    path = tmp_path_factory.mktemp("generation_fp16") / "causal_lm_fp16.tflite"
    report = export_causal_lm(lm, path, max_length=MAX_LENGTH, tokenizer=False, quantize="float16", check=False)
    return report, LiteRunner(str(path), num_threads=1)


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def test_bundle_has_builtins_and_tftext_ops_only(bundle):
    report, runner = bundle
    ops = report.ops
    assert not [op for op in ops if op.startswith("Flex")]
    assert all(op.isupper() or op.startswith("TFText>") for op in ops), ops
    assert report.custom_ops == ["TFText>FastSentencepieceDetokenize", "TFText>FastSentencepieceTokenize"]
    assert "WHILE" in ops and "DYNAMIC_UPDATE_SLICE" in ops
    assert sorted(report.signatures) == ["decode", "detokenize", "generate", "prefill", "tokenize"]
    cache = {"shape": [1, NUM_HEADS, MAX_LENGTH, HEAD_DIM], "dtype": "float32"}
    prefill = report.signatures["prefill"]
    assert prefill["inputs"] == {
        "token_ids": {"shape": [1, MAX_LENGTH], "dtype": "int32"},
        "length": {"shape": [1], "dtype": "int32"},
    }
    assert prefill["outputs"] == {"logits": {"shape": [1, VOCABULARY_SIZE], "dtype": "float32"}} | {
        name: cache for name in cache_names(NUM_LAYERS)
    }
    decode = report.signatures["decode"]
    assert set(decode["inputs"]) == {"token_id", "cache_index", *cache_names(NUM_LAYERS)}
    assert decode["outputs"] == prefill["outputs"]
    assert report.signatures["generate"]["outputs"] == {
        "token_ids": {"shape": [1, MAX_LENGTH], "dtype": "int32"},
        "length": {"shape": [1], "dtype": "int32"},
    }
    assert report.metadata["max_length"] == MAX_LENGTH == runner.max_length
    assert report.size_bytes == len(open(report.path, "rb").read())
    # The export's own greedy check against CausalLM.generate.
    check = report.greedy_check
    assert check["equal"] and check["keras"] == check["loop"] == check["generate"], check


def test_tokenize_and_detokenize_match_keras(lm, bundle):
    _, runner = bundle
    tokenizer = lm.preprocessor
    for text in PROMPTS + ["", "Ünïcode — ok?"]:
        ids = runner.tokenize(text)
        assert ids.dtype == np.int32
        np.testing.assert_array_equal(ids, tokenizer.tokenize(text).numpy())
        if ids.size:
            assert runner.detokenize(ids) == tokenizer.detokenize(tf.constant(ids)).numpy().decode()


def test_prefill_and_decode_match_keras(lm, bundle):
    _, runner = bundle
    prompt = lm.preprocessor.tokenize(PROMPTS[1]).numpy()
    n, steps = prompt.size, [7, 42, 199]
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, :n] = prompt
    out = runner.run("prefill", token_ids=padded, length=np.array([n], np.int32))

    sequence = np.concatenate([prompt, steps]).astype(np.int32)[None]  # [1, n + 3]
    full = np.asarray(lm({"token_ids": sequence, "padding_mask": np.ones_like(sequence)}))  # [1, n + 3, V]
    cached_logits, cache = lm.call_with_cache(prompt[None], lm.backbone.init_cache(1, MAX_LENGTH), 0)
    diffs = {"prefill_vs_full": _max_diff(out["logits"][0], full[0, n - 1])}
    diffs["prefill_vs_cached"] = _max_diff(out["logits"][0], np.asarray(cached_logits)[0, -1])
    # The cache slots of the prompt equal Keras' (later slots hold padding, hidden by the causal mask).
    keras_caches = dict(zip(cache_names(NUM_LAYERS), [np.asarray(t) for pair in cache for t in pair]))
    diffs["prefill_cache"] = max(_max_diff(out[k][:, :, :n], v[:, :, :n]) for k, v in keras_caches.items())
    caches = {name: out[name] for name in cache_names(NUM_LAYERS)}
    for i, token in enumerate(steps):
        index = np.array([n + i], np.int32)
        out = runner.run("decode", token_id=np.array([[token]], np.int32), cache_index=index, **caches)
        caches = {name: out[name] for name in cache_names(NUM_LAYERS)}
        diffs[f"decode_{i}"] = _max_diff(out["logits"][0], full[0, n + i])
    print(f"\nTFLite vs Keras max abs diffs: {diffs}")
    assert max(diffs.values()) <= 1e-5, diffs


def test_greedy_matches_causal_lm_generate(lm, bundle):
    _, runner = bundle
    tokenizer = lm.preprocessor
    total = 40  # one Keras trace for the whole batch: each row is continued up to `total` tokens
    id_prompts = [tokenizer.tokenize(text).numpy().tolist() for text in PROMPTS]
    assert len({len(p) for p in id_prompts}) == len(PROMPTS)  # different lengths
    keras_ids = lm.generate(id_prompts, max_length=total, sampler="greedy")["token_ids"]
    keras_texts = lm.generate(PROMPTS, max_length=total, sampler="greedy")
    for prompt, text, expected_ids, expected_text in zip(id_prompts, PROMPTS, keras_ids, keras_texts):
        new = total - len(prompt)
        for use_generate_signature in (True, False):
            ids = runner.generate(prompt, new, use_generate_signature=use_generate_signature)
            np.testing.assert_array_equal(ids, expected_ids)
            assert runner.generate(text, new, use_generate_signature=use_generate_signature) == expected_text


def test_stop_token_ends_generation(bundle):
    _, runner = bundle
    # A stop token that first appears after the first generated token (a random model may repeat
    # itself, so try a few prompts until one has such a token).
    for prompt in ([5, 11, 17], [1, 2, 3], [7], [9, 9, 4], [20, 40, 60, 80]):
        full = runner.generate(prompt, 30).tolist()
        generated = full[len(prompt) :]
        new_tokens = [t for i, t in enumerate(generated) if i >= 1 and t not in generated[:i]]
        if new_tokens:
            break
    assert new_tokens, "every prompt generated one repeated token"
    stop = new_tokens[0]
    end = len(prompt) + generated.index(stop) + 1
    for use_generate_signature in (True, False):
        ids = runner.generate(prompt, 30, stop_token_ids=[stop, 299], use_generate_signature=use_generate_signature)
        assert ids.tolist() == full[:end]


def test_top_k_is_valid_and_reproducible(bundle):
    _, runner = bundle
    prompt, k = [5, 11, 17], 10
    first = runner.generate(prompt, 20, sampler="top_k", k=k, seed=3)
    assert first.tolist() == runner.generate(prompt, 20, sampler="top_k", k=k, seed=3).tolist()
    others = [runner.generate(prompt, 20, sampler="top_k", k=k, seed=s).tolist() for s in (4, 5)]
    assert any(other != first.tolist() for other in others)
    # The Python prefill/decode loop mirrors the generate signature's sampler exactly.
    assert runner.generate(prompt, 20, sampler="top_k", k=k, seed=3, use_generate_signature=False).tolist() == (
        first.tolist()
    )
    # Every sampled token is among the k most probable after its prefix.
    for t in range(len(prompt), first.size):
        padded = np.zeros((1, MAX_LENGTH), np.int32)
        padded[0, :t] = first[:t]
        logits = runner.run("prefill", token_ids=padded, length=np.array([t], np.int32))["logits"][0]
        assert first[t] in np.argsort(-logits)[:k]
    # k=1 is greedy.
    assert runner.generate(prompt, 20, sampler="top_k", k=1, seed=9).tolist() == runner.generate(prompt, 20).tolist()


def test_bad_inputs_give_clear_errors(bundle):
    _, runner = bundle
    with pytest.raises(ValueError, match=r"exceeds the exported max_length=64.*re-export with a larger `max_length`"):
        runner.generate(list(range(1, 61)), 10)
    with pytest.raises(ValueError, match=r"prompt \(\d+ tokens\) \+ max_new_tokens \(60\)"):
        runner.generate(PROMPTS[2], 60)
    with pytest.raises(ValueError, match=r"Unknown signature 'generate_text'.*\['decode', 'detokenize', 'generate'"):
        runner.run("generate_text", text="hi")
    with pytest.raises(ValueError, match=r"must be int32 of shape \[1, 64\]"):
        runner.run("prefill", token_ids=np.zeros((1, 8), np.int32), length=np.array([1], np.int32))
    caches = {name: np.zeros((1, NUM_HEADS, MAX_LENGTH, HEAD_DIM), np.float32) for name in cache_names(NUM_LAYERS)}
    with pytest.raises(ValueError, match=r"`cache_index` 64 is outside \[0, 64\)"):
        runner.run("decode", token_id=np.array([[5]], np.int32), cache_index=np.array([64], np.int32), **caches)
    with pytest.raises(ValueError, match=r"`k` must be an int in \[1, 40\].*max_top_k"):
        runner.generate([5], 3, sampler="top_k", k=41)
    with pytest.raises(ValueError, match="`sampler` must be 'greedy' or 'top_k'"):
        runner.generate([5], 3, sampler="beam")
    with pytest.raises(ValueError, match="at most 4 stop tokens"):
        runner.generate([5], 3, stop_token_ids=[1, 2, 3, 4, 5])


def test_bad_export_arguments(lm, tmp_path):
    path = tmp_path / "unused.tflite"
    with pytest.raises(ValueError, match="`max_length` must be an int >= 2"):
        export_causal_lm(lm, path, max_length=1)
    with pytest.raises(ValueError, match="exceeds the backbone's max_sequence_length=64"):
        export_causal_lm(lm, path, max_length=65)
    with pytest.raises(ValueError, match="`quantize` must be one of"):
        export_causal_lm(lm, path, max_length=16, quantize="int8")
    with pytest.raises(TypeError, match="must be a CausalLM"):
        export_causal_lm(lm.backbone, path, max_length=16)
    assert not path.exists()


def _per_token_decode_ms(runner, prompt_length, steps=12):
    prompt = (np.arange(prompt_length) % (VOCABULARY_SIZE - 1) + 1).tolist()
    return decode_latency_ms(runner, prompt, steps=steps)


def test_decode_latency_is_flat_in_prompt_length(bundle):
    _, runner = bundle
    short, long = _per_token_decode_ms(runner, 8), _per_token_decode_ms(runner, 48)
    # The whole loop in one call: (generate - prefill) / new tokens.
    timings = {}
    for length in (8, 48):
        prompt = list(range(1, length + 1))
        start = time.perf_counter()
        runner.generate(prompt, 12)
        timings[length] = (time.perf_counter() - start) * 1e3 / 12
    print(f"\ndecode ms/token (1 thread): prompt 8 {short:.3f}, prompt 48 {long:.3f}; "
          f"generate signature (incl. prefill) ms/token: {timings}")
    assert long < 2 * short
    with pytest.raises(ValueError, match="exceed the exported max_length"):
        decode_latency_ms(runner, list(range(1, MAX_LENGTH)), steps=4)


def test_decode_bytes_per_token_and_bandwidth_bound(lm, bundle, int8_bundle):
    """What a decode step reads: every weight whole except the position table (one row), the caches whole."""
    report, _ = bundle
    with open(report.path, "rb") as f:
        content = f.read()
    counted = decode_bytes_per_token(content)
    params = sum(int(np.prod(w.shape)) for w in lm.backbone.weights)
    # The float32 weights, less the position rows a step does not read; the converter adds a few constants.
    assert 4 * (params - (MAX_LENGTH - 1) * HIDDEN_DIM) <= counted["weights"] <= 1.05 * 4 * params, counted
    assert counted["caches"] == NUM_LAYERS * 2 * NUM_HEADS * MAX_LENGTH * HEAD_DIM * 4
    with open(int8_bundle[0].path, "rb") as f:
        int8_counted = decode_bytes_per_token(f.read())
    assert int8_counted["weights"] < 0.4 * counted["weights"] and int8_counted["caches"] == counted["caches"]
    assert bandwidth_bound_tokens_per_s(content, 10.0) == pytest.approx(10e9 / sum(counted.values()))
    with pytest.raises(ValueError, match="no 'encode' signature"):
        decode_bytes_per_token(content, "encode")


def test_dynamic_int8_bundle(lm, bundle, int8_bundle):
    report, runner = bundle
    int8_report, int8_runner = int8_bundle
    assert not [op for op in int8_report.ops if op.startswith("Flex")]
    assert all(op.isupper() or op.startswith("TFText>") for op in int8_report.ops)
    assert int8_report.signatures == report.signatures
    agree, total, prompts_equal = 0, 0, 0
    for text in PROMPTS:
        prompt = lm.preprocessor.tokenize(text).numpy()
        new = min(16, MAX_LENGTH - prompt.size)
        float_ids, int8_ids = runner.generate(prompt, new), int8_runner.generate(prompt, new)
        assert int8_ids.tolist() == int8_runner.generate(prompt, new, use_generate_signature=False).tolist()
        assert np.all((int8_ids >= 0) & (int8_ids < VOCABULARY_SIZE))
        agree += int(np.sum(float_ids[prompt.size :] == int8_ids[prompt.size :]))
        total += new
        prompts_equal += int(np.array_equal(float_ids, int8_ids))
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    prompt = lm.preprocessor.tokenize(PROMPTS[1]).numpy()
    padded[0, : prompt.size] = prompt
    inputs = {"token_ids": padded, "length": np.array([prompt.size], np.int32)}
    diff = _max_diff(runner.run("prefill", **inputs)["logits"], int8_runner.run("prefill", **inputs)["logits"])
    print(
        f"\ndynamic int8: {int8_report.size_bytes} bytes (float32 {report.size_bytes}); greedy tokens agreeing "
        f"{agree}/{total}, prompts identical {prompts_equal}/{len(PROMPTS)}; prefill logits max abs diff {diff:.4f}"
    )
    assert int8_report.size_bytes < report.size_bytes
    assert diff < 0.5  # a loose sanity bound: quantization noise, not a broken model


def test_float16_bundle(lm, bundle, float16_bundle):
    report, runner = bundle
    fp16_report, fp16_runner = float16_bundle
    assert all(op.isupper() for op in fp16_report.ops), fp16_report.ops  # no tokenizer: builtins only
    assert sorted(fp16_report.signatures) == ["decode", "generate", "prefill"]
    agree, total = 0, 0
    for text in PROMPTS:
        prompt = lm.preprocessor.tokenize(text).numpy()
        float_ids = runner.generate(prompt, 12)
        fp16_ids = fp16_runner.generate(prompt, 12)
        assert fp16_ids.tolist() == fp16_runner.generate(prompt, 12, use_generate_signature=False).tolist()
        agree += int(np.sum(float_ids[prompt.size :] == fp16_ids[prompt.size :]))
        total += 12
    print(f"\nfloat16: {fp16_report.size_bytes} bytes; greedy tokens agreeing with float32 {agree}/{total}")
    assert agree > total // 2


@pytest.mark.parametrize("driver", ["BoundDecoder", "CompiledDecoder"])
def test_step_wise_loop_keeps_the_caches_out_of_python(lm, bundle, driver):
    """BoundDecoder (caches in the interpreter) and CompiledDecoder (caches in buffers bound as decode's input and
    output, LiteRT's CompiledModel) give the copying loop's logits and caches, bit for bit."""
    from kerasnlp_lite.export import bound_decoder
    from kerasnlp_lite.export.tflite import make_interpreter

    report, copying = bundle
    with open(report.path, "rb") as f:  # its own runtime: nothing shared with `copying`
        content = f.read()
    if driver == "BoundDecoder":
        decoder = bound_decoder.BoundDecoder(
            make_interpreter(model_content=content, tftext_ops=True), cache_names(NUM_LAYERS), MAX_LENGTH)
    else:
        decoder = bound_decoder.CompiledDecoder(content, cache_names(NUM_LAYERS), MAX_LENGTH)
    prompt = lm.preprocessor.tokenize(PROMPTS[1]).numpy()
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, : prompt.size] = prompt
    length = np.array([prompt.size], np.int32)
    out = copying.run("prefill", token_ids=padded, length=length)
    logits = decoder.prefill(padded, length)
    np.testing.assert_array_equal(logits, out["logits"][0])
    for step in range(10):
        token = int(np.argmax(logits))
        index = prompt.size + step
        out = copying.run("decode", token_id=np.array([[token]], np.int32), cache_index=np.array([index], np.int32),
                          **{name: out[name] for name in cache_names(NUM_LAYERS)})
        logits = decoder.decode(token, index)
        np.testing.assert_array_equal(logits, out["logits"][0])
    kept = decoder.caches()
    for name in cache_names(NUM_LAYERS):
        np.testing.assert_array_equal(kept[name], out[name])
    assert np.any(kept["key_cache_0"][:, :, prompt.size + 9] != 0)  # the last step's slot was written
    # A second prefill starts from its own caches, not from the first generation's.
    np.testing.assert_array_equal(decoder.prefill(padded, length), copying.run(
        "prefill", token_ids=padded, length=length)["logits"][0])


def test_runner_step_wise_generate_uses_compiled_model(lm, bundle):
    """LiteRunner's step-wise loop runs on CompiledDecoder (the file has tf-text custom ops in its text
    signatures; CompiledModel still loads it) and matches the in-graph `generate` loop, twice in a row."""
    report, copying = bundle
    runner = LiteRunner(report.path, num_threads=1)
    prompt = lm.preprocessor.tokenize(PROMPTS[1]).numpy()
    ids = runner.generate(prompt, 12, use_generate_signature=False)
    assert runner.step_decoder == "CompiledDecoder", runner.step_decoder_fallback_reason
    assert ids.tolist() == runner.generate(prompt, 12, use_generate_signature=False).tolist()
    assert ids.tolist() == copying.generate(prompt, 12).tolist()


def _int8_tables(content, vocabulary_size):
    """Buffers of int8 tensors shaped [V, D] and the ops reading them: {buffer: set of op names}."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in schema.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(bytearray(content), 0)
    tables = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            for i in op.InputsAsNumpy():
                tensor = graph.Tensors(int(i)) if i >= 0 else None
                if tensor is not None and tensor.Type() == schema.TensorType.INT8 and (
                        tensor.ShapeLength() == 2 and tensor.Shape(0) == vocabulary_size):
                    op_name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
                    tables.setdefault(tensor.Buffer(), set()).add(op_name)
    return tables


def test_dynamic_int8_stores_the_tied_embedding_once(int8_bundle):
    report, runner = int8_bundle
    with open(report.path, "rb") as f:
        tables = _int8_tables(f.read(), VOCABULARY_SIZE)
    # One [V, D] int8 buffer, read by the lookup and by the logits (today's converter writes two).
    assert len(tables) == 1, tables
    assert "FULLY_CONNECTED" in next(iter(tables.values())) and report.metadata["tied_embedding_stored_once"]


def test_litert_quantizer_int4_with_merged_copies(lm, bundle, tmp_path):
    """litert-quantizer's int4 file copies shared weights per subgraph; dedupe_buffers merges them exactly."""
    quantizer = pytest.importorskip("litert_quantizer.quantizer")
    from litert_quantizer import qtyping, recipe_manager

    from kerasnlp_lite.export.format import stamp_checksum
    from kerasnlp_lite.export.weight_sharing import dedupe_buffers

    report, runner = bundle
    manager = recipe_manager.RecipeManager()
    manager.add_dynamic_config(regex=".*", operation_name=qtyping.TFLOperationName.FULLY_CONNECTED, num_bits=4,
                               granularity=qtyping.QuantGranularity.BLOCKWISE_32)
    qt = quantizer.Quantizer(report.path)
    qt.load_quantization_recipe(manager.get_quantization_recipe())
    quantized = bytes(qt.quantize().quantized_model)
    merged, saved = dedupe_buffers(quantized)
    assert saved > 0 and len(merged) < len(quantized) - saved // 2
    # The quantizer rewrote the weights, so the export's checksum no longer matches until restamped.
    with pytest.raises(ValueError, match="checksum mismatch"):
        LiteRunner(merged)
    merged = stamp_checksum(merged)
    copies, single = LiteRunner(quantized, verify_checksum=False), LiteRunner(merged)
    prompt = lm.preprocessor.tokenize(PROMPTS[2]).numpy()
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, : prompt.size] = prompt
    inputs = {"token_ids": padded, "length": np.array([prompt.size], np.int32)}
    np.testing.assert_array_equal(copies.run("prefill", **inputs)["logits"], single.run("prefill", **inputs)["logits"])
    assert single.generate(prompt, 8).tolist() == copies.generate(prompt, 8).tolist()
    assert single.generate(prompt, 8, use_generate_signature=False).tolist() == copies.generate(prompt, 8).tolist()
    diff = _max_diff(runner.run("prefill", **inputs)["logits"], single.run("prefill", **inputs)["logits"])
    print(f"\nint4 (litert-quantizer, b32): {len(quantized)} -> {len(merged)} bytes merged; float32 "
          f"{report.size_bytes}; prefill logits max abs diff vs float32 {diff:.4f}")
    assert diff < 0.5  # a loose sanity bound: quantization noise, not a broken model


def test_int4_export(lm, bundle, tmp_path, monkeypatch):
    """quantize="int4": litert-quantizer after a float32 conversion; int4 feed-forward, int8 attention and logits
    in every signature (none left float: a float logits layer read per token cost GPT-2 small 60% more time)."""
    pytest.importorskip("litert_quantizer")
    from kerasnlp_lite.export import lm_bundle

    report, runner = bundle
    with open(report.path, "rb") as f:
        float_content = f.read()
    asked = []

    def convert(*args, **kwargs):  # the float32 conversion the fixture already made: no second conversion here
        asked.append(kwargs["quantize"])
        return float_content

    monkeypatch.setattr(lm_bundle, "convert_bundle_in_child", convert)
    path = tmp_path / "int4.tflite"
    int4 = export_causal_lm(lm, path, max_length=MAX_LENGTH, quantize="int4", check=False)
    assert asked == [None]
    # 2 blocks x 2 feed-forward layers int4, 2 x 4 attention projections + the logits layer int8, per signature
    # that runs the model (prefill, decode, generate's first step and its loop body).
    assert int4.metadata["fully_connected_weights"] == {"int4": 4 * 4, "int8": 9 * 4, "float32": 0}
    # (the SentencePiece model and the float lookup table dominate this tiny file)
    assert int4.quantize == "int4" and int4.size_bytes < report.size_bytes
    single = LiteRunner(str(path), num_threads=1)  # the checksum was stamped after quantizing
    assert single.metadata["quantize"] == "int4"
    prompt = lm.preprocessor.tokenize(PROMPTS[1]).numpy()
    assert single.generate(prompt, 8).tolist() == single.generate(prompt, 8, use_generate_signature=False).tolist()
    padded = np.zeros((1, MAX_LENGTH), np.int32)
    padded[0, : prompt.size] = prompt
    inputs = {"token_ids": padded, "length": np.array([prompt.size], np.int32)}
    diff = _max_diff(runner.run("prefill", **inputs)["logits"], single.run("prefill", **inputs)["logits"])
    assert diff < 0.5, diff  # quantization noise, not a broken model
    assert isinstance(single.generate(PROMPTS[1], 4), str)


def test_int4_export_refusals(lm, monkeypatch):
    import sys

    with pytest.raises(ValueError, match=r"`quantize` must be one of .*'int4'.* got 'int3'"):
        export_causal_lm(lm, "unused.tflite", max_length=MAX_LENGTH, quantize="int3")
    monkeypatch.setitem(sys.modules, "litert_quantizer", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install litert-quantizer"):
        export_causal_lm(lm, "unused.tflite", max_length=MAX_LENGTH, quantize="int4")
