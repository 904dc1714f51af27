"""LiteRT-LM runs our causal LMs: `export_causal_lm(..., format="litertlm")` bundles loaded by `litert_lm.Engine`.

Two bundles, converted once each (in child processes, side by side): (a) a tiny GPT with a SentencePiece
tokenizer (tests/data/tiny_t5/spiece.model, unigram) and (b) the tiny GPT-2 checkpoint with its byte-level
BPE (tests/data/tiny_gpt2, written into the bundle as a Hugging Face tokenizer.json). The engine's tokenizer
must give our ids, and its greedy text (top_k 1, no prompt template) must be `CausalLM.generate`'s.
"""

import concurrent.futures
import os

import keras
import numpy as np
import pytest

litert_lm = pytest.importorskip("litert_lm")
pytest.importorskip("litert_lm_builder")

from kerasnlp_lite.checkpoints import from_hf  # noqa: E402
from kerasnlp_lite.export.lm_bundle import export_causal_lm  # noqa: E402
from kerasnlp_lite.export.litertlm import hf_tokenizer_json, kv_cache_names  # noqa: E402
from kerasnlp_lite.models import CausalLM, GPTBackbone  # noqa: E402
from kerasnlp_lite.models.causal_lm_preprocessor import CausalLMPreprocessor  # noqa: E402
from kerasnlp_lite.tokenizers import SentencePieceTokenizer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.tflite]

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
MAX_LENGTH, NEW_TOKENS = 64, 10
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "It's a small model, trained on nothing; that's fine!",
    "  Two leading spaces,\ttabs and\nnew lines.  ",
    "Numbers like 12, 345 and 2024 (and 3:45).",
    "Unicode: naïve café, Ünïcödé – 東京, emoji 🙂.",
    "x",
]
PROMPTS = [
    "The",
    "A language model predicts",
    "Is it 3:45 or 4:30? Nobody knows",
    "Jack and Kim quizzed six very happy young women",
    "We'll see whether the tokenizer splits words the same way as the reference does, again and again.",
    "unknown café",
]


def _sentencepiece_lm():
    """A tiny GPT over tiny_t5's unigram SentencePiece (108 pieces, </s> = 1), weights scaled up.

    GPT's N(0, 0.02) initialisation makes an untrained model repeat one token; larger weights make the
    greedy continuation depend on every position, so a misplaced key or position shows.
    """
    tokenizer = SentencePieceTokenizer(os.path.join(DATA, "tiny_t5", "spiece.model"))
    keras.utils.set_random_seed(0)
    backbone = GPTBackbone(
        vocabulary_size=tokenizer.vocabulary_size, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
        max_sequence_length=MAX_LENGTH, dropout=0.0,
    )
    rng = np.random.default_rng(0)
    for weight in backbone.weights:
        if "gamma" not in weight.path and "beta" not in weight.path:
            weight.assign(rng.normal(0.0, 0.3, weight.shape).astype("float32"))
    # Start with </s> (as GPT-2 starts with <|endoftext|>), stop at </s>.
    preprocessor = CausalLMPreprocessor(tokenizer, MAX_LENGTH - 1, start_token_id=1, end_token_id=1)
    return CausalLM(backbone, preprocessor=preprocessor)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """{"sentencepiece": (lm, report, engine), "byte_bpe": (...)}: both converted at once (two child processes)."""
    folder = tmp_path_factory.mktemp("litertlm")
    models = {"sentencepiece": _sentencepiece_lm(), "byte_bpe": from_hf(os.path.join(DATA, "tiny_gpt2"), "causal_lm")}
    for name, lm in models.items():  # saved here, one at a time; only the conversions overlap
        lm.save(str(folder / f"{name}.keras"))

    def export(name):
        return export_causal_lm(models[name], str(folder / f"{name}.litertlm"), MAX_LENGTH, format="litertlm")

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reports = dict(zip(models, pool.map(export, models)))
    result = {}
    for name, lm in models.items():
        engine = litert_lm.Engine(reports[name].path, backend=litert_lm.interfaces.CPU(thread_count=1))
        result[name] = (lm, reports[name], engine)
    yield result
    for _, _, engine in result.values():
        engine.close()


def _tokenizer(lm):
    return lm.preprocessor.tokenizer


def _greedy(lm, report, prompt):
    """`CausalLM.generate`'s greedy continuation of `prompt` as text (framing as the bundle's metadata)."""
    tokenizer = _tokenizer(lm)
    ids = lm.preprocessor.prompt_ids([prompt])[0]
    stops = report.metadata["stop_token_ids"]
    out = lm.generate([ids], max_length=len(ids) + _new_tokens(ids), sampler="greedy", stop_token_ids=stops or None)
    new = [int(t) for t, real in zip(out["token_ids"][0][len(ids):], out["padding_mask"][0][len(ids):]) if real]
    new = [t for t in new if t not in stops]
    return tokenizer.detokenize(np.array(new, np.int32)).numpy().decode("utf-8", "replace"), len(ids)


