"""Census cases: export functions and `LiteRunner` on the two shared files (a generation bundle and a
string-in classifier), raw `prefill` / `decode` calls, corrupted and truncated files."""

import keras
import numpy as np

from kerasnlp_lite import export
from tests.census.harness import Case
from tests.census.shared import GEN_MAX_LENGTH

IDS = "ids out of range"
CACHE = "cache_index"
FILE = "corrupted file"
DEVICE = "on device"
ARG = "argument"
TEXT = "NUL / invalid UTF-8"


def _zeros(spec):
    return np.zeros(spec["shape"], {"int32": np.int32, "float32": np.float32}.get(spec["dtype"], np.float32))


def _decode(s, **changes):
    runner = s.lm_runner
    spec = runner.signatures["decode"]["inputs"]
    inputs = {name: _zeros(item) for name, item in spec.items()}
    for name, value in changes.items():
        inputs[name] = np.full(spec[name]["shape"], value, np.int32)
    return runner.run("decode", **inputs)


def _prefill(s, token):
    runner = s.lm_runner
    token_ids = np.zeros((1, GEN_MAX_LENGTH), np.int32)
    token_ids[0, :2] = [5, token]
    return runner.run("prefill", token_ids=token_ids, length=np.array([2], np.int32))


def _generate(s, prompt=(5, 6), **kwargs):
    return s.lm_runner.generate(list(prompt), max_new_tokens=kwargs.pop("max_new_tokens", 4), **kwargs)


def _runner_of(path):
    return export.LiteRunner(path)


def _corrupted_generate(s, **damage):
    runner = _runner_of(s.corrupted_copy(s.lm_bundle, "damaged.tflite", **damage))
    return runner.generate([5, 6], max_new_tokens=3)


def cases():
    C = Case
    lm_files = [
        C("export.export_causal_lm", "max_length=0",
          lambda s: export.export_causal_lm(s.causal_lm, s.path("x.tflite"), max_length=0)),
        C("export.export_causal_lm", "max_length > max_sequence_length",
          lambda s: export.export_causal_lm(s.causal_lm, s.path("x.tflite"), max_length=64)),
        C("export.export_causal_lm", "quantize='int3'",
          lambda s: export.export_causal_lm(s.causal_lm, s.path("x.tflite"), max_length=8, quantize="int3")),
        C("export.export_causal_lm", "format='onnx'",
          lambda s: export.export_causal_lm(s.causal_lm, s.path("x.tflite"), max_length=8, format="onnx")),
        C("export.export_causal_lm", "a TextClassifier",
          lambda s: export.export_causal_lm(s.classifier, s.path("x.tflite"), max_length=8)),
        C("export.export_causal_lm", "max_stop_tokens=0",
          lambda s: export.export_causal_lm(s.causal_lm, s.path("x.tflite"), max_length=8, max_stop_tokens=0)),
        C("export.export_seq2seq_lm", "max_source_length=0",
          lambda s: export.export_seq2seq_lm(s.t5_lm, s.path("x.tflite"), max_length=4, max_source_length=0)),
        C("export.export_seq2seq_lm", "a CausalLM",
          lambda s: export.export_seq2seq_lm(s.causal_lm, s.path("x.tflite"), max_length=4, max_source_length=4)),
        C("export.export_litertlm", "prefill_lengths=(0,)",
          lambda s: export.export_litertlm(s.causal_lm, s.path("x.litertlm"), 8, prefill_lengths=(0,))),
        C("export.export_litertlm", "a Seq2SeqLM",
          lambda s: export.export_litertlm(s.t5_lm, s.path("x.litertlm"), 8)),
        C("export.export_tflite", "quantize='bogus'",
          lambda s: export.export_tflite(s.classifier, s.path("x.tflite"), quantize="bogus")),
        C("export.export_tflite", "signatures=['nope']",
          lambda s: export.export_tflite(s.classifier, s.path("x.tflite"), signatures=["nope"])),
        C("export.export_tflite", "a Dense layer", lambda s: export.export_tflite(keras.layers.Dense(2),
                                                                                  s.path("x.tflite"))),
        C("export.export_saved_model", "signatures='generate' for a classifier",
          lambda s: export.export_saved_model(s.classifier, s.path("sm"), signatures="generate")),
        C("export.export_saved_model", "a string instead of a model",
          lambda s: export.export_saved_model("model", s.path("sm2"))),
        C("export.available_signatures", "a Dense layer", lambda s: export.available_signatures(keras.layers.Dense(2))),
        C("export.tflite_op_names", "bytes that are not a TFLite file",
          lambda s: export.tflite_op_names(b"not a flatbuffer at all")),
        C("export.run_tflite", "bytes that are not a TFLite file",
          lambda s: export.run_tflite(b"garbage", {"x": np.zeros(1)})),
        C("export.LiteRunner", "a missing file", lambda s: _runner_of(s.path("missing.tflite")), kind=FILE),
        C("export.LiteRunner", "random bytes", lambda s: _runner_of(b"\x00" * 64), kind=FILE),
        C("export.LiteRunner", "a bundle truncated to half", lambda s: _runner_of(
            s.corrupted_copy(s.lm_bundle, "half.tflite", keep_bytes=len(open(s.lm_bundle, "rb").read()) // 2)),
          kind=FILE, timeout=400),
        C("export.LiteRunner", "a bundle truncated to 100 bytes",
          lambda s: _runner_of(s.corrupted_copy(s.lm_bundle, "tiny.tflite", keep_bytes=100)), kind=FILE),
        C("export.LiteRunner.generate", "a bundle with 64 bytes overwritten at 60%",
          lambda s: _corrupted_generate(s, flip_at=int(len(open(s.lm_bundle, "rb").read()) * 0.6)), kind=FILE,
          expect="error when loading or running (never silently different tokens)", timeout=120),
        C("export.LiteRunner.generate", "temperature=0 with top_k",
          lambda s: _generate(s, sampler="top_k", k=5, temperature=0.0), kind=DEVICE),
        C("export.LiteRunner.generate", "temperature=-1 with top_k",
          lambda s: _generate(s, sampler="top_k", k=5, temperature=-1.0), kind=DEVICE),
        C("export.LiteRunner.generate", "stop_token_ids=[V]",
          lambda s: _generate(s, stop_token_ids=[s.sp_size]), kind=DEVICE),
        C("export.LiteRunner.generate", "stop_token_ids=[-1]", lambda s: _generate(s, stop_token_ids=[-1]),
          kind=DEVICE),
        C("export.LiteRunner.generate", "prompt id == V", lambda s: _generate(s, prompt=(5, s.sp_size)), kind=IDS),
        C("export.LiteRunner.generate", "prompt id -1 (prefill/decode loop)",
          lambda s: _generate(s, prompt=(5, -1), use_generate_signature=False), kind=IDS),
        C("export.LiteRunner.generate", "float prompt ids", lambda s: _generate(s, prompt=(5.0, 6.5)), kind=IDS),
        C("export.LiteRunner.generate", "max_new_tokens=0", lambda s: _generate(s, max_new_tokens=0), kind=DEVICE),
        C("export.LiteRunner.generate", "a prompt longer than max_length",
          lambda s: _generate(s, prompt=[5] * (GEN_MAX_LENGTH + 2)), kind=DEVICE),
        C("export.LiteRunner.generate", "sampler='beam'", lambda s: _generate(s, sampler="beam"), kind=DEVICE),
        C("export.LiteRunner.generate", "seed=-1 with top_k", lambda s: _generate(s, sampler="top_k", k=3, seed=-1),
          kind=DEVICE),
        C("export.LiteRunner.generate", "k=0 with top_k", lambda s: _generate(s, sampler="top_k", k=0), kind=DEVICE),
        C("export.LiteRunner.generate", "more stop ids than the file's slots",
          lambda s: _generate(s, stop_token_ids=[1, 2, 3, 4, 5, 6]), kind=DEVICE),
        C("export.LiteRunner.run", "raw prefill with token id == V", lambda s: _prefill(s, s.sp_size), kind=IDS),
        C("export.LiteRunner.run", "raw prefill with token id -1", lambda s: _prefill(s, -1), kind=IDS),
        C("export.LiteRunner.run", "raw decode with cache_index == L",
          lambda s: _decode(s, cache_index=GEN_MAX_LENGTH, token_id=5), kind=CACHE),
        C("export.LiteRunner.run", "raw decode with cache_index -1", lambda s: _decode(s, cache_index=-1, token_id=5),
          kind=CACHE),
        C("export.LiteRunner.run", "raw decode with token id == V",
          lambda s: _decode(s, cache_index=0, token_id=s.sp_size), kind=IDS),
        C("export.LiteRunner.run", "unknown signature 'encode'", lambda s: s.lm_runner.run("encode")),
        C("export.LiteRunner.run", "prefill without `length`",
          lambda s: s.lm_runner.run("prefill", token_ids=np.zeros((1, GEN_MAX_LENGTH), np.int32))),
        C("export.LiteRunner.run", "prefill token_ids as float32",
          lambda s: s.lm_runner.run("prefill", token_ids=np.zeros((1, GEN_MAX_LENGTH), np.float32),
                                    length=np.array([1], np.int32))),
        C("export.LiteRunner.run", "prefill token_ids of shape [1, 3]",
          lambda s: s.lm_runner.run("prefill", token_ids=np.zeros((1, 3), np.int32), length=np.array([1], np.int32))),
        C("export.LiteRunner.tokenize", "text with a NUL (on device)",
          lambda s: s.lm_runner.detokenize(s.lm_runner.tokenize("the\x00cat")), kind=TEXT,
          expect="documented: as the Keras SentencePiece tokenizer and the sentencepiece library (NUL is the "
                 "unknown piece)", check=lambda out: out == "the ⁇ cat"),
        C("export.LiteRunner.tokenize", "invalid UTF-8 bytes (on device)",
          lambda s: s.lm_runner.tokenize(b"ab\xff\xfecd"), kind=TEXT),
        C("export.LiteRunner.detokenize", "id == V (on device)",
          lambda s: s.lm_runner.detokenize([5, s.sp_size]), kind=IDS),
        C("export.LiteRunner.detokenize", "id -1 (on device)", lambda s: s.lm_runner.detokenize([5, -1]), kind=IDS),
        C("export.LiteRunner.classify", "a generation bundle (no classify signature)",
          lambda s: s.lm_runner.classify(["a"])),
        C("export.LiteRunner.classify", "no texts", lambda s: s.encoder_runner.classify([]), timeout=400),
        C("export.LiteRunner.classify", "ints instead of texts", lambda s: s.encoder_runner.classify([1, 2])),
        C("export.LiteRunner.classify", "invalid UTF-8 bytes (on device)",
          lambda s: s.encoder_runner.classify([b"ab\xff\xfecd"]), kind=TEXT),
        C("export.LiteRunner.embed", "a classifier file (no embed signature)",
          lambda s: s.encoder_runner.embed(["a cat"])),
        C("export.LiteRunner.generate", "a classifier file (no generation signatures)",
          lambda s: s.encoder_runner.generate("a cat", 3)),
        C("export.run_seq2seq_generate", "a causal LM bundle",
          lambda s: export.run_seq2seq_generate(s.lm_runner, [5, 6], 3)),
        C("export.run_seq2seq_generate", "max_new_tokens=0 on a causal LM bundle",
          lambda s: export.run_seq2seq_generate(s.lm_runner, [5, 6], 0)),
    ]
    return lm_files