def _new_tokens(ids):
    return min(NEW_TOKENS, MAX_LENGTH - len(ids))  # the context holds prompt + new tokens


def _engine_greedy(engine, prompt, new_tokens):
    session = engine.create_session(
        apply_prompt_template=False, sampler_config=litert_lm.SamplerConfig(top_k=1), max_output_tokens=new_tokens
    )
    try:
        session.run_prefill([prompt])
        return session.run_decode().texts[0]
    finally:
        session.close()


@pytest.mark.parametrize("name", ["sentencepiece", "byte_bpe"])
def test_report(bundles, name):
    lm, report, _ = bundles[name]
    assert list(report.signatures) == ["prefill_1", "prefill_32", "decode"]
    assert report.metadata["tokenizer"] == {"sentencepiece": "sentencepiece", "byte_bpe": "hf"}[name]
    assert report.metadata["start_token_id"] == lm.preprocessor.start_token_id
    assert report.metadata["stop_token_ids"] == [lm.preprocessor.end_token_id]
    assert all(op.isupper() for op in report.ops), report.ops  # builtins only: no Flex, no custom op


@pytest.mark.parametrize("name", ["sentencepiece", "byte_bpe"])
def test_engine_metadata(bundles, name):
    lm, _, engine = bundles[name]
    assert engine.eos_token_ids == [[lm.preprocessor.end_token_id]]
    assert engine.bos_token_id == lm.preprocessor.start_token_id


@pytest.mark.parametrize("name", ["sentencepiece", "byte_bpe"])
def test_engine_tokenizer_matches_ours(bundles, name):
    lm, _, engine = bundles[name]
    for text in TEXTS + PROMPTS:
        assert engine.tokenize(text) == _tokenizer(lm).tokenize(text).numpy().tolist(), text


@pytest.mark.parametrize("name", ["sentencepiece", "byte_bpe"])
def test_engine_greedy_text_matches_generate(bundles, name):
    lm, report, engine = bundles[name]
    lengths = []
    for prompt in PROMPTS:
        expected, length = _greedy(lm, report, prompt)
        lengths.append(length)
        assert _engine_greedy(engine, prompt, _new_tokens(lm.preprocessor.prompt_ids([prompt])[0])) == expected, prompt
    # Short prompts (prefill_1 chunks only; one id: decode only) and long ones (a prefill_32 chunk too).
    assert min(lengths) <= 4 and max(lengths) > 33, lengths


def test_bundle_signatures_follow_litertlm_conventions(bundles):
    """The TFLite model inside: names, shapes and dtypes LiteRT-LM's executor looks up."""
    from ai_edge_litert.interpreter import Interpreter
    from litert_lm_builder import litertlm_builder

    lm, report, _ = bundles["byte_bpe"]
    folder = os.path.join(os.path.dirname(report.path), "unpacked")
    litertlm_builder.unpack(report.path, folder)
    tflites = [os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".tflite")]
    assert len(tflites) == 1, tflites
    signatures = Interpreter(model_path=tflites[0]).get_signature_list()
    backbone = lm.backbone
    caches = kv_cache_names(backbone.num_layers)
    assert sorted(signatures) == ["decode", "prefill_1", "prefill_32"]
    for name, signature in signatures.items():
        assert sorted(signature["inputs"]) == sorted(["tokens", "input_pos"] + caches)
        expected_outputs = caches + (["logits"] if name == "decode" else [])
        assert sorted(signature["outputs"]) == sorted(expected_outputs)
    runner = Interpreter(model_path=tflites[0]).get_signature_runner("decode")
    details = runner.get_input_details()
    assert tuple(details["kv_cache_k_0"]["shape"]) == (1, backbone.num_heads, MAX_LENGTH, backbone.head_dim)
    assert tuple(details["input_pos"]["shape"]) == (1,) and tuple(details["tokens"]["shape"]) == (1, 1)
    assert tuple(runner.get_output_details()["logits"]["shape"]) == (1, 1, backbone.vocabulary_size)


def test_hf_tokenizer_json_matches_the_tokenizers_package(bundles):
    """The tokenizer.json we write, read by the `tokenizers` package (the reference LiteRT-LM embeds)."""
    tokenizers = pytest.importorskip("tokenizers")
    lm, _, _ = bundles["byte_bpe"]
    import json

    reference = tokenizers.Tokenizer.from_str(json.dumps(hf_tokenizer_json(_tokenizer(lm))))
    for text in TEXTS:
        assert reference.encode(text).ids == _tokenizer(lm).tokenize(text).numpy().tolist(), text
